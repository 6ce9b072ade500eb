// Command bench measures `docker swarmauth refresh` against the cron-style
// loop it replaces and against the raw API floor, side by side in one run on
// a sandbox swarm, with plain config.json credentials and with a credential
// helper that takes 100 ms per call.
//
//	sudo make bench [BENCH_SERVICES=200 BENCH_ROUNDS=3]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/config"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/icmd"
)

func main() {
	services := flag.Int("services", 200, "number of services for the refresh benchmark")
	stackServices := flag.Int("stack-services", 50, "number of services in the stack deploy benchmark")
	rounds := flag.Int("rounds", 3, "measurements per method; the median is reported")
	only := flag.String("only", "", `run only "refresh" or "stack"`)
	flag.Parse()
	if why := sandbox.Requirements(); why != "" {
		fmt.Fprintln(os.Stderr, "bench: "+why)
		os.Exit(1)
	}
	ctx := context.Background()
	sb, err := sandbox.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cannot start the sandbox:", err)
		os.Exit(1)
	}
	err = sandbox.Run(sb, func(p *sandbox.Program) error {
		if *only != "stack" {
			if err := bench(ctx, sb, p, *services, *rounds); err != nil {
				return err
			}
		}
		if *only != "refresh" {
			return benchStack(ctx, sb, p, *stackServices, *rounds)
		}
		return nil
	})
	_ = sb.Close(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

const seedLoop = `for s in $(docker service ls --format '{{.Name}}'); do docker service update -d -q --with-registry-auth "$s" >/dev/null; done`

func bench(ctx context.Context, sb *sandbox.Sandbox, p *sandbox.Program, n, rounds int) error {
	s, err := sb.NewSwarm(ctx, "bench", 0)
	if err != nil {
		return err
	}
	ref, err := s.PushImage(ctx, sb.Private, "bench/app:v1")
	if err != nil {
		return err
	}
	fmt.Printf("creating %d services (replicas 0) on a one-node sandbox swarm...\n", n)
	if err := createServices(ctx, s.Manager.Client, ref, n); err != nil {
		return err
	}

	type setup struct {
		name string
		cli  *sandbox.CLI
	}
	plain := s.NewCLI(p)
	plain.Login(sb.Private)
	slow := s.NewCLI(p)
	h := slow.InstallHelper("slow")
	h.SetCredential(sb.Private.Addr, sb.Private.User, sb.Private.Password())
	h.SetDelay(100 * time.Millisecond)
	slow.WriteConfig(map[string]any{"credHelpers": map[string]string{sb.Private.Addr: "slow"}})

	fmt.Printf("\n%d services, median of %d rounds, measured in this run:\n\n", n, rounds)
	fmt.Println("| credentials | seed loop | swarmauth refresh | raw API floor | seed / swarmauth | swarmauth / floor |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, st := range []setup{{"config.json", plain}, {"helper, 100 ms per call", slow}} {
		seed := median(rounds, func() error {
			res := icmd.RunCmd(icmd.Command("bash", "-c", seedLoop), withEnv(st.cli.Env()))
			return res.Error
		})
		refresh := median(rounds, func() error {
			res := icmd.RunCmd(st.cli.Command("swarmauth", "refresh", "-q"))
			if res.Error != nil {
				return fmt.Errorf("%w: %s", res.Error, res.Combined())
			}
			return nil
		})
		floor := median(rounds, func() error { return rawFloor(ctx, s.Manager, st.cli, sb.Private.Addr) })
		for _, m := range []measured{seed, refresh, floor} {
			if m.err != nil {
				return m.err
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %.1fx | %.2fx |\n", st.name, seed, refresh, floor,
			seed.d.Seconds()/refresh.d.Seconds(), refresh.d.Seconds()/floor.d.Seconds())
	}
	fmt.Println("\ntargets: seed / swarmauth >= 5x (config.json) and >= 20x (helper); swarmauth / floor <= 2x")
	return nil
}

func withEnv(env []string) icmd.CmdOp {
	return func(c *icmd.Cmd) { c.Env = env }
}

type measured struct {
	d   time.Duration
	err error
}

func (m measured) String() string { return fmt.Sprintf("%.2f s", m.d.Seconds()) }

// median times f rounds times and returns the median.
func median(rounds int, f func() error) measured {
	var ds []time.Duration
	for range rounds {
		start := time.Now()
		if err := f(); err != nil {
			return measured{err: err}
		}
		ds = append(ds, time.Since(start))
	}
	return medianOf(ds)
}

func medianOf(ds []time.Duration) measured {
	ds = slices.Sorted(slices.Values(ds))
	return measured{d: ds[len(ds)/2]}
}

func createServices(ctx context.Context, api *client.Client, image string, n int) error {
	zero := uint64(0)
	for i := range n {
		_, err := api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: fmt.Sprintf("svc%03d", i)},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &zero}},
		}})
		if err != nil {
			return err
		}
	}
	return nil
}

// rawFloor is the least any tool must do: read the credentials once (through
// the same store, helper included), list the services once, and send every
// update, 8 at a time, from a process that is already running.
func rawFloor(ctx context.Context, e *sandbox.Engine, cli *sandbox.CLI, registryHost string) error {
	cfg, err := config.Load(cli.Config)
	if err != nil {
		return err
	}
	restore := setenv(cli.Env())
	ac, err := cfg.GetAuthConfig(registryHost)
	restore()
	if err != nil {
		return err
	}
	enc, err := authconfig.Encode(registry.AuthConfig{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken})
	if err != nil {
		return err
	}
	list, err := e.Client.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return err
	}
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(list.Items))
	var wg sync.WaitGroup
	for _, svc := range list.Items {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			_, err := e.Client.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: svc.Spec, EncodedRegistryAuth: enc})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// setenv applies the CLI's PATH and helper directory to this process, so the
// credential helper runs as it does for the CLI, and returns an undo.
func setenv(env []string) func() {
	var undo []func()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "PATH" && k != "SWARMAUTH_SANDBOX_HELPER_DIR" {
			continue
		}
		old, had := os.LookupEnv(k)
		_ = os.Setenv(k, v)
		undo = append(undo, func() {
			if had {
				_ = os.Setenv(k, old)
			} else {
				_ = os.Unsetenv(k)
			}
		})
	}
	return func() {
		for _, u := range undo {
			u()
		}
	}
}
