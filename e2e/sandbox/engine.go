package sandbox

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Engine is one dockerd the sandbox started, in its own network namespace.
type Engine struct {
	Name   string
	IP     string // its address on the sandbox network
	Dir    string // data-root, exec-root, socket, pid file and log live here
	Host   string // unix:// address of its API socket
	Client *client.Client

	host host
	proc *process
}

// startEngine starts dockerd in a new namespace and waits until it answers.
func (sb *Sandbox) startEngine(ctx context.Context, name string) (*Engine, error) {
	h, err := sb.net.addHost(ctx, name)
	if err != nil {
		return nil, err
	}
	e := &Engine{Name: name, IP: h.ip, Dir: filepath.Join(sb.Dir, name), host: h}
	e.Host = "unix://" + filepath.Join(e.Dir, "docker.sock")
	if err := e.start(ctx, sb); err != nil {
		sb.net.removeHost(context.WithoutCancel(ctx), h)
		return nil, err
	}
	if err := sb.track(e); err != nil {
		_ = e.stop(context.WithoutCancel(ctx), sb)
		return nil, err
	}
	return e, nil
}

func (e *Engine) start(ctx context.Context, sb *Sandbox) error {
	if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return err
	}
	// An empty config file keeps the host's /etc/docker/daemon.json out of it.
	cfg := filepath.Join(e.Dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		return err
	}
	// Each Engine gets its own hostname (a UTS namespace), so that nodes are
	// told apart in `docker node ls` and `service ps`. unshare, nsenter and
	// the shell all exec: the PID we start is dockerd's.
	argv := []string{
		"unshare", "--uts", "--",
		"nsenter", "--net=" + e.host.nsPath(),
		"sh", "-c", `hostname "$0" && exec "$@"`, e.Name,
		"dockerd",
		"--config-file", cfg,
		"--data-root", filepath.Join(e.Dir, "data"),
		"--exec-root", filepath.Join(e.Dir, "exec"),
		"--pidfile", filepath.Join(e.Dir, "docker.pid"),
		"-H", e.Host,
		"--bip", "172.30.0.1/24",
		"--log-level", "warn",
	}
	for _, r := range sb.registries {
		argv = append(argv, "--insecure-registry", r.Addr)
	}
	p, err := startProcess("dockerd "+e.Name, filepath.Join(e.Dir, "dockerd.log"), cleanEnv(), argv...)
	if err != nil {
		return err
	}
	e.proc = p
	e.Client, err = client.New(client.WithHost(e.Host))
	if err != nil {
		_ = p.stop(10 * time.Second)
		return err
	}
	err = Poll(ctx, 60*time.Second, func() error {
		if p.exited() {
			return fmt.Errorf("dockerd exited: %v", p.err)
		}
		_, err := e.Client.Ping(ctx, client.PingOptions{})
		return err
	})
	if err != nil {
		_ = p.stop(10 * time.Second)
		return fmt.Errorf("engine %s did not start: %w\n%s", e.Name, err, p.logTail(15))
	}
	return nil
}

// stop shuts dockerd down (it stops its own containerd and containers) and
// removes its namespace.
func (e *Engine) stop(ctx context.Context, sb *Sandbox) error {
	if e.Client != nil {
		_ = e.Client.Close()
	}
	err := e.proc.stop(30 * time.Second)
	sb.net.removeHost(ctx, e.host)
	return err
}

// Swarm is a manager and its workers.
type Swarm struct {
	Manager *Engine
	Workers []*Engine

	sb          *Sandbox
	name        string
	workerToken string
}

// NewSwarm starts a manager and the given number of workers and forms a swarm.
// name prefixes the Engines' names.
func (sb *Sandbox) NewSwarm(ctx context.Context, name string, workers int) (*Swarm, error) {
	m, err := sb.startEngine(ctx, name+"-m")
	if err != nil {
		return nil, err
	}
	s := &Swarm{Manager: m, sb: sb, name: name}
	_, err = m.Client.SwarmInit(ctx, client.SwarmInitOptions{
		ListenAddr:      "0.0.0.0:2377",
		AdvertiseAddr:   m.IP,
		DefaultAddrPool: []netip.Prefix{netip.MustParsePrefix("10.214.0.0/16")},
		SubnetSize:      24,
	})
	if err != nil {
		return nil, fmt.Errorf("swarm init on %s: %w", m.Name, err)
	}
	info, err := m.Client.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return nil, err
	}
	s.workerToken = info.Swarm.JoinTokens.Worker
	for range workers {
		if _, err := s.AddWorker(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddWorker starts a fresh Engine and joins it to the swarm as a worker, like a
// node an autoscaler adds. It returns once the manager sees the node ready.
func (s *Swarm) AddWorker(ctx context.Context) (*Engine, error) {
	w, err := s.sb.startEngine(ctx, fmt.Sprintf("%s-w%d", s.name, s.sb.nextSerial()))
	if err != nil {
		return nil, err
	}
	_, err = w.Client.SwarmJoin(ctx, client.SwarmJoinOptions{
		ListenAddr:    "0.0.0.0:2377",
		AdvertiseAddr: w.IP,
		RemoteAddrs:   []string{s.Manager.IP + ":2377"},
		JoinToken:     s.workerToken,
	})
	if err != nil {
		return nil, fmt.Errorf("swarm join of %s: %w", w.Name, err)
	}
	id, err := w.NodeID(ctx)
	if err != nil {
		return nil, err
	}
	err = Poll(ctx, 60*time.Second, func() error {
		res, err := s.Manager.Client.NodeInspect(ctx, id, client.NodeInspectOptions{})
		if err != nil {
			return err
		}
		if n := res.Node; n.Status.State != swarm.NodeStateReady {
			return fmt.Errorf("node %s is %s", w.Name, n.Status.State)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Workers = append(s.Workers, w)
	return w, nil
}

// NodeID is the swarm node ID of the Engine.
func (e *Engine) NodeID(ctx context.Context) (string, error) {
	info, err := e.Client.Info(ctx, client.InfoOptions{})
	if err != nil {
		return "", err
	}
	return info.Info.Swarm.NodeID, nil
}

// RemoveWorker makes the worker leave, removes its node and stops its Engine.
func (s *Swarm) RemoveWorker(ctx context.Context, w *Engine) error {
	id, _ := w.NodeID(ctx)
	_, _ = w.Client.SwarmLeave(ctx, client.SwarmLeaveOptions{Force: true})
	err := s.sb.stopEngine(ctx, w)
	if id != "" {
		_, _ = s.Manager.Client.NodeRemove(ctx, id, client.NodeRemoveOptions{Force: true})
	}
	for i, x := range s.Workers {
		if x == w {
			s.Workers = append(s.Workers[:i], s.Workers[i+1:]...)
			break
		}
	}
	return err
}

// Close stops every Engine of the swarm.
func (s *Swarm) Close(ctx context.Context) error {
	var errs []error
	for _, w := range s.Workers {
		errs = append(errs, s.sb.stopEngine(ctx, w))
	}
	errs = append(errs, s.sb.stopEngine(ctx, s.Manager))
	s.Workers = nil
	return joinErrs(errs)
}
