package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	"gotest.tools/v3/icmd"
)

// inspect returns the service as the manager stores it.
func inspect(t *testing.T, s *sandbox.Swarm, name string) swarm.Service {
	t.Helper()
	res, err := s.Manager.Client.ServiceInspect(context.Background(), name, client.ServiceInspectOptions{})
	assert.NilError(t, err)
	return res.Service
}

// createService runs `docker service create -d -q --name NAME ARGS...` and
// returns the service.
func createService(t *testing.T, s *sandbox.Swarm, cli *sandbox.CLI, name string, args ...string) swarm.Service {
	t.Helper()
	cmd := append([]string{"service", "create", "-d", "-q", "--name", name}, args...)
	cli.Run(cmd...).Assert(t, icmd.Success)
	return inspect(t, s, name)
}

// authByService maps service names to the X-Registry-Auth class of each
// update call the proxy saw for them.
func authByService(t *testing.T, s *sandbox.Swarm, p *sandbox.Proxy) map[string][]string {
	t.Helper()
	names := map[string]string{}
	res, err := s.Manager.Client.ServiceList(context.Background(), client.ServiceListOptions{})
	assert.NilError(t, err)
	for _, svc := range res.Items {
		names[svc.ID] = svc.Spec.Name
	}
	out := map[string][]string{}
	for _, c := range p.Calls() {
		id, ok := strings.CutSuffix(strings.TrimPrefix(c.Path, "/services/"), "/update")
		if c.Method != "POST" || !ok || strings.Contains(id, "/") {
			continue
		}
		name := names[id]
		if name == "" {
			name = id
		}
		out[name] = append(out[name], c.RegistryAuth)
	}
	return out
}

// waitForTaskOn waits for a task of the service in the state on the node (""
// for any node); on time-out it fails with every task's state and error.
func waitForTaskOn(t *testing.T, s *sandbox.Swarm, service, nodeID string, want swarm.TaskState, timeout time.Duration) swarm.Task {
	t.Helper()
	var found swarm.Task
	err := sandbox.Poll(context.Background(), timeout, func() error {
		var seen []string
		for _, task := range tasks(t, s, service) {
			if nodeID != "" && task.NodeID != nodeID {
				continue
			}
			if task.Status.State == want {
				found = task
				return nil
			}
			seen = append(seen, fmt.Sprintf("%s on %s: %s %q", task.ID, task.NodeID, task.Status.State, task.Status.Err))
		}
		return fmt.Errorf("no %s task yet: %s", want, strings.Join(seen, "; "))
	})
	assert.NilError(t, err, "service %s", service)
	return found
}

// runningTasks maps node IDs to the IDs of the service's running tasks there.
func runningTasks(t *testing.T, s *sandbox.Swarm, service string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, task := range tasks(t, s, service) {
		if task.Status.State == swarm.TaskStateRunning {
			out[task.NodeID] = append(out[task.NodeID], task.ID)
		}
	}
	return out
}

// authsConfig is a config.json with plain credentials for the registries.
func authsConfig(regs ...*sandbox.Registry) map[string]any {
	auths := map[string]any{}
	for _, r := range regs {
		user, pass := r.User, r.Password()
		if user == "" {
			user, pass = "anyone", "anything"
		}
		auths[r.Addr] = map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	}
	return map[string]any{"auths": auths}
}

// refreshRow is one line of `refresh --format json`.
type refreshRow struct {
	ID, Service, Image, Registry, Source, Outcome, Reason, Action string
}

// refreshJSON runs refresh with --format json and returns its rows by service.
func refreshJSON(t *testing.T, cli *sandbox.CLI, expected icmd.Expected, args ...string) map[string]refreshRow {
	t.Helper()
	res := cli.Run(append([]string{"swarmauth", "refresh", "--format", "json"}, args...)...)
	res.Assert(t, expected)
	rows := map[string]refreshRow{}
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout()), "\n") {
		if line == "" {
			continue
		}
		var r refreshRow
		assert.NilError(t, json.Unmarshal([]byte(line), &r), line)
		rows[r.Service] = r
	}
	return rows
}
