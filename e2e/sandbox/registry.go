package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// registryModule is the registry the sandbox builds from the Go module proxy.
const registryModule = "github.com/distribution/distribution/v3/cmd/registry@v3.1.2"

// Registry is a distribution registry the sandbox runs on the host side of the
// sandbox network, where every Engine reaches it.
type Registry struct {
	Name string
	Addr string // host:port, as image references name it
	// User is the account of a registry with auth; its password is set with
	// SetPassword.
	User string

	password string
	dir      string
	auth     bool
	proc     *process
}

// CacheDir is where binaries that outlive a run are kept (the registry takes
// minutes to build): $SWARMAUTH_E2E_CACHE, else the user cache directory.
func CacheDir() (string, error) {
	if d := os.Getenv("SWARMAUTH_E2E_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "swarmauth-e2e"), nil
}

// registryBinary returns the cached registry, building it first if needed.
func registryBinary(ctx context.Context) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "registry-v3.1.2")
	bin := filepath.Join(dir, "registry")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tmp, err := os.MkdirTemp(cache+"-tmp", "")
	if errors.Is(err, os.ErrNotExist) {
		if err = os.MkdirAll(cache+"-tmp", 0o755); err == nil {
			tmp, err = os.MkdirTemp(cache+"-tmp", "")
		}
	}
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", registryModule)
	cmd.Dir = tmp // outside our module: go install pkg@version ignores go.mod
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %w\n%s", registryModule, err, b)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// A rename is atomic: a concurrent run sees the binary whole or not at all.
	return bin, os.Rename(filepath.Join(tmp, "registry"), bin)
}

func (sb *Sandbox) startRegistry(ctx context.Context, name string, port int, auth bool) (*Registry, error) {
	bin, err := registryBinary(ctx)
	if err != nil {
		return nil, err
	}
	r := &Registry{
		Name: name,
		Addr: fmt.Sprintf("%s:%d", sb.net.hostIP, port),
		dir:  filepath.Join(sb.Dir, "registry-"+name),
		auth: auth,
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "data"), 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: %s
`, filepath.Join(r.dir, "data"), r.Addr, randomToken())
	if auth {
		r.User = "swarmauth"
		if err := r.SetPassword(randomToken()); err != nil {
			return nil, err
		}
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: sandbox\n    path: %s\n", r.htpasswd())
	}
	cfgPath := filepath.Join(r.dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	// Telemetry exporters off: the sandbox has no network beyond itself.
	env := append(cleanEnv(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	r.proc, err = startProcess("registry "+name, filepath.Join(r.dir, "registry.log"), env, bin, "serve", cfgPath)
	if err != nil {
		return nil, err
	}
	sb.registries = append(sb.registries, r)
	err = Poll(ctx, 30*time.Second, func() error {
		if r.proc.exited() {
			return fmt.Errorf("registry exited: %v", r.proc.err)
		}
		resp, err := http.Get("http://" + r.Addr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("registry %s did not start: %w\n%s", name, err, r.proc.logTail(15))
	}
	return r, nil
}

func (r *Registry) htpasswd() string { return filepath.Join(r.dir, "htpasswd") }

// SetPassword replaces the password of r.User. The registry re-reads its
// htpasswd file when it changes, so the old password stops working at once,
// as when an operator rotates a registry password.
func (r *Registry) SetPassword(password string) error {
	if !r.auth {
		return fmt.Errorf("registry %s has no auth", r.Name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	tmp := r.htpasswd() + ".tmp"
	if err := os.WriteFile(tmp, []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, r.htpasswd()); err != nil {
		return err
	}
	r.password = password
	return nil
}

// Password is the password set last.
func (r *Registry) Password() string { return r.password }

// CheckLogin reports whether the registry accepts user and password now.
func (r *Registry) CheckLogin(user, password string) bool {
	req, _ := http.NewRequest(http.MethodGet, "http://"+r.Addr+"/v2/", nil)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func randomToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
