package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// removeStack removes a stack's services, secrets, configs and networks when
// the test ends.
func removeStack(t *testing.T, cli *sandbox.CLI, name string) {
	t.Cleanup(func() { cli.Run("stack", "rm", name) })
}

// stackState is everything a stack made, with the stack's name and object IDs
// replaced by placeholders, for comparing two stacks.
func stackState(t *testing.T, s *sandbox.Swarm, namespace string) map[string]string {
	t.Helper()
	ctx := context.Background()
	api := s.Manager.Client
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace="+namespace)
	netNames := map[string]string{}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	assert.NilError(t, err)
	for _, n := range nets.Items {
		netNames[n.ID] = n.Name
	}
	norm := func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		assert.NilError(t, err)
		out := regexp.MustCompile(`"(SecretID|ConfigID)": "[a-z0-9]+"`).ReplaceAllString(string(b), `"$1": "ID"`)
		out = strings.ReplaceAll(out, `"`+namespace+`_`, `"STACK_`)
		out = strings.ReplaceAll(out, `"com.docker.stack.namespace": "`+namespace+`"`, `"com.docker.stack.namespace": "STACK"`)
		return out
	}
	state := map[string]string{}
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: filter})
	assert.NilError(t, err)
	for _, svc := range svcs.Items {
		spec := svc.Spec
		for i, n := range spec.TaskTemplate.Networks {
			spec.TaskTemplate.Networks[i].Target = netNames[n.Target]
		}
		state["service "+strings.TrimPrefix(spec.Name, namespace+"_")] = norm(spec)
	}
	for _, n := range nets.Items {
		if n.Labels["com.docker.stack.namespace"] == namespace {
			full, err := api.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
			assert.NilError(t, err)
			nw := full.Network
			delete(nw.Options, "com.docker.network.driver.overlay.vxlanid_list") // allocated by the swarm
			state["network "+strings.TrimPrefix(nw.Name, namespace+"_")] = norm(map[string]any{
				"Driver": nw.Driver, "Options": nw.Options, "Labels": nw.Labels, "Attachable": nw.Attachable,
				"Internal": nw.Internal, "Scope": nw.Scope,
			})
		}
	}
	secrets, err := api.SecretList(ctx, client.SecretListOptions{Filters: filter})
	assert.NilError(t, err)
	for _, sec := range secrets.Items {
		state["secret "+strings.TrimPrefix(sec.Spec.Name, namespace+"_")] = norm(sec.Spec)
	}
	configs, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: filter})
	assert.NilError(t, err)
	for _, c := range configs.Items {
		state["config "+strings.TrimPrefix(c.Spec.Name, namespace+"_")] = norm(c.Spec)
	}
	return state
}

// TestStackDeployParity deploys one compose file with `docker stack deploy`
// and with `docker swarmauth stack deploy`, as two stacks, and compares every
// service, network, secret and config spec they produce.
func TestStackDeployParity(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "parity/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	compose, err := filepath.Abs("testdata/parity/compose.yml")
	assert.NilError(t, err)

	deploy := func(args ...string) {
		cmd := cli.Command(args...)
		cmd.Env = append(cmd.Env, "IMAGE="+ref)
		cmd.Dir = filepath.Dir(compose)
		icmd.RunCmd(cmd).Assert(t, icmd.Success)
	}
	// One after the other: the two stacks would publish the same ports.
	removeStack(t, cli, "dockers")
	deploy("stack", "deploy", "-c", compose, "dockers")
	theirs := stackState(t, s, "dockers")
	cli.Run("stack", "rm", "dockers").Assert(t, icmd.Success)
	waitStackGone(t, s, "dockers")

	removeStack(t, cli, "ours")
	deploy("swarmauth", "stack", "deploy", "-c", compose, "ours")
	ours := stackState(t, s, "ours")
	assert.Check(t, len(theirs) >= 8, "docker's stack made only %d objects", len(theirs))
	for k, v := range theirs {
		assert.Check(t, is.Equal(ours[k], v), "%s differs", k)
	}
	for k := range ours {
		_, ok := theirs[k]
		assert.Check(t, ok, "%s exists only in ours", k)
	}
}

// waitStackGone waits until the stack's services and networks are removed
// (docker removes networks once their tasks are gone).
func waitStackGone(t *testing.T, s *sandbox.Swarm, namespace string) {
	t.Helper()
	ctx := context.Background()
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace="+namespace)
	err := sandbox.Poll(ctx, 60*time.Second, func() error {
		svcs, err := s.Manager.Client.ServiceList(ctx, client.ServiceListOptions{Filters: filter})
		if err != nil {
			return err
		}
		nets, err := s.Manager.Client.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			return err
		}
		if n := len(svcs.Items) + len(nets.Items); n > 0 {
			return fmt.Errorf("%d services and networks of %s left", n, namespace)
		}
		return nil
	})
	assert.NilError(t, err)
}
