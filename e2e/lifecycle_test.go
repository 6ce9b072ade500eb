package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// stackDeploy runs `docker swarmauth stack deploy -c DIR/compose.yml ARGS...`
// with the environment given.
func stackDeploy(t *testing.T, cli *sandbox.CLI, dir string, env []string, args ...string) *icmd.Result {
	t.Helper()
	cmd := cli.Command(append([]string{"swarmauth", "stack", "deploy", "-c", filepath.Join(dir, "compose.yml")}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	return icmd.RunCmd(cmd)
}

// objectNames lists the names of a stack's secrets or configs.
func objectNames(t *testing.T, s *sandbox.Swarm, kind, namespace string) []string {
	t.Helper()
	ctx := context.Background()
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace="+namespace)
	var names []string
	if kind == "secret" {
		res, err := s.Manager.Client.SecretList(ctx, client.SecretListOptions{Filters: filter})
		assert.NilError(t, err)
		for _, x := range res.Items {
			names = append(names, x.Spec.Name)
		}
	} else {
		res, err := s.Manager.Client.ConfigList(ctx, client.ConfigListOptions{Filters: filter})
		assert.NilError(t, err)
		for _, x := range res.Items {
			names = append(names, x.Spec.Name)
		}
	}
	slices.Sort(names)
	return names
}

// taskOutput returns what the service's running task printed.
func taskOutput(t *testing.T, s *sandbox.Swarm, cli *sandbox.CLI, service, want string) string {
	t.Helper()
	var out string
	err := sandbox.Poll(context.Background(), 60*time.Second, func() error {
		running := runningTasks(t, s, service)
		for _, ids := range running {
			for _, id := range ids {
				out = cli.Run("service", "logs", "--raw", id).Combined()
				if strings.Contains(out, want) {
					return nil
				}
			}
		}
		return fmt.Errorf("no running task of %s printed %q yet (last: %q)", service, want, out)
	})
	assert.NilError(t, err)
	return out
}

const rotationCompose = `
services:
  api:
    image: ${IMAGE}
    command: ["cat", "/run/secrets/db", "/etc/app.conf"]
    secrets:
      - source: db
        uid: "1000"
        gid: "1001"
        mode: 0400
    configs:
      - source: app
        target: /etc/app.conf
    deploy:
      update_config:
        order: stop-first
secrets:
  db:
    file: ./db.txt
configs:
  app:
    file: ./app.conf
`

// TestStackRotatesChangedSecretsAndConfigs: a changed file becomes a new
// version; the service moves to it with the same target, uid, gid and mode;
// the running task sees the new content; the old version goes once nothing
// uses it, or stays with --keep-versions; unchanged files change nothing.
func TestStackRotatesChangedSecretsAndConfigs(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "rotation/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	removeStack(t, cli, "rot")
	dir := writeFiles(t, map[string]string{"compose.yml": rotationCompose, "db.txt": "password-1", "app.conf": "level=1"})
	env := []string{"IMAGE=" + ref}

	stackDeploy(t, cli, dir, env, "rot").Assert(t, icmd.Success)
	taskOutput(t, s, cli, "rot_api", "/run/secrets/db: password-1")
	v1Secrets, v1Configs := objectNames(t, s, "secret", "rot"), objectNames(t, s, "config", "rot")
	assert.Assert(t, is.Len(v1Secrets, 1))
	assert.Check(t, is.Regexp(`^rot_db_[0-9a-f]{10}$`, v1Secrets[0]))

	t.Run("unchanged files change nothing", func(t *testing.T) {
		cli.Proxy.Reset()
		before := versions(t, s, "rot_api")
		res := stackDeploy(t, cli, dir, env, "rot")
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "Stack rot is up to date"))
		assert.Check(t, is.Len(changed(t, s, before), 0))
		for _, c := range cli.Proxy.Calls() {
			assert.Check(t, c.Method != "POST" && c.Method != "DELETE", "%s %s", c.Method, c.Path)
		}
		assert.Check(t, is.DeepEqual(objectNames(t, s, "secret", "rot"), v1Secrets))
	})

	t.Run("changed files become new versions", func(t *testing.T) {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "db.txt"), []byte("password-2"), 0o600))
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "app.conf"), []byte("level=2"), 0o600))
		plan := stackDeploy(t, cli, dir, env, "rot", "--dry-run")
		plan.Assert(t, icmd.Success)
		assert.Check(t, is.Regexp(`secret\s+rot_db\s+create rot_db_[0-9a-f]{10}`, plan.Stdout()))
		assert.Check(t, is.Regexp(`service\s+rot_api\s+update TaskTemplate.ContainerSpec.Configs, TaskTemplate.ContainerSpec.Secrets`, plan.Stdout()))
		assert.Check(t, is.DeepEqual(objectNames(t, s, "secret", "rot"), v1Secrets), "a dry run writes nothing")

		res := stackDeploy(t, cli, dir, env, "rot")
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "Removing secret "+v1Secrets[0]))
		out := taskOutput(t, s, cli, "rot_api", "/run/secrets/db: password-2")
		assert.Check(t, is.Contains(out, "/etc/app.conf: level=2"))

		secrets := objectNames(t, s, "secret", "rot")
		assert.Assert(t, is.Len(secrets, 1), "the old version is gone")
		assert.Check(t, secrets[0] != v1Secrets[0])
		assert.Check(t, is.Len(objectNames(t, s, "config", "rot"), 1))
		assert.Check(t, objectNames(t, s, "config", "rot")[0] != v1Configs[0])
		ref := inspect(t, s, "rot_api").Spec.TaskTemplate.ContainerSpec.Secrets[0]
		assert.Check(t, is.Equal(ref.SecretName, secrets[0]))
		assert.Check(t, is.DeepEqual(*ref.File, swarm.SecretReferenceFileTarget{Name: "db", UID: "1000", GID: "1001", Mode: 0o400}))
	})

	t.Run("keep-versions keeps old ones for rollback", func(t *testing.T) {
		before := objectNames(t, s, "secret", "rot")
		assert.NilError(t, os.WriteFile(filepath.Join(dir, "db.txt"), []byte("password-3"), 0o600))
		stackDeploy(t, cli, dir, env, "rot", "--keep-versions", "1").Assert(t, icmd.Success)
		after := objectNames(t, s, "secret", "rot")
		assert.Check(t, is.Len(after, 2))
		assert.Check(t, slices.Contains(after, before[0]), "the previous version is kept")
		taskOutput(t, s, cli, "rot_api", "/run/secrets/db: password-3")
	})
}

const adoptCompose = `
services:
  api:
    image: ${PRIVATE}
    command: ["cat", "/run/secrets/token", "/etc/tool.conf"]
    secrets: [token]
    configs:
      - source: conf
        target: /etc/tool.conf
  tool:
    image: ${PUBLIC}
secrets:
  token:
    file: ./token.txt
configs:
  conf:
    file: ./tool.conf
`

// TestStackAdoptsDockerDeployedStack: a stack first deployed with `docker
// stack deploy --with-registry-auth` moves to swarmauth: the config with the
// same data is adopted as it is, the secret (whose data cannot be read back)
// is replaced by a version once, the public service loses the login docker
// gave it, and the next deploy changes nothing.
func TestStackAdoptsDockerDeployedStack(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	private, err := s.PushImage(ctx, sb.Private, "adopt/api:v1")
	assert.NilError(t, err)
	public, err := s.PushImage(ctx, sb.Public, "adopt/tool:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	cli.WriteConfig(authsConfig(sb.Private, sb.Public))
	removeStack(t, cli, "adopt")
	dir := writeFiles(t, map[string]string{"compose.yml": adoptCompose, "token.txt": "tok-1", "tool.conf": "x=1"})
	env := []string{"PRIVATE=" + private, "PUBLIC=" + public}

	docker := cli.Command("stack", "deploy", "--with-registry-auth", "-c", filepath.Join(dir, "compose.yml"), "adopt")
	docker.Env = append(docker.Env, env...)
	icmd.RunCmd(docker).Assert(t, icmd.Success)
	waitForTask(t, s, "adopt_api", swarm.TaskStateRunning)

	plan := stackDeploy(t, cli, dir, env, "adopt", "--dry-run")
	plan.Assert(t, icmd.Success)
	assert.Check(t, is.Regexp(`config\s+adopt_conf\s+adopt adopt_conf`, plan.Stdout()))
	assert.Check(t, is.Regexp(`secret\s+adopt_token\s+create adopt_token_[0-9a-f]{10}, replacing adopt_token`, plan.Stdout()))

	cli.Proxy.Reset()
	stackDeploy(t, cli, dir, env, "adopt").Assert(t, icmd.Success)
	assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy), map[string][]string{
		"adopt_api":  {sandbox.AuthCredentials},
		"adopt_tool": {sandbox.AuthEmpty},
	}), "the public service is cleared of docker's login")
	assert.Check(t, is.DeepEqual(objectNames(t, s, "config", "adopt"), []string{"adopt_conf"}), "adopted as it is")
	secrets := objectNames(t, s, "secret", "adopt")
	assert.Assert(t, is.Len(secrets, 1))
	assert.Check(t, is.Regexp(`^adopt_token_[0-9a-f]{10}$`, secrets[0]), "docker's secret was retired")
	taskOutput(t, s, cli, "adopt_api", "/run/secrets/token: tok-1")

	cli.Proxy.Reset()
	res := stackDeploy(t, cli, dir, env, "adopt")
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stdout(), "Stack adopt is up to date"))
	assert.Check(t, is.Len(authByService(t, s, cli.Proxy), 0))
}

// TestStackFailedUpdate: an update whose tasks cannot start is reported with
// the tasks' error and a non-zero exit; with --rollback-on-failure the
// service is back on its previous spec.
func TestStackFailedUpdate(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "failing/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	removeStack(t, cli, "fail")
	compose := func(command string) string {
		return fmt.Sprintf("services:\n  app:\n    image: %s\n    command: %s\n    deploy:\n      restart_policy:\n        delay: 500ms\n      update_config:\n        failure_action: continue\n", ref, command)
	}
	dir := writeFiles(t, map[string]string{"compose.yml": compose(`["cat", "/app"]`)})
	stackDeploy(t, cli, dir, nil, "fail").Assert(t, icmd.Success)
	good := inspect(t, s, "fail_app").Spec.TaskTemplate.ContainerSpec.Args

	assert.NilError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(compose(`["exit", "3"]`)), 0o600))
	res := stackDeploy(t, cli, dir, nil, "fail", "--timeout", "2m", "--rollback-on-failure")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "service fail_app:"})
	assert.Check(t, is.Contains(res.Stdout(), "Rolling back service fail_app"))
	assert.Check(t, is.Contains(res.Stdout(), "Rolled back 1 service(s) to their previous spec"))
	assert.Check(t, is.DeepEqual(inspect(t, s, "fail_app").Spec.TaskTemplate.ContainerSpec.Args, good))
	waitForTask(t, s, "fail_app", swarm.TaskStateRunning)

	res = stackDeploy(t, cli, dir, nil, "fail", "--timeout", "2m")
	res.Assert(t, icmd.Expected{ExitCode: 1, Err: "service fail_app:"})
	assert.Check(t, is.Contains(res.Stderr(), "tasks failed"))
	assert.Check(t, is.Contains(res.Stderr(), "non-zero exit (3)"))
	assert.Check(t, is.DeepEqual(inspect(t, s, "fail_app").Spec.TaskTemplate.ContainerSpec.Args, []string{"exit", "3"}), "no rollback unless asked")
	_ = ctx
}

// TestStackPruneAndJobs: a job-mode service completes and the deploy returns;
// --prune removes a service the file no longer has, after the rest converged.
func TestStackPruneAndJobs(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "prune/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	removeStack(t, cli, "pr")
	full := fmt.Sprintf(`services:
  keep:
    image: %[1]s
  drop:
    image: %[1]s
  migrate:
    image: %[1]s
    command: ["exit", "0"]
    deploy:
      mode: replicated-job
      replicas: 2
`, ref)
	dir := writeFiles(t, map[string]string{"compose.yml": full})
	res := stackDeploy(t, cli, dir, nil, "pr", "--timeout", "2m")
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Regexp(`pr_migrate\s+converged \(2/2 completed\)`, res.Stdout()))

	trimmed := strings.Replace(full, fmt.Sprintf("  drop:\n    image: %s\n", ref), "", 1)
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(trimmed), 0o600))
	res = stackDeploy(t, cli, dir, nil, "pr", "--prune", "--timeout", "2m")
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stdout(), "Removing service pr_drop"))
	_, err = s.Manager.Client.ServiceInspect(ctx, "pr_drop", client.ServiceInspectOptions{})
	assert.Check(t, err != nil, "pr_drop still exists")
	waitForTask(t, s, "pr_keep", swarm.TaskStateRunning)
}

// TestStackInterruptedWait: Ctrl-C while waiting stops the wait, says where
// each service stands, and leaves the deploy applied; the same deploy run
// again finishes the job.
func TestStackInterruptedWait(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "interrupt/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	removeStack(t, cli, "intr")
	// No node has this label: the task stays pending until one does.
	compose := fmt.Sprintf("services:\n  app:\n    image: %s\n    deploy:\n      placement:\n        constraints: [node.labels.intr == yes]\n", ref)
	dir := writeFiles(t, map[string]string{"compose.yml": compose})
	run := icmd.StartCmd(cli.Command("swarmauth", "stack", "deploy", "-c", filepath.Join(dir, "compose.yml"), "intr"))
	assert.NilError(t, run.Error)
	assert.NilError(t, sandbox.Poll(ctx, 30*time.Second, func() error {
		_, err := s.Manager.Client.ServiceInspect(ctx, "intr_app", client.ServiceInspectOptions{})
		return err
	}))
	time.Sleep(time.Second)
	assert.NilError(t, run.Cmd.Process.Signal(os.Interrupt))
	res := icmd.WaitOnCmd(30*time.Second, run)
	assert.Check(t, res.ExitCode != 0)
	assert.Check(t, is.Contains(res.Stderr(), "stopped waiting"), res.Combined())
	assert.Check(t, is.Contains(res.Stderr(), "intr_app (0/1 running)"))
	assert.Check(t, is.Contains(res.Stderr(), "run it again to finish"))

	// Let the task run, then the same deploy finishes.
	id, err := s.Manager.NodeID(ctx)
	assert.NilError(t, err)
	node, err := s.Manager.Client.NodeInspect(ctx, id, client.NodeInspectOptions{})
	assert.NilError(t, err)
	spec := node.Node.Spec
	spec.Labels = map[string]string{"intr": "yes"}
	_, err = s.Manager.Client.NodeUpdate(ctx, id, client.NodeUpdateOptions{Version: node.Node.Version, Spec: spec})
	assert.NilError(t, err)
	t.Cleanup(func() {
		n, err := s.Manager.Client.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err == nil {
			sp := n.Node.Spec
			sp.Labels = nil
			_, _ = s.Manager.Client.NodeUpdate(ctx, id, client.NodeUpdateOptions{Version: n.Node.Version, Spec: sp})
		}
	})
	stackDeploy(t, cli, dir, nil, "intr", "--timeout", "2m").Assert(t, icmd.Success)
	waitForTask(t, s, "intr_app", swarm.TaskStateRunning)
}
