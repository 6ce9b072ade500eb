package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gotest.tools/v3/icmd"
)

// CLI is a docker CLI for one test: its own HOME and DOCKER_CONFIG with the
// freshly built plugin installed, credential helpers of its own on PATH, and
// DOCKER_HOST pointing at a recording proxy in front of the swarm manager.
type CLI struct {
	Dir    string // HOME
	Config string // DOCKER_CONFIG
	Bin    string // first on PATH
	Proxy  *Proxy

	t   TB
	sb  *Sandbox
	env []string
}

// TB is what the sandbox needs of a test: testing.TB has it, and so can a
// program such as the demo.
type TB interface {
	Helper()
	Fatal(args ...any)
	TempDir() string
	Cleanup(func())
}

// NewCLI prepares a CLI for the test; the test's cleanup closes its proxy.
func (s *Swarm) NewCLI(t TB) *CLI {
	t.Helper()
	dir := t.TempDir()
	c := &CLI{
		Dir:    dir,
		Config: filepath.Join(dir, ".docker"),
		Bin:    filepath.Join(dir, "bin"),
		t:      t,
		sb:     s.sb,
	}
	for _, d := range []string{filepath.Join(c.Config, "cli-plugins"), c.Bin, c.helperRoot()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(s.sb.PluginBinary, filepath.Join(c.Config, "cli-plugins", "docker-swarmauth")); err != nil {
		t.Fatal(err)
	}
	c.WriteConfig(map[string]any{})
	p, err := NewProxy(s.Manager, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	c.Proxy = p
	c.env = append(cleanEnv(),
		"HOME="+c.Dir,
		"DOCKER_CONFIG="+c.Config,
		"DOCKER_HOST="+p.Host,
		"DOCKER_CLI_HINTS=false",
		"PATH="+c.Bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		helperDirEnv+"="+c.helperRoot(),
	)
	return c
}

// Env is the CLI's environment; Command uses it.
func (c *CLI) Env() []string { return append([]string(nil), c.env...) }

// Command returns `docker args...` ready to run with icmd, with the CLI's
// environment. Change cmd.Env to vary it (see WithoutEnv).
func (c *CLI) Command(args ...string) icmd.Cmd {
	cmd := icmd.Command("docker", args...)
	cmd.Env = c.Env()
	return cmd
}

// Run runs `docker args...` and returns the result.
func (c *CLI) Run(args ...string) *icmd.Result {
	c.t.Helper()
	return icmd.RunCmd(c.Command(args...))
}

// WithoutEnv drops the named variables from env.
func WithoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// WriteConfig replaces the CLI's config.json.
func (c *CLI) WriteConfig(cfg map[string]any) {
	c.t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.Config, "config.json"), b, 0o600); err != nil {
		c.t.Fatal(err)
	}
}

// Login runs `docker login` to the registry with its current password.
func (c *CLI) Login(r *Registry) {
	c.t.Helper()
	cmd := c.Command("login", "-u", r.User, "--password-stdin", r.Addr)
	cmd.Stdin = strings.NewReader(r.Password())
	if res := icmd.RunCmd(cmd); res.Error != nil {
		c.t.Fatal("docker login: ", res.Error, "\n", res.Combined())
	}
}

// PushImage makes a test image on the swarm manager from the sandbox's test
// program and pushes it to the registry as repo:tag, logging in first when the
// registry needs it. It returns the full reference. An admin configuration of
// the sandbox's own does the push, so the test CLI's store is left alone.
func (s *Swarm) PushImage(ctx context.Context, r *Registry, repoTag string) (string, error) {
	ref := r.Addr + "/" + repoTag
	tarball, err := s.sb.testAppTar()
	if err != nil {
		return "", err
	}
	admin := filepath.Join(s.sb.Dir, "admin")
	env := append(cleanEnv(), "HOME="+admin, "DOCKER_CONFIG="+filepath.Join(admin, ".docker"), "DOCKER_HOST="+s.Manager.Host)
	docker := func(stdin io.Reader, args ...string) error {
		cmd := icmd.Command("docker", args...)
		cmd.Env, cmd.Stdin = env, stdin
		res := icmd.RunCmd(cmd)
		if res.Error != nil {
			return fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), res.Error, res.Combined())
		}
		return nil
	}
	if err := docker(nil, "import", "-c", `ENTRYPOINT ["/app"]`, tarball, ref); err != nil {
		return "", err
	}
	if r.auth {
		if err := docker(strings.NewReader(r.Password()), "login", "-u", r.User, "--password-stdin", r.Addr); err != nil {
			return "", err
		}
	}
	return ref, docker(nil, "push", ref)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
