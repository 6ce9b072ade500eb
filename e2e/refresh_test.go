package e2e

import (
	"context"
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
