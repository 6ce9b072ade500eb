package auth

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/cli/cli/config/configfile"
	clitypes "github.com/docker/cli/cli/config/types"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// fakeHelpers makes a store whose helpers are shell snippets, keyed by helper
// name, and counts the calls per helper.
func fakeHelpers(t *testing.T, cfg *configfile.ConfigFile, timeout time.Duration, scripts map[string]string) (*CredentialStore, map[string]*atomic.Int32) {
	t.Helper()
	calls := map[string]*atomic.Int32{}
	for name := range scripts {
		calls["docker-credential-"+name] = &atomic.Int32{}
	}
	s := NewCredentialStore(cfg, timeout)
	s.getenv = func(string) string { return "" }
	s.helperCommand = func(ctx context.Context, name string, args ...string) *exec.Cmd {
		calls[name].Add(1)
		script := scripts[strings.TrimPrefix(name, "docker-credential-")]
		return exec.CommandContext(ctx, "/bin/sh", "-c", script, name, args[0])
	}
	return s, calls
}

func decode(t *testing.T, encoded string) registry.AuthConfig {
	t.Helper()
	ac, err := authconfig.Decode(encoded)
	assert.NilError(t, err)
	return *ac
}

func TestEmptyAuthIsEncodedEmptyConfig(t *testing.T) {
	enc, err := authconfig.Encode(registry.AuthConfig{})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(enc, EmptyAuth))
}

func TestCredentialsFromFile(t *testing.T) {
	cfg := configfile.New("config.json")
	cfg.AuthConfigs = map[string]clitypes.AuthConfig{
		"registry.example.com":        {Username: "alice", Password: "s3cret", ServerAddress: "registry.example.com"},
		"https://index.docker.io/v1/": {Username: "hubuser", Password: "hubpass"},
		"https://legacy.example.com":  {Username: "bob", Password: "old"},
	}
	s, _ := fakeHelpers(t, cfg, time.Second, nil)
	ctx := context.Background()

	c, err := s.Get(ctx, "registry.example.com")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(c.Source.String(), "file"))
	got := decode(t, c.Encoded)
	assert.Check(t, is.Equal(got.Username, "alice"))
	assert.Check(t, is.Equal(got.Password, "s3cret"))

	c, err = s.Get(ctx, "docker.io")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(decode(t, c.Encoded).Username, "hubuser"), "Docker Hub lives under its historical key")

	c, err = s.Get(ctx, "legacy.example.com")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(decode(t, c.Encoded).Username, "bob"), "URL-style keys match their host")

	c, err = s.Get(ctx, "unknown.example.com")
	assert.NilError(t, err)
	assert.Check(t, !c.Found())
	assert.Check(t, is.Equal(c.Encoded, ""), "no credentials must never encode to an empty auth")
}

func TestCredentialsFromHelpers(t *testing.T) {
	cfg := configfile.New("config.json")
	cfg.CredentialsStore = "desktop"
	cfg.CredentialHelpers = map[string]string{"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}
	s, calls := fakeHelpers(t, cfg, 5*time.Second, map[string]string{
		"ecr-login": `read url; echo "{\"ServerURL\":\"$url\",\"Username\":\"AWS\",\"Secret\":\"token-1\"}"`,
		"desktop":   `read url; case "$url" in ghcr.io) echo '{"Username":"<token>","Secret":"idtoken"}';; *) echo "credentials not found in native keychain"; exit 1;; esac`,
	})
	ctx := context.Background()

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			c, err := s.Get(ctx, "123.dkr.ecr.eu-west-1.amazonaws.com")
			assert.Check(t, err)
			assert.Check(t, is.Equal(c.Source.String(), "credHelper:ecr-login"))
			assert.Check(t, is.Equal(decode(t, c.Encoded).Password, "token-1"))
		})
	}
	wg.Wait()
	assert.Check(t, is.Equal(calls["docker-credential-ecr-login"].Load(), int32(1)), "one helper call per registry")

	c, err := s.Get(ctx, "ghcr.io")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(c.Source.String(), "credsStore:desktop"))
	got := decode(t, c.Encoded)
	assert.Check(t, is.Equal(got.IdentityToken, "idtoken"))
	assert.Check(t, is.Equal(got.Username, ""))

	c, err = s.Get(ctx, "quay.io")
	assert.NilError(t, err)
	assert.Check(t, !c.Found())
}

func TestHelperFailureNeverShowsItsOutput(t *testing.T) {
	cfg := configfile.New("config.json")
	cfg.CredentialHelpers = map[string]string{"r.example": "broken", "m.example": "garbled"}
	s, _ := fakeHelpers(t, cfg, 5*time.Second, map[string]string{
		"broken":  `echo "oops, here is the token: SECRET-XYZ"; exit 3`,
		"garbled": `echo "{not json SECRET-XYZ"`,
	})
	_, err := s.Get(context.Background(), "r.example")
	assert.Check(t, is.ErrorContains(err, "credential helper docker-credential-broken failed: exit status 3"))
	assert.Check(t, !strings.Contains(err.Error(), "SECRET"), err.Error())

	_, err = s.Get(context.Background(), "m.example")
	assert.Check(t, is.ErrorContains(err, "docker-credential-garbled returned malformed output"))
	assert.Check(t, !strings.Contains(err.Error(), "SECRET"), err.Error())
}

func TestHungHelperIsCutOff(t *testing.T) {
	cfg := configfile.New("config.json")
	cfg.CredentialHelpers = map[string]string{"r.example": "hung"}
	s, _ := fakeHelpers(t, cfg, 200*time.Millisecond, map[string]string{"hung": `exec sleep 30`})
	start := time.Now()
	_, err := s.Get(context.Background(), "r.example")
	assert.Check(t, is.Error(err, "credential helper docker-credential-hung did not answer within 200ms"))
	assert.Check(t, time.Since(start) < 5*time.Second, "the helper was not killed: %s", time.Since(start))
}

func TestCredentialsFromEnvironment(t *testing.T) {
	cfg := configfile.New("config.json")
	cfg.CredentialsStore = "never-called"
	s, calls := fakeHelpers(t, cfg, time.Second, map[string]string{"never-called": `exit 1`})
	env := `{"auths":{"ci.example":{"auth":"Y2k6dG9rZW4="}}}` // ci:token
	s.getenv = func(k string) string {
		if k == configfile.DockerEnvConfigKey {
			return env
		}
		return ""
	}
	t.Setenv(configfile.DockerEnvConfigKey, env) // the CLI's resolver reads it too
	c, err := s.Get(context.Background(), "ci.example")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(c.Source.String(), "env"))
	assert.Check(t, is.Equal(decode(t, c.Encoded).Password, "token"))
	assert.Check(t, is.Equal(calls["docker-credential-never-called"].Load(), int32(0)))
}
