package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// TestRefresherRunsInTheSwarm builds the refresher image offline from the
// repository's Dockerfile (plus a credential helper, as users add the ECR
// one), runs it as a service on the manager with the Engine socket, and shows
// that after the registry's token rotates, a node that joins later pulls the
// private image with no human action.
func TestRefresherRunsInTheSwarm(t *testing.T) {
	ctx := context.Background()
	s := cluster(t)
	private, err := s.PushImage(ctx, sb.Private, "refresher/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	h := cli.InstallHelper("sandbox")
	h.SetCredential(sb.Private.Addr, sb.Private.User, sb.Private.Password())
	cli.WriteConfig(map[string]any{"credHelpers": map[string]string{sb.Private.Addr: "sandbox"}})

	// The image: the repository's Dockerfile, then the helper on top.
	root, err := filepath.Abs("..")
	assert.NilError(t, err)
	build := t.TempDir()
	assert.NilError(t, os.MkdirAll(filepath.Join(build, "bin"), 0o755))
	copyTo(t, sb.PluginBinary, filepath.Join(build, "bin", "docker-swarmauth"))
	copyTo(t, filepath.Join(root, "Dockerfile"), filepath.Join(build, "Dockerfile"))
	cli.Run("build", "-q", "-t", "swarmauth:e2e", build).Assert(t, icmd.Success)
	withHelper := t.TempDir()
	copyTo(t, sb.HelperBinary, filepath.Join(withHelper, "docker-credential-sandbox"))
	assert.NilError(t, os.WriteFile(filepath.Join(withHelper, "Dockerfile"), []byte("FROM swarmauth:e2e\nCOPY docker-credential-sandbox /usr/local/bin/\n"), 0o600))
	cli.Run("build", "-q", "-t", "swarmauth-sandbox:e2e", withHelper).Assert(t, icmd.Success)

	app := serviceName(t, s, "app")
	createService(t, s, cli, app, "--with-registry-auth", "--mode", "global", private)

	cfg := cli.Command("config", "create", "refresher-e2e", "-")
	cfg.Stdin = strings.NewReader(`{"credHelpers": {"` + sb.Private.Addr + `": "sandbox"}}`)
	icmd.RunCmd(cfg).Assert(t, icmd.Success)
	t.Cleanup(func() { cli.Run("config", "rm", "refresher-e2e") })
	refresher := serviceName(t, s, "refresher")
	socket := strings.TrimPrefix(s.Manager.Host, "unix://")
	createService(t, s, cli, refresher,
		"--constraint", "node.role==manager",
		"--mount", "type=bind,source="+socket+",target=/var/run/docker.sock",
		"--mount", "type=bind,source="+cli.HelperRoot()+",target=/helper",
		"--env", "SWARMAUTH_SANDBOX_HELPER_DIR=/helper",
		"--config", "source=refresher-e2e,target=/etc/swarmauth/config.json",
		"swarmauth-sandbox:e2e", "refresh", "--interval", "3s", "--retry", "1s", "--log-format", "json", app)
	waitForTask(t, s, refresher, swarm.TaskStateRunning)

	// The token expires: the registry only takes the new one, which the
	// helper now hands out. Nobody runs anything.
	token := "token-" + time.Now().Format("150405.000000")
	assert.NilError(t, sb.Private.SetPassword(token))
	h.SetCredential(sb.Private.Addr, sb.Private.User, token)

	fresh, err := s.AddWorker(ctx)
	assert.NilError(t, err)
	t.Cleanup(func() { assert.Check(t, s.RemoveWorker(context.Background(), fresh)) })
	freshID, err := fresh.NodeID(ctx)
	assert.NilError(t, err)
	waitForTaskOn(t, s, app, freshID, swarm.TaskStateRunning, 90*time.Second)

	assert.Check(t, is.Equal(inspect(t, s, app).Spec.Labels["swarmauth.registry-auth"], "attached"))
	logs := cli.Run("service", "logs", "--raw", refresher)
	assert.Check(t, is.Contains(logs.Combined(), `"msg":"refreshed"`))
	assert.Check(t, !strings.Contains(logs.Combined(), token), "the token never reaches the logs")
	_, err = s.Manager.Client.ServiceRemove(ctx, refresher, client.ServiceRemoveOptions{})
	assert.NilError(t, err)
}

func copyTo(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	assert.NilError(t, err)
	assert.NilError(t, os.WriteFile(dst, b, 0o755))
}
