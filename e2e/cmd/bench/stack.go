package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/icmd"
)

// benchStack times `docker stack deploy` against `docker swarmauth stack
// deploy` for an n-service stack of private images (5 distinct tags), first
// deploy and unchanged redeploy, for each --resolve-image mode.
func benchStack(ctx context.Context, sb *sandbox.Sandbox, p *sandbox.Program, n, rounds int) error {
	s, err := sb.NewSwarm(ctx, "stack", 0)
	if err != nil {
		return err
	}
	var images []string
	for i := range 5 {
		ref, err := s.PushImage(ctx, sb.Private, fmt.Sprintf("bench/stack:v%d", i))
		if err != nil {
			return err
		}
		images = append(images, ref)
	}
	cli := s.NewCLI(p)
	cli.Login(sb.Private)
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  svc%03d:\n    image: %s\n    deploy:\n      replicas: 0\n", i, images[i%len(images)])
	}
	compose := filepath.Join(p.TempDir(), "compose.yml")
	if err := os.WriteFile(compose, []byte(b.String()), 0o600); err != nil {
		return err
	}

	tools := []struct {
		name string
		args []string
	}{
		{"docker stack deploy", []string{"stack", "deploy", "--with-registry-auth"}},
		// Detached, like docker stack deploy by default.
		{"swarmauth stack deploy", []string{"swarmauth", "stack", "deploy", "-d"}},
	}
	fmt.Printf("\n%d-service stack (5 distinct private images), median of %d rounds, measured in this run:\n\n", n, rounds)
	fmt.Println("| --resolve-image | deploy | docker stack deploy | swarmauth stack deploy | docker / swarmauth |")
	fmt.Println("|---|---|---|---|---|")
	stackNo := 0
	for _, mode := range []string{"always", "changed", "never"} {
		var first, again [2]measured
		for i, tool := range tools {
			var firsts, agains []time.Duration
			for range rounds {
				stackNo++
				name := fmt.Sprintf("b%d", stackNo)
				run := func() (time.Duration, error) {
					args := append(append([]string{}, tool.args...), "-c", compose, "--resolve-image", mode, name)
					start := time.Now()
					res := icmd.RunCmd(cli.Command(args...))
					if res.Error != nil {
						return 0, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), res.Error, res.Combined())
					}
					return time.Since(start), nil
				}
				d1, err := run()
				if err != nil {
					return err
				}
				d2, err := run()
				if err != nil {
					return err
				}
				firsts, agains = append(firsts, d1), append(agains, d2)
				if err := removeStack(ctx, s, cli, name); err != nil {
					return err
				}
			}
			first[i], again[i] = medianOf(firsts), medianOf(agains)
		}
		fmt.Printf("| %s | first | %s | %s | %.1fx |\n", mode, first[0], first[1], first[0].d.Seconds()/first[1].d.Seconds())
		fmt.Printf("| %s | unchanged | %s | %s | %.1fx |\n", mode, again[0], again[1], again[0].d.Seconds()/again[1].d.Seconds())
	}
	fmt.Println("\ntargets: never slower; with --resolve-image always at least 5x faster")
	return nil
}

func removeStack(ctx context.Context, s *sandbox.Swarm, cli *sandbox.CLI, name string) error {
	if res := icmd.RunCmd(cli.Command("stack", "rm", name)); res.Error != nil {
		return fmt.Errorf("stack rm %s: %w", name, res.Error)
	}
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace="+name)
	return sandbox.Poll(ctx, time.Minute, func() error {
		nets, err := s.Manager.Client.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			return err
		}
		if len(nets.Items) > 0 {
			return fmt.Errorf("stack %s not gone yet", name)
		}
		return nil
	})
}
