package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

func TestPluginIsInstalled(t *testing.T) {
	s := single(t)
	cli := s.NewCLI(t)

	res := cli.Run("--help")
	res.Assert(t, icmd.Success)
	assert.Check(t, is.Regexp(`(?m)^\s+swarmauth\*\s+Registry credentials`, res.Stdout()))

	res = cli.Run("swarmauth", "--help")
	res.Assert(t, icmd.Success)
	for _, c := range []string{"refresh", "stack", "secret", "config", "version"} {
		assert.Check(t, is.Regexp(`(?m)^\s+`+c+`\s`, res.Stdout()))
	}
}

// versionThrough runs `swarmauth version --format json` with the command and
// checks that it answered with the sandbox Engine's API version and that the
// request went through want, the proxy of the way under test.
func versionThrough(t *testing.T, cmd icmd.Cmd, want *sandbox.Proxy, engineAPI string) map[string]string {
	t.Helper()
	want.Reset()
	res := icmd.RunCmd(cmd)
	res.Assert(t, icmd.Success)
	var got map[string]string
	assert.NilError(t, json.Unmarshal([]byte(res.Stdout()), &got), res.Stdout())
	assert.Check(t, is.Equal(got["EngineAPIVersion"], engineAPI))
	var versionCalls int
	for _, c := range want.Calls() {
		if c.Method == "GET" && c.Path == "/version" {
			versionCalls++
		}
	}
	assert.Check(t, versionCalls > 0, "no GET /version reached %s", want.Host)
	return got
}

// TestEngineSelection proves the plugin talks to the Engine the docker CLI
// selected, whichever way it was selected: each way points at its own
// recording proxy in front of the sandbox manager.
func TestEngineSelection(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	sv, err := s.Manager.Client.ServerVersion(ctx, client.ServerVersionOptions{})
	assert.NilError(t, err)
	api := sv.APIVersion

	cli := s.NewCLI(t)
	other, err := sandbox.NewProxy(s.Manager, nil)
	assert.NilError(t, err)
	t.Cleanup(func() { _ = other.Close() })
	tlsFiles, err := sandbox.NewTLS(filepath.Join(cli.Dir, "tls"))
	assert.NilError(t, err)
	tlsProxy, err := sandbox.NewProxy(s.Manager, tlsFiles.Server)
	assert.NilError(t, err)
	t.Cleanup(func() { _ = tlsProxy.Close() })

	noHost := func(args ...string) icmd.Cmd {
		cmd := cli.Command(args...)
		cmd.Env = sandbox.WithoutEnv(cmd.Env, "DOCKER_HOST")
		return cmd
	}

	t.Run("DOCKER_HOST", func(t *testing.T) {
		versionThrough(t, cli.Command("swarmauth", "version", "--format", "json"), cli.Proxy, api)
	})
	t.Run("-H", func(t *testing.T) {
		versionThrough(t, noHost("-H", other.Host, "swarmauth", "version", "--format", "json"), other, api)
	})
	cli.Run("context", "create", "sandbox", "--docker", "host="+other.Host).Assert(t, icmd.Success)
	t.Run("--context", func(t *testing.T) {
		got := versionThrough(t, noHost("--context", "sandbox", "swarmauth", "version", "--format", "json"), other, api)
		assert.Check(t, is.Equal(got["Context"], "sandbox"))
	})
	t.Run("DOCKER_CONTEXT", func(t *testing.T) {
		cmd := noHost("swarmauth", "version", "--format", "json")
		cmd.Env = append(cmd.Env, "DOCKER_CONTEXT=sandbox")
		versionThrough(t, cmd, other, api)
	})
	t.Run("docker context use", func(t *testing.T) {
		icmd.RunCmd(noHost("context", "use", "sandbox")).Assert(t, icmd.Success)
		t.Cleanup(func() { icmd.RunCmd(noHost("context", "use", "default")) })
		got := versionThrough(t, noHost("swarmauth", "version", "--format", "json"), other, api)
		assert.Check(t, is.Equal(got["Context"], "sandbox"))
	})
	t.Run("TLS flags", func(t *testing.T) {
		cmd := noHost("--tlsverify", "--tlscacert", tlsFiles.CA, "--tlscert", tlsFiles.Cert, "--tlskey", tlsFiles.Key,
			"-H", tlsProxy.Host, "swarmauth", "version", "--format", "json")
		versionThrough(t, cmd, tlsProxy, api)
	})
	t.Run("TLS environment", func(t *testing.T) {
		cmd := noHost("swarmauth", "version", "--format", "json")
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+tlsProxy.Host, "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+tlsFiles.Dir)
		versionThrough(t, cmd, tlsProxy, api)
	})
	t.Run("TLS without a client certificate is refused", func(t *testing.T) {
		tlsProxy.Reset()
		res := icmd.RunCmd(noHost("--tlsverify", "--tlscacert", tlsFiles.CA, "-H", tlsProxy.Host, "swarmauth", "version"))
		assert.Check(t, res.ExitCode != 0)
		assert.Check(t, is.Len(tlsProxy.Calls(), 0))
	})
	t.Run("standalone binary", func(t *testing.T) {
		plugin := filepath.Join(cli.Config, "cli-plugins", "docker-swarmauth")
		cmd := icmd.Command(plugin, "-H", other.Host, "version", "--format", "json")
		cmd.Env = sandbox.WithoutEnv(cli.Env(), "DOCKER_HOST")
		versionThrough(t, cmd, other, api)

		cmd = icmd.Command(plugin, "--context", "sandbox", "version", "--format", "json")
		cmd.Env = sandbox.WithoutEnv(cli.Env(), "DOCKER_HOST")
		versionThrough(t, cmd, other, api)

		res := icmd.RunCmd(icmd.Command(plugin, "--help"))
		res.Assert(t, icmd.Success)
		assert.Check(t, is.Contains(res.Stdout(), "refresh"))
	})
}

func TestVersionHumanOutput(t *testing.T) {
	s := single(t)
	cli := s.NewCLI(t)
	res := cli.Run("swarmauth", "version")
	res.Assert(t, icmd.Success)
	out := res.Stdout()
	for _, field := range []string{"swarmauth:", "Go version:", "Context:", "Engine:", "Engine API:", "Client API:"} {
		assert.Check(t, is.Contains(out, field))
	}
	assert.Check(t, is.Contains(out, "20.10"), "the sandbox runs Debian's docker.io 20.10")
}
