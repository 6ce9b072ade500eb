package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// serviceName returns a name unique to the test, and removes the service when
// the test ends.
func serviceName(t *testing.T, s *sandbox.Swarm, suffix string) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	name = strings.Trim(name, "-") + "-" + suffix
	t.Cleanup(func() {
		_, _ = s.Manager.Client.ServiceRemove(context.Background(), name, client.ServiceRemoveOptions{})
	})
	return name
}

// tasks lists the tasks of a service.
func tasks(t *testing.T, s *sandbox.Swarm, service string) []swarm.Task {
	t.Helper()
	res, err := s.Manager.Client.TaskList(context.Background(), client.TaskListOptions{
		Filters: client.Filters{}.Add("service", service),
	})
	assert.NilError(t, err)
	return res.Items
}

// waitForTask waits until the service has a task in the wanted state, on any
// node, and returns it.
func waitForTask(t *testing.T, s *sandbox.Swarm, service string, want swarm.TaskState) swarm.Task {
	t.Helper()
	return waitForTaskOn(t, s, service, "", want, 90*time.Second)
}

// TestPrivateImageRunsOnFreshWorker is the sandbox's acceptance test: a
// multi-node swarm forms, an image goes to the registry that needs a login,
// and a worker that joined afterwards (so has never seen the image) pulls it
// with the credentials stored in the service and runs it. Without stored
// credentials the same pull is rejected, which shows the registry really
// demands them.
func TestPrivateImageRunsOnFreshWorker(t *testing.T) {
	ctx := context.Background()
	s := cluster(t)
	ref, err := s.PushImage(ctx, sb.Private, "acceptance/app:v1")
	assert.NilError(t, err)

	worker, err := s.AddWorker(ctx)
	assert.NilError(t, err)
	t.Cleanup(func() { assert.Check(t, s.RemoveWorker(context.Background(), worker)) })
	workerID, err := worker.NodeID(ctx)
	assert.NilError(t, err)
	nodes, err := s.Manager.Client.NodeList(ctx, client.NodeListOptions{})
	assert.NilError(t, err)
	assert.Check(t, is.Len(nodes.Items, 1+len(s.Workers)))

	cli := s.NewCLI(t)
	cli.Login(sb.Private)

	t.Run("without registry auth the pull is rejected", func(t *testing.T) {
		name := serviceName(t, s, "noauth")
		cli.Run("service", "create", "-d", "-q", "--name", name, "--constraint", "node.id=="+workerID, ref).Assert(t, icmd.Success)
		task := waitForTask(t, s, name, swarm.TaskStateRejected)
		assert.Check(t, is.Contains(task.Status.Err, "No such image"))
	})

	t.Run("with registry auth the worker pulls and runs it", func(t *testing.T) {
		name := serviceName(t, s, "auth")
		cli.Proxy.Reset()
		cli.Run("service", "create", "-d", "-q", "--with-registry-auth", "--name", name, "--constraint", "node.id=="+workerID, ref).Assert(t, icmd.Success)
		task := waitForTask(t, s, name, swarm.TaskStateRunning)
		assert.Check(t, is.Equal(task.NodeID, workerID))

		var create []sandbox.Call
		for _, c := range cli.Proxy.Calls() {
			if c.Method == "POST" && c.Path == "/services/create" {
				create = append(create, c)
			}
		}
		assert.Assert(t, is.Len(create, 1))
		assert.Check(t, create[0].HasRegistryAuth, "service create carried no X-Registry-Auth")

		// The image came from the registry, pinned by digest: the worker had
		// no image before.
		images, err := worker.Client.ImageList(ctx, client.ImageListOptions{})
		assert.NilError(t, err)
		assert.Assert(t, is.Len(images.Items, 1))
		assert.Check(t, is.Contains(strings.Join(images.Items[0].RepoDigests, ","), sb.Private.Addr+"/acceptance/app@sha256:"))
	})
}

// TestRegistryPasswordRotation checks the sandbox lever later tests rely on:
// after SetPassword the old password no longer logs in and the new one does.
func TestRegistryPasswordRotation(t *testing.T) {
	old := sb.Private.Password()
	assert.Check(t, sb.Private.CheckLogin(sb.Private.User, old))
	assert.NilError(t, sb.Private.SetPassword("rotated-"+old))
	t.Cleanup(func() { assert.Check(t, sb.Private.SetPassword(old)) })
	err := sandbox.Poll(context.Background(), 10*time.Second, func() error {
		if sb.Private.CheckLogin(sb.Private.User, old) {
			return fmt.Errorf("old password still accepted")
		}
		return nil
	})
	assert.NilError(t, err)
	assert.Check(t, sb.Private.CheckLogin(sb.Private.User, "rotated-"+old))
	assert.Check(t, sb.Public.CheckLogin("", ""), "the public registry needs no login")
}
