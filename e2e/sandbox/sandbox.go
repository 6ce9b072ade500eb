package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sandbox owns everything one test run starts.
type Sandbox struct {
	ID  string
	Dir string // run directory, removed by Close

	// Private requires a login; Public serves anyone.
	Private *Registry
	Public  *Registry

	// Binaries built for this run.
	PluginBinary  string // docker-swarmauth
	HelperBinary  string // docker-credential-sandbox
	TestAppBinary string // the static program inside test images

	net        *network
	registries []*Registry
	tarState

	mu      sync.Mutex
	engines []*Engine
	serial  int
	closed  bool

	closeOnce sync.Once
	closeErr  error
}

// Requirements explains in one line why the sandbox cannot run here, or is "".
func Requirements() string {
	if os.Geteuid() != 0 {
		return "the e2e sandbox needs root: it starts its own dockerd Engines in network namespaces (run `sudo make e2e`)"
	}
	var missing []string
	for _, bin := range []string{"dockerd", "docker", "ip", "nsenter", "iptables", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return fmt.Sprintf("the e2e sandbox needs %s on PATH (Debian/Ubuntu: run scripts/ensure-deps.sh as root, or apt-get install docker.io iproute2 iptables util-linux)", strings.Join(missing, ", "))
	}
	return ""
}

// Start builds what the run needs, creates the network and starts the
// registries. Engines and swarms start on demand (NewSwarm).
func Start(ctx context.Context) (sb *Sandbox, err error) {
	if why := Requirements(); why != "" {
		return nil, errors.New(why)
	}
	sweepStale(ctx)

	id := make([]byte, 3)
	_, _ = rand.Read(id)
	sb = &Sandbox{ID: hex.EncodeToString(id)}
	// Short path: Unix socket paths are limited to 108 bytes.
	sb.Dir = filepath.Join(os.TempDir(), "sa-"+sb.ID)
	if err := os.MkdirAll(filepath.Join(sb.Dir, "bin"), 0o700); err != nil {
		return nil, err
	}
	if err := sb.saveState(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = sb.Close(context.WithoutCancel(ctx))
		}
	}()

	if err := sb.buildBinaries(ctx); err != nil {
		return nil, err
	}
	if sb.net, err = newNetwork(ctx, sb.ID); err != nil {
		return nil, err
	}
	if err := sb.saveState(); err != nil {
		return nil, err
	}
	if sb.Private, err = sb.startRegistry(ctx, "private", 5000, true); err != nil {
		return nil, err
	}
	if sb.Public, err = sb.startRegistry(ctx, "public", 5001, false); err != nil {
		return nil, err
	}
	return sb, nil
}

// buildBinaries builds the plugin, the credential helper and the test program
// in parallel, and the registry once per machine (it is cached).
func (sb *Sandbox) buildBinaries(ctx context.Context) error {
	bin := filepath.Join(sb.Dir, "bin")
	sb.PluginBinary = os.Getenv("SWARMAUTH_E2E_PLUGIN")
	sb.HelperBinary = filepath.Join(bin, "docker-credential-sandbox")
	sb.TestAppBinary = filepath.Join(bin, "testapp")
	static := []string{"CGO_ENABLED=0"}
	jobs := []func() error{
		func() error { return goBuild(ctx, sb.HelperBinary, "./e2e/cmd/docker-credential-sandbox", static) },
		func() error { return goBuild(ctx, sb.TestAppBinary, "./e2e/cmd/testapp", static) },
		func() error { _, err := registryBinary(ctx); return err },
	}
	if sb.PluginBinary == "" {
		sb.PluginBinary = filepath.Join(bin, "docker-swarmauth")
		// Static, like make build: it also runs inside a FROM scratch image.
		jobs = append(jobs, func() error { return goBuild(ctx, sb.PluginBinary, "./cli-plugin", static) })
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Go(func() { errs[i] = job() })
	}
	wg.Wait()
	return joinErrs(errs)
}

// goBuild builds a package of this module.
func goBuild(ctx context.Context, out, pkg string, env []string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

var moduleRoot = sync.OnceValues(func() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("the e2e tests must run inside the swarmauth module")
	}
	return filepath.Dir(gomod), nil
})

// track records a started Engine for teardown. It refuses once teardown has
// begun; the caller then stops the Engine itself.
func (sb *Sandbox) track(e *Engine) error {
	sb.mu.Lock()
	if sb.closed {
		sb.mu.Unlock()
		return errors.New("the sandbox is shutting down")
	}
	sb.engines = append(sb.engines, e)
	sb.mu.Unlock()
	return sb.saveState()
}

func (sb *Sandbox) nextSerial() int {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.serial++
	return sb.serial
}

func (sb *Sandbox) stopEngine(ctx context.Context, e *Engine) error {
	sb.mu.Lock()
	i := slices.Index(sb.engines, e)
	if i < 0 {
		sb.mu.Unlock()
		return nil // already stopped
	}
	sb.engines = slices.Delete(sb.engines, i, i+1)
	sb.mu.Unlock()
	err := e.stop(ctx, sb)
	_ = sb.saveState()
	return err
}

// Close stops every process the sandbox started, newest first, then removes
// its network, mounts and run directory. Concurrent and later calls wait for
// the one teardown and return its result.
func (sb *Sandbox) Close(ctx context.Context) error {
	sb.closeOnce.Do(func() { sb.closeErr = sb.teardown(ctx) })
	return sb.closeErr
}

func (sb *Sandbox) teardown(ctx context.Context) error {
	sb.mu.Lock()
	sb.closed = true
	engines := slices.Clone(sb.engines)
	sb.mu.Unlock()

	var errs []error
	for _, e := range slices.Backward(engines) {
		errs = append(errs, sb.stopEngine(ctx, e))
	}
	for _, r := range sb.registries {
		errs = append(errs, r.proc.stop(10*time.Second))
	}
	if sb.net != nil {
		sb.net.close(ctx)
	}
	unmountUnder(sb.Dir)
	errs = append(errs, os.RemoveAll(sb.Dir))
	_ = os.Remove(statePath(sb.ID))
	return joinErrs(errs)
}

// cleanEnv is the environment for the programs the sandbox starts: the test's
// own, without anything that would point them at another daemon.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") {
			env = append(env, kv)
		}
	}
	return env
}

func joinErrs(errs []error) error {
	return errors.Join(slices.DeleteFunc(errs, func(e error) bool { return e == nil })...)
}
