package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/e2e/sandbox"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// removeStack removes a stack's services, secrets, configs and networks when
// the test ends.
func removeStack(t *testing.T, cli *sandbox.CLI, name string) {
	t.Cleanup(func() { cli.Run("stack", "rm", name) })
}

// stackState is everything a stack made, with the stack's name and object IDs
// replaced by placeholders, for comparing two stacks.
func stackState(t *testing.T, s *sandbox.Swarm, namespace string) map[string]string {
	t.Helper()
	ctx := context.Background()
	api := s.Manager.Client
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace="+namespace)
	netNames := map[string]string{}
	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	assert.NilError(t, err)
	for _, n := range nets.Items {
		netNames[n.ID] = n.Name
	}
	norm := func(v any) string {
		b, err := json.Marshal(v)
		assert.NilError(t, err)
		var generic any
		assert.NilError(t, json.Unmarshal(b, &generic))
		dropOwnLabels(generic)
		b, err = json.MarshalIndent(generic, "", "  ")
		assert.NilError(t, err)
		out := regexp.MustCompile(`"(SecretID|ConfigID)": "[a-z0-9]+"`).ReplaceAllString(string(b), `"$1": "ID"`)
		// swarmauth's own additions, documented: versioned secret and config
		// names (_<digest>), and labels recording lineage and registry auth.
		out = regexp.MustCompile(`_[0-9a-f]{10}"`).ReplaceAllString(out, `"`)
		out = strings.ReplaceAll(out, `"`+namespace+`_`, `"STACK_`)
		out = strings.ReplaceAll(out, `"com.docker.stack.namespace": "`+namespace+`"`, `"com.docker.stack.namespace": "STACK"`)
		return out
	}
	state := map[string]string{}
	svcs, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: filter})
	assert.NilError(t, err)
	for _, svc := range svcs.Items {
		spec := svc.Spec
		// docker orders references to the same secret at random (a map).
		if cs := spec.TaskTemplate.ContainerSpec; cs != nil {
			slices.SortFunc(cs.Secrets, func(a, b *swarm.SecretReference) int {
				return strings.Compare(a.SecretName+"/"+a.File.Name, b.SecretName+"/"+b.File.Name)
			})
		}
		for i, n := range spec.TaskTemplate.Networks {
			spec.TaskTemplate.Networks[i].Target = netNames[n.Target]
		}
		state["service "+strings.TrimPrefix(spec.Name, namespace+"_")] = norm(spec)
	}
	for _, n := range nets.Items {
		if n.Labels["com.docker.stack.namespace"] == namespace {
			full, err := api.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
			assert.NilError(t, err)
			nw := full.Network
			delete(nw.Options, "com.docker.network.driver.overlay.vxlanid_list") // allocated by the swarm
			state["network "+strings.TrimPrefix(nw.Name, namespace+"_")] = norm(map[string]any{
				"Driver": nw.Driver, "Options": nw.Options, "Labels": nw.Labels, "Attachable": nw.Attachable,
				"Internal": nw.Internal, "Scope": nw.Scope,
			})
		}
	}
	secrets, err := api.SecretList(ctx, client.SecretListOptions{Filters: filter})
	assert.NilError(t, err)
	versioned := regexp.MustCompile(`_[0-9a-f]{10}$`)
	for _, sec := range secrets.Items {
		state["secret "+versioned.ReplaceAllString(strings.TrimPrefix(sec.Spec.Name, namespace+"_"), "")] = norm(sec.Spec)
	}
	configs, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: filter})
	assert.NilError(t, err)
	for _, c := range configs.Items {
		state["config "+versioned.ReplaceAllString(strings.TrimPrefix(c.Spec.Name, namespace+"_"), "")] = norm(c.Spec)
	}
	return state
}

// dropOwnLabels removes swarmauth's labels (swarmauth.*) from every Labels map.
func dropOwnLabels(v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if labels, ok := val.(map[string]any); ok && k == "Labels" {
				for l := range labels {
					if strings.HasPrefix(l, "swarmauth.") {
						delete(labels, l)
					}
				}
			}
			dropOwnLabels(val)
		}
	case []any:
		for _, val := range x {
			dropOwnLabels(val)
		}
	}
}

// TestStackDeployParity deploys one compose file with `docker stack deploy`
// and with `docker swarmauth stack deploy`, as two stacks, and compares every
// service, network, secret and config spec they produce.
func TestStackDeployParity(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "parity/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	compose, err := filepath.Abs("testdata/parity/compose.yml")
	assert.NilError(t, err)

	deploy := func(args ...string) {
		cmd := cli.Command(args...)
		cmd.Env = append(cmd.Env, "IMAGE="+ref)
		cmd.Dir = filepath.Dir(compose)
		icmd.RunCmd(cmd).Assert(t, icmd.Success)
	}
	// One after the other: the two stacks would publish the same ports.
	removeStack(t, cli, "dockers")
	deploy("stack", "deploy", "-c", compose, "dockers")
	theirs := stackState(t, s, "dockers")
	cli.Run("stack", "rm", "dockers").Assert(t, icmd.Success)
	waitStackGone(t, s, "dockers")

	removeStack(t, cli, "ours")
	deploy("swarmauth", "stack", "deploy", "-c", compose, "ours")
	ours := stackState(t, s, "ours")
	assert.Check(t, len(theirs) >= 8, "docker's stack made only %d objects", len(theirs))
	for k, v := range theirs {
		assert.Check(t, is.Equal(ours[k], v), "%s differs", k)
	}
	for k := range ours {
		_, ok := theirs[k]
		assert.Check(t, ok, "%s exists only in ours", k)
	}
}

// waitStackGone waits until the stack's services and networks are removed
// (docker removes networks once their tasks are gone).
func waitStackGone(t *testing.T, s *sandbox.Swarm, namespace string) {
	t.Helper()
	ctx := context.Background()
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace="+namespace)
	err := sandbox.Poll(ctx, 60*time.Second, func() error {
		svcs, err := s.Manager.Client.ServiceList(ctx, client.ServiceListOptions{Filters: filter})
		if err != nil {
			return err
		}
		nets, err := s.Manager.Client.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
		if err != nil {
			return err
		}
		if n := len(svcs.Items) + len(nets.Items); n > 0 {
			return fmt.Errorf("%d services and networks of %s left", n, namespace)
		}
		return nil
	})
	assert.NilError(t, err)
}

// writeFiles writes name -> content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

// createAuth maps service names to the X-Registry-Auth class of their
// create call.
func createAuth(p *sandbox.Proxy) map[string]string {
	out := map[string]string{}
	for _, c := range p.Calls() {
		if c.Method == "POST" && c.Path == "/services/create" {
			out[c.Name] = c.RegistryAuth
		}
	}
	return out
}

const shopCompose = `
name: from-the-file
services:
  api:
    image: ${PRIVATE_IMAGE}
    command: ["cat", "/run/secrets/db_password", "/etc/app.conf"]
    secrets: [db_password]
    configs:
      - source: app_conf
        target: /etc/app.conf
  tool:
    image: ${PUBLIC_IMAGE}
    depends_on:
      api:
        condition: service_started
  forced:
    image: ${PUBLIC_IMAGE}
    x-swarmauth:
      registry-auth: always
secrets:
  db_password:
    environment: DB_PASSWORD
configs:
  app_conf:
    content: |
      mode=${APP_MODE:-prod}
`

// TestStackDeployRegistryAuthPerService: private images get their registry's
// credentials, public ones none, x-swarmauth overrides the policy; secrets
// from the environment and configs with inline content reach the running
// task; docker stack rm removes what we deployed.
func TestStackDeployRegistryAuthPerService(t *testing.T) {
	ctx := context.Background()
	s := cluster(t)
	private, err := s.PushImage(ctx, sb.Private, "shop/api:v1")
	assert.NilError(t, err)
	public, err := s.PushImage(ctx, sb.Public, "shop/tool:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	cli.WriteConfig(authsConfig(sb.Private, sb.Public))
	dir := writeFiles(t, map[string]string{"compose.yml": shopCompose, ".env": "APP_MODE=staging\n"})
	deploy := func() *icmd.Result {
		cmd := cli.Command("swarmauth", "stack", "deploy", "-c", filepath.Join(dir, "compose.yml"), "shop")
		cmd.Env = append(cmd.Env, "PRIVATE_IMAGE="+private, "PUBLIC_IMAGE="+public, "DB_PASSWORD=s3cret-from-env")
		res := icmd.RunCmd(cmd)
		res.Assert(t, icmd.Success)
		return res
	}
	removeStack(t, cli, "shop")

	res := deploy()
	out := res.Stdout()
	assert.Check(t, is.Contains(out, "Creating service shop_api: registry auth attached (file)"))
	assert.Check(t, is.Contains(out, "Creating service shop_tool: no registry auth (public image)"))
	assert.Check(t, is.Contains(out, "Creating service shop_forced: registry auth attached (file)"))
	assert.Check(t, is.DeepEqual(createAuth(cli.Proxy), map[string]string{
		"shop_api":    sandbox.AuthCredentials,
		"shop_tool":   sandbox.AuthNone,
		"shop_forced": sandbox.AuthCredentials,
	}))

	// The api task prints its secret and config, then keeps running.
	waitForTask(t, s, "shop_api", swarm.TaskStateRunning)
	var logs string
	err = sandbox.Poll(ctx, 30*time.Second, func() error {
		logs = cli.Run("service", "logs", "--raw", "shop_api").Combined()
		if !strings.Contains(logs, "/etc/app.conf") {
			return fmt.Errorf("no output yet: %q", logs)
		}
		return nil
	})
	assert.NilError(t, err)
	assert.Check(t, is.Contains(logs, "/run/secrets/db_password: s3cret-from-env"))
	assert.Check(t, is.Contains(logs, "/etc/app.conf: mode=staging"), "the .env file was read")

	// A second deploy of the same files changes nothing: no update call.
	cli.Proxy.Reset()
	before := versions(t, s, "shop_api", "shop_tool", "shop_forced")
	res = deploy()
	assert.Check(t, is.Contains(res.Stdout(), "Stack shop is up to date"))
	assert.Check(t, is.Len(authByService(t, s, cli.Proxy), 0))
	assert.Check(t, is.Len(changed(t, s, before), 0))

	// --refresh-auth sends the credentials again, without restarting a task.
	tasksBefore := runningTasks(t, s, "shop_api")
	cli.Proxy.Reset()
	refresh := cli.Command("swarmauth", "stack", "deploy", "--refresh-auth", "-c", filepath.Join(dir, "compose.yml"), "shop")
	refresh.Env = append(refresh.Env, "PRIVATE_IMAGE="+private, "PUBLIC_IMAGE="+public, "DB_PASSWORD=s3cret-from-env")
	icmd.RunCmd(refresh).Assert(t, icmd.Success)
	assert.Check(t, is.DeepEqual(authByService(t, s, cli.Proxy), map[string][]string{
		"shop_api":    {sandbox.AuthCredentials},
		"shop_tool":   {sandbox.AuthEmpty},
		"shop_forced": {sandbox.AuthCredentials},
	}))
	assert.Check(t, is.DeepEqual(runningTasks(t, s, "shop_api"), tasksBefore), "no task restarted")

	// docker's own stack commands see our stack, and remove all of it.
	ls := cli.Run("stack", "ls", "--format", "{{.Name}} {{.Services}}")
	assert.Check(t, is.Contains(ls.Stdout(), "shop 3"))
	cli.Run("stack", "rm", "shop").Assert(t, icmd.Success)
	waitStackGone(t, s, "shop")
	filter := client.Filters{}.Add("label", "com.docker.stack.namespace=shop")
	secrets, err := s.Manager.Client.SecretList(ctx, client.SecretListOptions{Filters: filter})
	assert.NilError(t, err)
	configs, err := s.Manager.Client.ConfigList(ctx, client.ConfigListOptions{Filters: filter})
	assert.NilError(t, err)
	assert.Check(t, is.Len(secrets.Items, 0))
	assert.Check(t, is.Len(configs.Items, 0))
}

// TestStackDeployBadInputChangesNothing: loading and conversion errors name
// the file and field, and the swarm is left exactly as it was.
func TestStackDeployBadInputChangesNothing(t *testing.T) {
	s := single(t)
	cli := s.NewCLI(t)
	cases := []struct {
		name, compose, want string
	}{
		{"not an integer", "services:\n  web:\n    image: nginx\n    deploy:\n      replicas: many\n", "compose.yml: error while interpolating services.web.deploy.replicas"},
		{"undefined secret", "services:\n  web:\n    image: nginx\n    secrets: [nope]\n", `compose.yml: service "web" refers to undefined secret nope`},
		{"no image", "services:\n  web:\n    command: [sleep]\n", `compose.yml: service "web" has neither an image nor a build context`},
		{"bad x-swarmauth", "services:\n  web:\n    image: nginx\n    x-swarmauth:\n      registry-auth: sometimes\n", "compose.yml: services.web.x-swarmauth.registry-auth: must be auto, always or never"},
		{"missing secret file", "services:\n  web:\n    image: nginx\n    secrets: [s]\nsecrets:\n  s:\n    file: ./missing.txt\n", "compose.yml: secrets.s.file: open "},
		{"missing variable", "services:\n  web:\n    image: ${NOPE:?set NOPE to the image}\n", "compose.yml: "},
		{"oversized secret", "services:\n  web:\n    image: nginx\n    secrets: [big]\nsecrets:\n  big:\n    file: ./big.txt\n", "secret bad_big is 614400 bytes; the swarm takes at most 512000"},
	}
	removeStack(t, cli, "bad") // should anything get through
	before := stackState(t, s, "bad")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"compose.yml": tc.compose, "big.txt": strings.Repeat("x", 600*1024)})
			res := cli.Run("swarmauth", "stack", "deploy", "-c", filepath.Join(dir, "compose.yml"), "bad")
			res.Assert(t, icmd.Expected{ExitCode: 1, Err: tc.want})
			assert.Check(t, is.DeepEqual(stackState(t, s, "bad"), before))
			for _, c := range cli.Proxy.Calls() {
				assert.Check(t, c.Method == "GET" || c.Method == "HEAD", "%s wrote: %s %s", tc.name, c.Method, c.Path)
			}
		})
	}
}

// TestStackDeployFromStdin: `-c -` reads the compose file from standard input,
// and the top-level name stands in for a missing stack argument.
func TestStackDeployFromStdin(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Public, "stdin/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	removeStack(t, cli, "piped")
	cmd := cli.Command("swarmauth", "stack", "deploy", "-c", "-")
	cmd.Stdin = strings.NewReader("name: piped\nservices:\n  app:\n    image: " + ref + "\n    deploy:\n      replicas: 0\n")
	icmd.RunCmd(cmd).Assert(t, icmd.Expected{Out: "Creating service piped_app"})
	svc := inspect(t, s, "piped_app")
	assert.Check(t, is.Equal(svc.Spec.Labels["com.docker.stack.namespace"], "piped"))
	assert.Check(t, is.Equal(svc.Spec.Labels["com.docker.stack.image"], ref))
}
