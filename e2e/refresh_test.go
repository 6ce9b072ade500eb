package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// TestRefreshMissionStory is the mission's story on a multi-node swarm: a
// private image, a service holding credentials, the registry password
// rotated and the CLI's store updated, a fresh worker whose task is rejected
// with "No such image"; after `docker swarmauth refresh` the new worker pulls
// and runs the image, and no running task anywhere was restarted.
func TestRefreshMissionStory(t *testing.T) {
	cases := []struct {
		name string
		// prepare sets the CLI's store up for the current password; rotate
		// changes the password and updates the store.
		prepare func(t *testing.T, cli *sandbox.CLI) (rotate func())
		source  string
	}{
		{
			name: "docker login",
			prepare: func(t *testing.T, cli *sandbox.CLI) func() {
				cli.Login(sb.Private)
				return func() {
					assert.NilError(t, sb.Private.SetPassword("pw-"+time.Now().Format("150405.000000")))
					cli.Login(sb.Private)
				}
			},
			source: "file",
		},
		{
			name: "credential helper with rotating tokens",
			prepare: func(t *testing.T, cli *sandbox.CLI) func() {
				h := cli.InstallHelper("tokens")
				h.SetCredential(sb.Private.Addr, sb.Private.User, sb.Private.Password())
				cli.WriteConfig(map[string]any{"credHelpers": map[string]string{sb.Private.Addr: "tokens"}})
				return func() {
					// The token expires: the registry takes only the new one,
					// which the helper now hands out.
					token := "token-" + time.Now().Format("150405.000000")
					assert.NilError(t, sb.Private.SetPassword(token))
					h.SetCredential(sb.Private.Addr, sb.Private.User, token)
				}
			},
			source: "credHelper:tokens",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := cluster(t)
			ref, err := s.PushImage(ctx, sb.Private, "story/app:v1")
			assert.NilError(t, err)
			cli := s.NewCLI(t)
			rotate := tc.prepare(t, cli)

			name := serviceName(t, s, "app")
			// Global: every node runs one task, so a node that joins gets one.
			createService(t, s, cli, name, "--with-registry-auth", "--mode", "global", ref)
			for _, e := range append([]*sandbox.Engine{s.Manager}, s.Workers...) {
				id, err := e.NodeID(ctx)
				assert.NilError(t, err)
				waitForTaskOn(t, s, name, id, swarm.TaskStateRunning, 90*time.Second)
			}
			before := runningTasks(t, s, name)

			rotate()

			fresh, err := s.AddWorker(ctx)
			assert.NilError(t, err)
			t.Cleanup(func() { assert.Check(t, s.RemoveWorker(context.Background(), fresh)) })
			freshID, err := fresh.NodeID(ctx)
			assert.NilError(t, err)
			rejected := waitForTaskOn(t, s, name, freshID, swarm.TaskStateRejected, 90*time.Second)
			assert.Check(t, is.Contains(rejected.Status.Err, "No such image"))

			cli.Proxy.Reset()
			rows := refreshJSON(t, cli, icmd.Success, name)
			assert.Check(t, is.Equal(rows[name].Outcome, "refreshed"))
			assert.Check(t, is.Equal(rows[name].Source, tc.source))
			assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy)[name], []string{sandbox.AuthCredentials}))

			waitForTaskOn(t, s, name, freshID, swarm.TaskStateRunning, 90*time.Second)

			// Tasks that ran before still run, with the same IDs, and the
			// old nodes got no new task.
			after := runningTasks(t, s, name)
			for node, ids := range before {
				assert.Check(t, is.DeepEqual(after[node], ids), "node %s", node)
			}
			for _, task := range tasks(t, s, name) {
				if task.NodeID != freshID {
					assert.Check(t, is.Contains(before[task.NodeID], task.ID), "new task %s on old node %s", task.ID, task.NodeID)
				}
			}
			labels := inspect(t, s, name).Spec.Labels
			assert.Check(t, is.Equal(labels["swarmauth.registry"], sb.Private.Addr))
			assert.Check(t, is.Equal(labels["swarmauth.registry-auth"], "attached"))
			assert.Check(t, labels["swarmauth.refreshed-at"] != "")
		})
	}
}

// TestRefreshKeepsForeignImageStrings: a service created by another tool may
// name its image in a form the docker CLI would not ("HOST/repo" without a
// tag). The Go client rewrites such an image on update, which would restart
// every task; refresh must send it back untouched.
func TestRefreshKeepsForeignImageStrings(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Private, "foreign/app:latest")
	assert.NilError(t, err)
	untagged := strings.TrimSuffix(ref, ":latest")
	name := serviceName(t, s, "foreign")
	one := uint64(1)
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: untagged}},
		Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
	}
	rawCreateService(t, s, spec)
	task := waitForTask(t, s, name, swarm.TaskStateRunning)

	cli := s.NewCLI(t)
	cli.WriteConfig(authsConfig(sb.Private))
	rows := refreshJSON(t, cli, icmd.Success, name)
	assert.Check(t, is.Equal(rows[name].Outcome, "refreshed"))

	got := inspect(t, s, name)
	assert.Check(t, is.Equal(got.Spec.TaskTemplate.ContainerSpec.Image, untagged))
	assert.Check(t, is.Equal(got.Spec.Labels["swarmauth.registry-auth"], "attached"))
	// Give the orchestrator a moment to act on the update, should it want to.
	time.Sleep(2 * time.Second)
	assert.Check(t, is.DeepEqual(runningTasks(t, s, name), map[string][]string{task.NodeID: {task.ID}}))
	assert.Check(t, is.Equal(len(tasks(t, s, name)), 1), "a task was replaced")
}

// rawCreateService creates a service with the spec exactly as given, as a
// tool other than the docker CLI would (the Go client normalises the image).
func rawCreateService(t *testing.T, s *sandbox.Swarm, spec swarm.ServiceSpec) {
	t.Helper()
	body, err := json.Marshal(spec)
	assert.NilError(t, err)
	socket := strings.TrimPrefix(s.Manager.Host, "unix://")
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", socket)
	}}}
	resp, err := hc.Post("http://docker/v1.41/services/create", "application/json", bytes.NewReader(body))
	assert.NilError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	assert.Assert(t, is.Equal(resp.StatusCode, http.StatusCreated), string(b))
}
