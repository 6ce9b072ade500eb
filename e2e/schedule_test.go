package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// TestScheduledRefresh runs the refresher as systemd would, standalone: a
// helper failure is logged and retried sooner than the interval, and SIGTERM
// in the middle of a pass lets the pass finish and exits 0.
func TestScheduledRefresh(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Private, "sched/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	h := cli.InstallHelper("sched")
	h.SetCredential(sb.Private.Addr, sb.Private.User, sb.Private.Password())
	cli.WriteConfig(map[string]any{"credHelpers": map[string]string{sb.Private.Addr: "sched"}})
	name := serviceName(t, s, "app")
	createService(t, s, cli, name, "--replicas", "0", "--no-resolve-image", ref)
	plugin := filepath.Join(cli.Config, "cli-plugins", "docker-swarmauth")
	start := func(extra ...string) *icmd.Result {
		args := append([]string{"refresh", "--interval", "1m", "--retry", "500ms", "--log-format", "json"}, extra...)
		cmd := icmd.Command(plugin, append(args, name)...)
		cmd.Env = cli.Env()
		run := icmd.StartCmd(cmd)
		assert.NilError(t, run.Error)
		return run
	}
	waitLog := func(run *icmd.Result, want string) {
		t.Helper()
		err := sandbox.Poll(ctx, 30*time.Second, func() error {
			if !strings.Contains(run.Stderr(), want) {
				return fmt.Errorf("no %s in the log yet:\n%s", want, run.Stderr())
			}
			return nil
		})
		assert.NilError(t, err)
	}

	t.Run("a failure is retried before the next interval", func(t *testing.T) {
		h.SetFailing("token service down")
		run := start("--metrics-addr", "127.0.0.1:0")
		waitLog(run, `"msg":"failed"`)
		assert.Check(t, is.Contains(run.Stderr(), "credential helper docker-credential-sched failed"))
		addr := regexp.MustCompile(`"msg":"serving metrics","addr":"([^"]+)"`).FindStringSubmatch(run.Stderr())
		assert.Assert(t, addr != nil, run.Stderr())
		metrics := func() string {
			resp, err := http.Get("http://" + addr[1] + "/metrics")
			assert.NilError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b)
		}
		assert.Check(t, is.Contains(metrics(), `swarmauth_refresh_failures_total{registry="`+sb.Private.Addr+`",service="`+name+`"} 1`))
		assert.Check(t, is.Contains(metrics(), `swarmauth_credential_helper_errors_total{helper="sched"} 1`))
		h.SetFailing("")
		waitLog(run, `"msg":"refreshed"`)
		assert.Check(t, is.Contains(run.Stderr(), `"msg":"retry done"`))
		assert.Check(t, is.Contains(metrics(), `swarmauth_refresh_last_success_timestamp_seconds{service="`+name+`"}`))
		health, err := http.Get("http://" + addr[1] + "/healthz")
		assert.NilError(t, err)
		health.Body.Close()
		assert.Check(t, is.Equal(health.StatusCode, http.StatusOK))
		assert.Check(t, is.Equal(inspect(t, s, name).Spec.Labels["swarmauth.registry-auth"], "attached"))
		assert.NilError(t, run.Cmd.Process.Signal(syscall.SIGTERM))
		res := icmd.WaitOnCmd(30*time.Second, run)
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stderr(), `"msg":"stopping"`))
	})

	t.Run("SIGTERM lets the pass in flight finish", func(t *testing.T) {
		h.SetDelay(2 * time.Second)
		t.Cleanup(func() { h.SetDelay(0) })
		calls := len(h.Calls())
		before := inspect(t, s, name).Version.Index
		run := start()
		assert.NilError(t, sandbox.Poll(ctx, 30*time.Second, func() error {
			if len(h.Calls()) == calls {
				return fmt.Errorf("the helper was not asked yet")
			}
			return nil
		}))
		assert.NilError(t, run.Cmd.Process.Signal(syscall.SIGTERM))
		res := icmd.WaitOnCmd(30*time.Second, run)
		res.Assert(t, icmd.Success)
		out := res.Stderr()
		assert.Check(t, strings.Index(out, `"msg":"refreshed"`) < strings.Index(out, `"msg":"stopping"`), out)
		assert.Check(t, inspect(t, s, name).Version.Index > before, "the pass was not cut off")
	})
}
