// Command demo shows swarmauth at work on a sandbox swarm it starts itself
// (see package sandbox): the expired-credentials failure the mission is about,
// and `docker swarmauth refresh` fixing it without restarting anything. It
// never touches the machine's own Docker daemon or ~/.docker.
//
//	sudo make demo
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/icmd"
)

func main() {
	if why := sandbox.Requirements(); why != "" {
		fmt.Fprintln(os.Stderr, "demo: "+why)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	step("Starting a sandbox: Engines in their own network namespaces, a registry with a login")
	sb, err := sandbox.Start(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: cannot start the sandbox:", err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Println("\ninterrupted: tearing the sandbox down")
		cancel()
		_ = sb.Close(context.Background())
		os.Exit(130)
	}()
	err = sandbox.Run(sb, func(p *sandbox.Program) error {
		d := &demo{ctx: ctx, sb: sb, tb: p}
		return d.run()
	})
	_ = sb.Close(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type demo struct {
	ctx context.Context
	sb  *sandbox.Sandbox
	tb  *sandbox.Program
	s   *sandbox.Swarm
	cli *sandbox.CLI
}

func step(format string, args ...any) {
	fmt.Printf("\n\033[1m== %s\033[0m\n", fmt.Sprintf(format, args...))
}

// docker shows and runs a docker command with the demo's CLI, as a user would.
func (d *demo) docker(args ...string) { d.dockerWithInput("", args...) }

func (d *demo) dockerWithInput(stdin string, args ...string) {
	fmt.Printf("$ docker %s\n", strings.Join(args, " "))
	cmd := d.cli.Command(args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	res := icmd.RunCmd(cmd)
	fmt.Print(res.Stdout())
	fmt.Print(res.Stderr())
	if res.Error != nil {
		d.tb.Fatal("docker ", args[0], ": ", res.Error)
	}
}

func (d *demo) run() (err error) {
	start := time.Now()
	if d.s, err = d.sb.NewSwarm(d.ctx, "demo", 1); err != nil {
		return err
	}
	ref, err := d.s.PushImage(d.ctx, d.sb.Private, "shop/api:v1")
	if err != nil {
		return err
	}
	d.cli = d.s.NewCLI(d.tb)
	fmt.Printf("swarm: a manager and one worker; private registry %s; image %s (%s)\n", d.sb.Private.Addr, ref, time.Since(start).Round(time.Second))

	step("Log in and create a service that stores the credentials (global: one task per node)")
	d.login()
	d.docker("service", "create", "-d", "-q", "--with-registry-auth", "--mode", "global", "--name", "api", ref)
	nodes := d.nodes()
	for _, n := range nodes {
		d.waitTask("api", n, swarm.TaskStateRunning)
	}
	before := d.runningTasks("api")
	d.docker("service", "ps", "api")

	step("The registry password changes (a token expires); docker login stores the new one")
	if err := d.sb.Private.SetPassword("rotated-" + time.Now().Format("150405")); err != nil {
		return err
	}
	d.login()
	fmt.Println("The service still holds the old credentials. Running tasks do not care...")

	step("...until a new node joins: its task cannot pull the image")
	fresh, err := d.s.AddWorker(d.ctx)
	if err != nil {
		return err
	}
	freshID, _ := fresh.NodeID(d.ctx)
	t := d.waitTask("api", freshID, swarm.TaskStateRejected)
	fmt.Printf("task on the new node: %s: %s\n", t.Status.State, t.Status.Err)

	step("docker swarmauth refresh: fresh credentials into the service, per registry, no restart")
	d.docker("swarmauth", "refresh")

	step("The new node pulls with the fresh credentials")
	d.waitTask("api", freshID, swarm.TaskStateRunning)
	d.docker("service", "ps", "--filter", "desired-state=running", "api")
	after := d.runningTasks("api")
	for node, id := range before {
		if after[node] != id {
			return fmt.Errorf("task %s on node %s was restarted", id, node)
		}
	}
	fmt.Printf("The %d tasks that were running kept their IDs: nothing was restarted.\n", len(before))

	if err := d.stackDeploy(); err != nil {
		return err
	}
	step("Done in %s; tearing the sandbox down", time.Since(start).Round(time.Second))
	return nil
}

// stackDeploy deploys a stack mixing a private and a public image: only the
// private one gets the login.
func (d *demo) stackDeploy() error {
	public, err := d.s.PushImage(d.ctx, d.sb.Public, "tools/web:v1")
	if err != nil {
		return err
	}
	private, err := d.s.PushImage(d.ctx, d.sb.Private, "shop/worker:v1")
	if err != nil {
		return err
	}
	compose := fmt.Sprintf(`services:
  web:
    image: %s
  worker:
    image: %s
    secrets: [api_key]
secrets:
  api_key:
    environment: API_KEY
`, public, private)
	dir := d.tb.TempDir()
	path := dir + "/compose.yml"
	if err := os.WriteFile(path, []byte(compose), 0o600); err != nil {
		return err
	}
	step("docker swarmauth stack deploy: registry auth per service, the public image gets none")
	fmt.Print(compose)
	cmd := d.cli.Command("swarmauth", "stack", "deploy", "-c", path, "shop")
	cmd.Env = append(cmd.Env, "API_KEY=demo-key")
	fmt.Println("$ API_KEY=... docker swarmauth stack deploy -c compose.yml shop")
	res := icmd.RunCmd(cmd)
	fmt.Print(res.Stdout(), res.Stderr())
	if res.Error != nil {
		return fmt.Errorf("stack deploy: %w", res.Error)
	}
	for _, svc := range []string{"shop_web", "shop_worker"} {
		err := sandbox.Poll(d.ctx, 2*time.Minute, func() error {
			if len(d.runningTasks(svc)) == 0 {
				return fmt.Errorf("%s has no running task", svc)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	d.docker("stack", "services", "shop")

	step("docker swarmauth secret rotate: the next version, every service moved onto it")
	secrets, err := d.s.Manager.Client.SecretList(d.ctx, client.SecretListOptions{})
	if err != nil {
		return err
	}
	for _, sec := range secrets.Items {
		if strings.HasPrefix(sec.Spec.Name, "shop_api_key_") {
			d.docker("swarmauth", "secret", "rotate", "--generate", sec.Spec.Name)
			d.docker("swarmauth", "secret", "history", "shop_api_key")
		}
	}
	return nil
}

func (d *demo) login() {
	r := d.sb.Private
	d.dockerWithInput(r.Password(), "login", "-u", r.User, "--password-stdin", r.Addr)
}

func (d *demo) nodes() []string {
	res, err := d.s.Manager.Client.NodeList(d.ctx, client.NodeListOptions{})
	if err != nil {
		d.tb.Fatal(err)
	}
	var ids []string
	for _, n := range res.Items {
		ids = append(ids, n.ID)
	}
	return ids
}

func (d *demo) tasks(service string) []swarm.Task {
	res, err := d.s.Manager.Client.TaskList(d.ctx, client.TaskListOptions{Filters: client.Filters{}.Add("service", service)})
	if err != nil {
		d.tb.Fatal(err)
	}
	return res.Items
}

func (d *demo) runningTasks(service string) map[string]string {
	out := map[string]string{}
	for _, t := range d.tasks(service) {
		if t.Status.State == swarm.TaskStateRunning {
			out[t.NodeID] = t.ID
		}
	}
	return out
}

func (d *demo) waitTask(service, node string, state swarm.TaskState) swarm.Task {
	var found swarm.Task
	err := sandbox.Poll(d.ctx, 2*time.Minute, func() error {
		for _, t := range d.tasks(service) {
			if t.NodeID == node && t.Status.State == state {
				found = t
				return nil
			}
		}
		return fmt.Errorf("no %s task of %s on node %s", state, service, node)
	})
	if err != nil {
		d.tb.Fatal(err)
	}
	return found
}
