package e2e

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// versions returns each named service's spec version.
func versions(t *testing.T, s *sandbox.Swarm, names ...string) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, n := range names {
		out[n] = inspect(t, s, n).Version.Index
	}
	return out
}

// changed lists the services whose version differs from before.
func changed(t *testing.T, s *sandbox.Swarm, before map[string]uint64) []string {
	t.Helper()
	var out []string
	for n, v := range before {
		if inspect(t, s, n).Version.Index != v {
			out = append(out, n)
		}
	}
	return out
}

// TestRefreshPolicy proves with the recording proxy which services get
// credentials, which get an empty auth on purpose, and which get nothing.
func TestRefreshPolicy(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	privRef, err := s.PushImage(ctx, sb.Private, "policy/private:v1")
	assert.NilError(t, err)
	pubRef, err := s.PushImage(ctx, sb.Public, "policy/public:v1")
	assert.NilError(t, err)

	cli := s.NewCLI(t)
	priv := serviceName(t, s, "priv")
	pub := serviceName(t, s, "pub")
	hub := serviceName(t, s, "hub")
	for name, ref := range map[string]string{priv: privRef, pub: pubRef, hub: "nginx:1.27"} {
		createService(t, s, cli, name, "--replicas", "0", "--no-resolve-image", "--label", "test=policy", ref)
	}
	selection := []string{"--filter", "label=test=policy"}

	t.Run("auto with credentials", func(t *testing.T) {
		cli.WriteConfig(authsConfig(sb.Private))
		cli.Proxy.Reset()
		rows := refreshJSON(t, cli, icmd.Success, selection...)
		assert.Check(t, is.Equal(rows[priv].Outcome, "refreshed"))
		assert.Check(t, is.Equal(rows[pub].Outcome, "cleared"))
		assert.Check(t, is.Equal(rows[pub].Reason, "public image"))
		assert.Check(t, is.Equal(rows[hub].Outcome, "cleared"))
		assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy), map[string][]string{
			priv: {sandbox.AuthCredentials},
			pub:  {sandbox.AuthEmpty},
			hub:  {sandbox.AuthEmpty},
		}))
		assert.Check(t, is.Equal(inspect(t, s, priv).Spec.Labels["swarmauth.registry-auth"], "attached"))
		assert.Check(t, is.Equal(inspect(t, s, pub).Spec.Labels["swarmauth.registry-auth"], "cleared"))
	})

	t.Run("auto without credentials skips and sends no empty auth", func(t *testing.T) {
		cli.WriteConfig(map[string]any{})
		cli.Proxy.Reset()
		before := versions(t, s, priv)
		rows := refreshJSON(t, cli, icmd.Success, selection...)
		assert.Check(t, is.Equal(rows[priv].Outcome, "skipped"))
		assert.Check(t, is.Equal(rows[priv].Reason, "no credentials for "+sb.Private.Addr+" in the CLI's store"))
		calls := authByService(t, s, cli.Proxy)
		_, touched := calls[priv]
		assert.Check(t, !touched, "the private service got an update: %v", calls[priv])
		assert.Check(t, is.Len(changed(t, s, before), 0))
	})

	t.Run("always attaches whatever the store has", func(t *testing.T) {
		cli.WriteConfig(authsConfig(sb.Private, sb.Public))
		cli.Proxy.Reset()
		rows := refreshJSON(t, cli, icmd.Success, append(selection, "--registry-auth", "always")...)
		assert.Check(t, is.Equal(rows[priv].Outcome, "refreshed"))
		assert.Check(t, is.Equal(rows[pub].Outcome, "refreshed"))
		assert.Check(t, is.Equal(rows[hub].Outcome, "skipped"))
		assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy), map[string][]string{
			priv: {sandbox.AuthCredentials},
			pub:  {sandbox.AuthCredentials},
		}))
	})

	t.Run("never changes nothing", func(t *testing.T) {
		cli.Proxy.Reset()
		before := versions(t, s, priv, pub, hub)
		rows := refreshJSON(t, cli, icmd.Success, append(selection, "--registry-auth", "never")...)
		for _, r := range rows {
			assert.Check(t, is.Equal(r.Outcome, "skipped"), r.Service)
		}
		assert.Check(t, is.Len(authByService(t, s, cli.Proxy), 0))
		assert.Check(t, is.Len(changed(t, s, before), 0))
	})

	t.Run("never with --clear removes stored credentials", func(t *testing.T) {
		cli.Proxy.Reset()
		rows := refreshJSON(t, cli, icmd.Success, append(selection, "--registry-auth", "never", "--clear")...)
		for _, r := range rows {
			assert.Check(t, is.Equal(r.Outcome, "cleared"), r.Service)
		}
		assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy), map[string][]string{
			priv: {sandbox.AuthEmpty}, pub: {sandbox.AuthEmpty}, hub: {sandbox.AuthEmpty},
		}))
	})

	t.Run("bad flags change nothing", func(t *testing.T) {
		before := versions(t, s, priv, pub, hub)
		cli.Run("swarmauth", "refresh", "--clear").Assert(t, icmd.Expected{ExitCode: 125, Err: "--clear needs --registry-auth never"})
		cli.Run("swarmauth", "refresh", "--registry-auth", "sometimes").Assert(t, icmd.Expected{ExitCode: 125, Err: `invalid --registry-auth "sometimes"`})
		cli.Run("swarmauth", "refresh", priv, "no-such-service").Assert(t, icmd.Expected{ExitCode: 1, Err: "no such service: no-such-service"})
		assert.Check(t, is.Len(changed(t, s, before), 0))
	})
}

// TestRefreshSelection covers the filters, names, --dry-run and job services,
// asserting which services' specs changed.
func TestRefreshSelection(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	privRef, err := s.PushImage(ctx, sb.Private, "selection/app:v1")
	assert.NilError(t, err)
	pubRef, err := s.PushImage(ctx, sb.Public, "selection/tool:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	cli.WriteConfig(authsConfig(sb.Private))

	a := serviceName(t, s, "a")
	b := serviceName(t, s, "b")
	stackSvc := serviceName(t, s, "stack")
	tool := serviceName(t, s, "tool")
	job := serviceName(t, s, "job")
	common := []string{"--no-resolve-image", "--label", "test=selection"}
	createService(t, s, cli, a, append(common, "--replicas", "0", "--label", "team=a", privRef)...)
	createService(t, s, cli, b, append(common, "--replicas", "0", "--label", "team=b", privRef)...)
	createService(t, s, cli, stackSvc, append(common, "--replicas", "0", "--label", "com.docker.stack.namespace=selstack", privRef)...)
	createService(t, s, cli, tool, append(common, "--replicas", "0", pubRef)...)
	createService(t, s, cli, job, append(common, "--mode", "replicated-job", "--replicas", "0", privRef)...)
	all := []string{a, b, stackSvc, tool, job}
	only := []string{"--filter", "label=test=selection"}

	cases := []struct {
		name string
		args []string
		want []string // services whose spec changes
	}{
		{"dry run", append(only, "--dry-run"), nil},
		{"label filter", []string{"--filter", "label=team=a"}, []string{a}},
		{"stack", []string{"--stack", "selstack"}, []string{stackSvc}},
		{"registry", append(only, "--registry", sb.Public.Addr), []string{tool}},
		{"names", []string{a, b}, []string{a, b}},
		{"jobs are skipped", append(only, "--registry", sb.Private.Addr), []string{a, b, stackSvc}},
		{"jobs on request", []string{"--include-jobs", job}, []string{job}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := versions(t, s, all...)
			res := cli.Run(append([]string{"swarmauth", "refresh"}, tc.args...)...)
			res.Assert(t, icmd.Success)
			assert.Check(t, is.DeepEqual(sorted(changed(t, s, before)), sorted(tc.want)), res.Combined())
		})
	}

	t.Run("dry run reports what it would do", func(t *testing.T) {
		res := cli.Run(append([]string{"swarmauth", "refresh", "--dry-run"}, only...)...)
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stderr(), "dry run, nothing changed: would have 3 refreshed, 1 cleared, 1 skipped, 0 failed"))
		assert.Check(t, is.Regexp(`(?m)^SERVICE\s+IMAGE\s+REGISTRY\s+SOURCE\s+ACTION$`, res.Stdout()))
		assert.Check(t, is.Regexp(`(?m)^`+job+`\s.*skipped: job-mode service re-runs on any update`, res.Stdout()))
	})

	t.Run("quiet prints IDs", func(t *testing.T) {
		res := cli.Run("swarmauth", "refresh", "-q", "--dry-run", a)
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Equal(strings.TrimSpace(res.Stdout()), inspect(t, s, a).ID))
		assert.Check(t, is.Equal(res.Stderr(), ""))
	})
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// TestRefreshHelperProblems: a helper that hangs or fails costs only its own
// registry's services, once, and what it printed is never shown.
func TestRefreshHelperProblems(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	privRef, err := s.PushImage(ctx, sb.Private, "helpers/app:v1")
	assert.NilError(t, err)
	pubRef, err := s.PushImage(ctx, sb.Public, "helpers/tool:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	h := cli.InstallHelper("flaky")
	h.SetCredential(sb.Private.Addr, sb.Private.User, sb.Private.Password())
	cfg := authsConfig(sb.Public)
	cfg["credHelpers"] = map[string]string{sb.Private.Addr: "flaky"}
	cli.WriteConfig(cfg)

	var privs []string
	for _, n := range []string{"p1", "p2", "p3", "p4", "p5"} {
		name := serviceName(t, s, n)
		createService(t, s, cli, name, "--replicas", "0", "--no-resolve-image", "--label", "test=helpers", privRef)
		privs = append(privs, name)
	}
	tool := serviceName(t, s, "tool")
	createService(t, s, cli, tool, "--replicas", "0", "--no-resolve-image", "--label", "test=helpers", pubRef)
	args := []string{"--filter", "label=test=helpers", "--registry-auth", "always", "--helper-timeout", "1s"}

	t.Run("called once per registry", func(t *testing.T) {
		calls := len(h.Calls())
		rows := refreshJSON(t, cli, icmd.Success, args...)
		for _, p := range privs {
			assert.Check(t, is.Equal(rows[p].Outcome, "refreshed"), p)
			assert.Check(t, is.Equal(rows[p].Source, "credHelper:flaky"), p)
		}
		assert.Check(t, is.DeepEqual(h.Calls()[calls:], []string{"get " + sb.Private.Addr}))
	})

	t.Run("hangs", func(t *testing.T) {
		h.SetHanging(true)
		t.Cleanup(func() { h.SetHanging(false) })
		cli.Proxy.Reset()
		before := versions(t, s, privs...)
		rows := refreshJSON(t, cli, icmd.Expected{ExitCode: 1, Err: "refresh failed for 5 of 6 services"}, args...)
		for _, p := range privs {
			assert.Check(t, is.Equal(rows[p].Outcome, "failed"), p)
			assert.Check(t, is.Equal(rows[p].Reason, "credential helper docker-credential-flaky did not answer within 1s"), p)
		}
		assert.Check(t, is.Equal(rows[tool].Outcome, "refreshed"))
		assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy), map[string][]string{tool: {sandbox.AuthCredentials}}))
		assert.Check(t, is.Len(changed(t, s, before), 0))
	})

	t.Run("fails", func(t *testing.T) {
		h.SetFailing("token endpoint down; last token was SECRET-TOKEN-123")
		t.Cleanup(func() { h.SetFailing("") })
		res := cli.Run(append([]string{"swarmauth", "refresh"}, args...)...)
		res.Assert(t, icmd.Expected{ExitCode: 1})
		assert.Check(t, is.Contains(res.Stdout(), "credential helper docker-credential-flaky failed: exit status 1"))
		assert.Check(t, !strings.Contains(res.Combined(), "SECRET-TOKEN"), res.Combined())
	})
}

// TestRefreshRaces: services change while a refresh waits on a slow helper.
// A removed service is reported and the rest succeed; a concurrent update is
// retried and both changes survive.
func TestRefreshRaces(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	privRef, err := s.PushImage(ctx, sb.Private, "races/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	h := cli.InstallHelper("slow")
	h.SetCredential(sb.Private.Addr, sb.Private.User, sb.Private.Password())
	cli.WriteConfig(map[string]any{"credHelpers": map[string]string{sb.Private.Addr: "slow"}})
	h.SetDelay(3 * time.Second)

	gone := serviceName(t, s, "gone")
	raced := serviceName(t, s, "raced")
	calm := serviceName(t, s, "calm")
	for _, n := range []string{gone, raced, calm} {
		createService(t, s, cli, n, "--replicas", "0", "--no-resolve-image", "--label", "test=races", privRef)
	}

	cmd := cli.Command("swarmauth", "refresh", "--format", "json", "--registry-auth", "always", "--filter", "label=test=races")
	run := icmd.StartCmd(cmd)
	assert.NilError(t, run.Error)
	// Once the helper is asked, the services have been listed.
	assert.NilError(t, sandbox.Poll(ctx, 20*time.Second, func() error {
		if len(h.Calls()) == 0 {
			return context.DeadlineExceeded
		}
		return nil
	}))
	_, err = s.Manager.Client.ServiceRemove(ctx, gone, client.ServiceRemoveOptions{})
	assert.NilError(t, err)
	svc := inspect(t, s, raced)
	svc.Spec.Labels["someone"] = "else"
	_, err = s.Manager.Client.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: svc.Spec})
	assert.NilError(t, err)

	res := icmd.WaitOnCmd(60*time.Second, run)
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Contains(res.Stdout(), `"Outcome":"skipped","Reason":"service was removed during the refresh"`))
	labels := inspect(t, s, raced).Spec.Labels
	assert.Check(t, is.Equal(labels["someone"], "else"), "the concurrent change survives")
	assert.Check(t, is.Equal(labels["swarmauth.registry-auth"], "attached"), "and so does ours")
	assert.Check(t, is.Equal(inspect(t, s, calm).Spec.Labels["swarmauth.registry-auth"], "attached"))
	// Refreshing spec by spec never touches the image or the task template.
	assert.Check(t, is.Equal(inspect(t, s, calm).Spec.TaskTemplate.ContainerSpec.Image, privRef))
}

// TestRefreshNeverPrintsCredentials: not in the table, not in JSON, not with
// --debug, not in labels.
func TestRefreshNeverPrintsCredentials(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Private, "secrets/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	cli.WriteConfig(authsConfig(sb.Private))
	name := serviceName(t, s, "app")
	createService(t, s, cli, name, "--replicas", "0", "--no-resolve-image", ref)

	password := sb.Private.Password()
	encoded := base64.StdEncoding.EncodeToString([]byte(sb.Private.User + ":" + password))
	for _, args := range [][]string{
		{"swarmauth", "refresh", name},
		{"swarmauth", "refresh", "--format", "json", name},
		{"-D", "swarmauth", "refresh", name},
		{"--log-level", "debug", "swarmauth", "refresh", "--dry-run", name},
	} {
		res := cli.Run(args...)
		res.Assert(t, icmd.Success)
		assert.Check(t, !strings.Contains(res.Combined(), password), "%v printed the password", args)
		assert.Check(t, !strings.Contains(res.Combined(), encoded), "%v printed the auth", args)
	}
	for k, v := range inspect(t, s, name).Spec.Labels {
		assert.Check(t, !strings.Contains(k+v, password) && v != sb.Private.User, "label %s=%s", k, v)
	}
}
