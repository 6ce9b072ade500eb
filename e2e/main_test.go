// Package e2e drives the real docker CLI, with the swarmauth plugin installed,
// against Engines and registries that the sandbox starts for this test run.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/swarmauth/swarmauth/e2e/sandbox"
)

var sb *sandbox.Sandbox

// swarms are started on first use and shared by the tests of the run; a test
// removes the services it creates.
var (
	clusterOnce = sync.OnceValues(func() (*sandbox.Swarm, error) { return sb.NewSwarm(context.Background(), "c", 1) })
	singleOnce  = sync.OnceValues(func() (*sandbox.Swarm, error) { return sb.NewSwarm(context.Background(), "s", 0) })
)

// cluster is a manager with one worker.
func cluster(t *testing.T) *sandbox.Swarm {
	t.Helper()
	s, err := clusterOnce()
	if err != nil {
		t.Fatalf("multi-node swarm: %v", err)
	}
	return s
}

// single is a one-node swarm.
func single(t *testing.T) *sandbox.Swarm {
	t.Helper()
	s, err := singleOnce()
	if err != nil {
		t.Fatalf("one-node swarm: %v", err)
	}
	return s
}

func TestMain(m *testing.M) {
	// The sandbox cannot run without root and dockerd: say so and fail, never
	// skip, so that a green run always means the e2e tests ran.
	if why := sandbox.Requirements(); why != "" {
		fmt.Fprintln(os.Stderr, "e2e: "+why)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	var err error
	sb, err = sandbox.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot start the sandbox:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e: sandbox %s ready in %s (registries %s, %s)\n", sb.ID, time.Since(start).Round(time.Millisecond), sb.Private.Addr, sb.Public.Addr)

	// Ctrl-C or SIGTERM: tear down what we started, then exit.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %s: tearing down the sandbox\n", s)
		cancel()
		_ = sb.Close(context.Background())
		os.Exit(130)
	}()

	code := m.Run()
	signal.Stop(sigs)
	if err := sb.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: teardown:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
