package e2e

import (
	"context"
	"encoding/json"
	"os"
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

// createSecret makes a plain secret, as an operator would by hand.
func createSecret(t *testing.T, s *sandbox.Swarm, cli *sandbox.CLI, name, value string) {
	t.Helper()
	cmd := cli.Command("secret", "create", name, "-")
	cmd.Stdin = strings.NewReader(value)
	icmd.RunCmd(cmd).Assert(t, icmd.Success)
	t.Cleanup(func() {
		res, _ := s.Manager.Client.SecretList(context.Background(), client.SecretListOptions{})
		for _, x := range res.Items {
			if x.Spec.Name == name || strings.HasPrefix(x.Spec.Name, name+"_v") {
				_, _ = s.Manager.Client.SecretRemove(context.Background(), x.ID, client.SecretRemoveOptions{})
			}
		}
	})
}

func secretRefs(t *testing.T, s *sandbox.Swarm, service string) map[string]swarm.SecretReferenceFileTarget {
	t.Helper()
	out := map[string]swarm.SecretReferenceFileTarget{}
	for _, r := range inspect(t, s, service).Spec.TaskTemplate.ContainerSpec.Secrets {
		out[r.SecretName] = *r.File
	}
	return out
}

func secretNames(t *testing.T, s *sandbox.Swarm, prefix string) []string {
	t.Helper()
	res, err := s.Manager.Client.SecretList(context.Background(), client.SecretListOptions{})
	assert.NilError(t, err)
	var names []string
	for _, x := range res.Items {
		if x.Spec.Name == prefix || strings.HasPrefix(x.Spec.Name, prefix+"_") {
			names = append(names, x.Spec.Name)
		}
	}
	return sorted(names)
}

// TestSecretRotateTutorial follows the shape of Docker's "Rotate a secret"
// tutorial: a database and two clients use one secret with different
// targets, owners and modes; after the rotation the running tasks read the
// new value at the same place, with the same owner and mode, and the old
// secret is gone.
func TestSecretRotateTutorial(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "rotate/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	createSecret(t, s, cli, "tut_pw", "password-1")
	db := serviceName(t, s, "db")
	c1 := serviceName(t, s, "c1")
	c2 := serviceName(t, s, "c2")
	createService(t, s, cli, db, "--secret", "source=tut_pw,target=tut_pw,mode=0400", ref, "cat", "/run/secrets/tut_pw")
	createService(t, s, cli, c1, "--secret", "source=tut_pw,target=app_pw,uid=1000,gid=1001,mode=0440", ref, "cat", "/run/secrets/app_pw")
	createService(t, s, cli, c2, "--secret", "source=tut_pw,target=client.pw", ref, "cat", "/run/secrets/client.pw")
	for _, svc := range []string{db, c1, c2} {
		waitForTask(t, s, svc, swarm.TaskStateRunning)
	}
	refsBefore := map[string]swarm.SecretReferenceFileTarget{}
	for _, svc := range []string{db, c1, c2} {
		refsBefore[svc] = secretRefs(t, s, svc)["tut_pw"]
	}
	dir := writeFiles(t, map[string]string{"pw2": "password-2"})

	t.Run("dry run writes nothing", func(t *testing.T) {
		before := versions(t, s, db, c1, c2)
		res := cli.Run("swarmauth", "secret", "rotate", "--dry-run", "tut_pw", dir+"/pw2")
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "create tut_pw_v2 (v2)"))
		assert.Check(t, is.Contains(res.Stdout(), "remove tut_pw once every service converged"))
		assert.Check(t, is.Len(changed(t, s, before), 0))
		assert.Check(t, is.DeepEqual(secretNames(t, s, "tut_pw"), []string{"tut_pw"}))
	})

	t.Run("rotate from a file", func(t *testing.T) {
		res := cli.Run("swarmauth", "secret", "rotate", "tut_pw", dir+"/pw2")
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "Removing secret tut_pw"))
		assert.Check(t, is.DeepEqual(secretNames(t, s, "tut_pw"), []string{"tut_pw_v2"}), "the old secret is gone")
		for _, svc := range []string{db, c1, c2} {
			assert.Check(t, is.DeepEqual(secretRefs(t, s, svc), map[string]swarm.SecretReferenceFileTarget{"tut_pw_v2": refsBefore[svc]}), svc)
		}
		taskOutput(t, s, cli, db, "/run/secrets/tut_pw: password-2")
		taskOutput(t, s, cli, c1, "/run/secrets/app_pw: password-2")
		taskOutput(t, s, cli, c2, "/run/secrets/client.pw: password-2")
	})

	t.Run("generate and print once", func(t *testing.T) {
		res := cli.Run("swarmauth", "secret", "rotate", "--generate", "--length", "24", "--print", "tut_pw_v2")
		res.Assert(t, icmd.Success)
		lines := strings.Split(strings.TrimSpace(res.Stdout()), "\n")
		value := lines[len(lines)-1]
		assert.Check(t, is.Len(value, 24))
		assert.Check(t, is.Equal(strings.Count(res.Combined(), value), 1), "printed once")
		taskOutput(t, s, cli, c1, "/run/secrets/app_pw: "+value)
		assert.Check(t, is.DeepEqual(secretNames(t, s, "tut_pw"), []string{"tut_pw_v3"}))
	})

	t.Run("ls and history", func(t *testing.T) {
		res := cli.Run("swarmauth", "secret", "ls", "--format", "json")
		res.Assert(t, icmd.Success)
		var found bool
		for _, line := range strings.Split(strings.TrimSpace(res.Stdout()), "\n") {
			var row map[string]any
			assert.NilError(t, json.Unmarshal([]byte(line), &row))
			if row["Name"] == "tut_pw" {
				found = true
				assert.Check(t, is.Equal(row["Current"], "tut_pw_v3"))
				assert.Check(t, is.Contains(row["Services"], c1+"@tut_pw_v3"))
			}
		}
		assert.Check(t, found, res.Stdout())
		h := cli.Run("swarmauth", "secret", "history", "tut_pw")
		h.Assert(t, icmd.Success)
		assert.Check(t, is.Regexp(`(?m)^tut_pw_v3\s+3\s`, h.Stdout()))
	})
}

// TestConfigRotateFromStdin: configs rotate the same way.
func TestConfigRotateFromStdin(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "rotate/conf:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	cmd := cli.Command("config", "create", "rot_conf", "-")
	cmd.Stdin = strings.NewReader("level=1")
	icmd.RunCmd(cmd).Assert(t, icmd.Success)
	t.Cleanup(func() { cli.Run("config", "rm", "rot_conf", "rot_conf_v2") })
	svc := serviceName(t, s, "web")
	createService(t, s, cli, svc, "--config", "source=rot_conf,target=/etc/app.conf,mode=0440", ref, "cat", "/etc/app.conf")
	waitForTask(t, s, svc, swarm.TaskStateRunning)

	rot := cli.Command("swarmauth", "config", "rotate", "rot_conf", "-")
	rot.Stdin = strings.NewReader("level=2")
	icmd.RunCmd(rot).Assert(t, icmd.Success)
	taskOutput(t, s, cli, svc, "/etc/app.conf: level=2")
	refs := inspect(t, s, svc).Spec.TaskTemplate.ContainerSpec.Configs
	assert.Assert(t, is.Len(refs, 1))
	assert.Check(t, is.Equal(refs[0].ConfigName, "rot_conf_v2"))
	assert.Check(t, is.DeepEqual(*refs[0].File, swarm.ConfigReferenceFileTarget{Name: "/etc/app.conf", UID: "0", GID: "0", Mode: 0o440}))
}

// TestSecretRotateTwoPhase: the job sees the old and the new value before any
// service moves, the database keeps the old value at a second target; a job
// that fails stops the rotation with every service on the old version.
func TestSecretRotateTwoPhase(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "rotate/two:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	createSecret(t, s, cli, "two_pw", "old-pw")
	db := serviceName(t, s, "db")
	app := serviceName(t, s, "app")
	createService(t, s, cli, db, "--secret", "two_pw", ref, "cat", "/run/secrets/two_pw")
	createService(t, s, cli, app, "--secret", "two_pw", ref, "cat", "/run/secrets/two_pw")
	waitForTask(t, s, db, swarm.TaskStateRunning)
	dir := writeFiles(t, map[string]string{"new": "new-pw"})

	t.Run("a failing job stops everything", func(t *testing.T) {
		before := versions(t, s, db, app)
		res := cli.Run("swarmauth", "secret", "rotate", "two_pw", dir+"/new", "--job", ref, "--", "check", "/run/secrets/old", "wrong")
		res.Assert(t, icmd.Expected{ExitCode: 1, Err: "the job failed"})
		assert.Check(t, is.Contains(res.Stderr(), "every service is still on its old version"))
		assert.Check(t, is.Len(changed(t, s, before), 0))
	})

	t.Run("job, then switch keeping the old value on the database", func(t *testing.T) {
		res := cli.Run("swarmauth", "secret", "rotate", "two_pw", dir+"/new", "--keep-old-as", db+"=two_pw_old",
			"--job", ref, "--job-networks-from", db, "--", "check", "/run/secrets/old", "old-pw", "/run/secrets/new", "new-pw")
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "Running job"))
		assert.Check(t, !strings.Contains(res.Stdout(), "Creating secret"), "the version the failed attempt made is used")
		refs := secretRefs(t, s, db)
		assert.Check(t, is.Equal(refs["two_pw_v2"].Name, "two_pw"))
		assert.Check(t, is.Equal(refs["two_pw"].Name, "two_pw_old"), "the database keeps the old value at another target")
		assert.Check(t, is.DeepEqual(secretRefs(t, s, app), map[string]swarm.SecretReferenceFileTarget{"two_pw_v2": {Name: "two_pw", UID: "0", GID: "0", Mode: 0o444}}))
		taskOutput(t, s, cli, app, "/run/secrets/two_pw: new-pw")
		assert.Check(t, is.Contains(secretNames(t, s, "two_pw"), "two_pw"), "still used by the database at its second target")
	})
}

// TestSecretRotateRollbackAndRerun: a service that cannot start with the new
// value is rolled back and the old version kept; an interrupted rotation,
// run again, finishes with the version it created.
func TestSecretRotateRollbackAndRerun(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "rotate/rb:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	dir := writeFiles(t, map[string]string{"v2": "pw-2"})

	t.Run("rollback", func(t *testing.T) {
		createSecret(t, s, cli, "rb_pw", "pw-1")
		picky := serviceName(t, s, "picky")
		createService(t, s, cli, picky, "--secret", "rb_pw", "--restart-delay", "500ms", ref, "expect", "/run/secrets/rb_pw", "pw-1")
		waitForTask(t, s, picky, swarm.TaskStateRunning)
		res := cli.Run("swarmauth", "secret", "rotate", "rb_pw", dir+"/v2", "--timeout", "2m")
		res.Assert(t, icmd.Expected{ExitCode: 1, Out: "Rolling back service " + picky})
		assert.Check(t, is.Contains(res.Stderr(), "service "+picky+": on rb_pw"))
		assert.Check(t, is.Contains(res.Stderr(), "old versions are kept"))
		assert.Check(t, is.DeepEqual(secretRefs(t, s, picky), map[string]swarm.SecretReferenceFileTarget{"rb_pw": {Name: "rb_pw", UID: "0", GID: "0", Mode: 0o444}}))
		assert.Check(t, is.DeepEqual(secretNames(t, s, "rb_pw"), []string{"rb_pw", "rb_pw_v2"}))
	})

	t.Run("rerun after an interruption", func(t *testing.T) {
		createSecret(t, s, cli, "ir_pw", "pw-1")
		a := serviceName(t, s, "a")
		b := serviceName(t, s, "b")
		// a converges slowly: its update waits 4s before starting the task.
		createService(t, s, cli, a, "--secret", "ir_pw", "--update-delay", "4s", "--update-order", "stop-first", "--stop-grace-period", "3s", ref, "cat", "/run/secrets/ir_pw")
		createService(t, s, cli, b, "--secret", "ir_pw", ref, "cat", "/run/secrets/ir_pw")
		waitForTask(t, s, a, swarm.TaskStateRunning)
		run := icmd.StartCmd(cli.Command("swarmauth", "secret", "rotate", "ir_pw", dir+"/v2"))
		assert.NilError(t, run.Error)
		assert.NilError(t, sandbox.Poll(ctx, 30*time.Second, func() error {
			if _, ok := secretRefs(t, s, a)["ir_pw_v2"]; !ok {
				return context.DeadlineExceeded
			}
			return nil
		}))
		assert.NilError(t, run.Cmd.Process.Signal(os.Interrupt))
		res := icmd.WaitOnCmd(30*time.Second, run)
		assert.Check(t, res.ExitCode != 0, res.Combined())
		assert.Check(t, is.Contains(res.Stderr(), "run the same rotation again to finish"))
		_, bSwitched := secretRefs(t, s, b)["ir_pw_v2"]
		assert.Check(t, !bSwitched, "b was not switched before the interruption")

		again := cli.Run("swarmauth", "secret", "rotate", "ir_pw", dir+"/v2")
		again.Assert(t, icmd.Success)
		assert.Check(t, !strings.Contains(again.Stdout(), "Creating secret"), "the version made before is used")
		assert.Check(t, is.DeepEqual(secretNames(t, s, "ir_pw"), []string{"ir_pw_v2"}))
		taskOutput(t, s, cli, b, "/run/secrets/ir_pw: pw-2")
	})
}
