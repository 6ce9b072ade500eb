// Package stack deploys Compose Specification stacks to a swarm: load
// (compose-go) -> convert (swarm specs, as `docker stack deploy` makes them) ->
// deploy (networks, secrets, configs, services, with registry auth per
// service).
package stack

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/distribution/reference"
)

// ExtensionKey is swarmauth's per-service block in a compose file.
const ExtensionKey = "x-swarmauth"

// Extension is what a service may say under x-swarmauth.
type Extension struct {
	// RegistryAuth overrides --registry-auth for the service: auto, always or
	// never.
	RegistryAuth string `yaml:"registry-auth,omitempty" json:"registry-auth,omitempty"`
}

// LoadOptions say which files make the stack.
type LoadOptions struct {
	Files      []string // -c, in order; "-" reads standard input
	EnvFiles   []string // --env-file; default: .env in the project directory
	Profiles   []string
	WorkingDir string // default: the first file's directory
	Name       string // the stack name argument; wins over a top-level name
}

// unsupported are the service options swarm cannot honour; like docker, we
// warn and ignore them.
var unsupported = []struct {
	key string
	set func(s types.ServiceConfig) bool
}{
	{"build", func(s types.ServiceConfig) bool { return s.Build != nil }},
	{"cgroup_parent", func(s types.ServiceConfig) bool { return s.CgroupParent != "" }},
	{"cgroupns_mode", func(s types.ServiceConfig) bool { return s.Cgroup != "" }},
	{"container_name", func(s types.ServiceConfig) bool { return s.ContainerName != "" }},
	{"devices", func(s types.ServiceConfig) bool { return len(s.Devices) > 0 }},
	{"domainname", func(s types.ServiceConfig) bool { return s.DomainName != "" }},
	{"external_links", func(s types.ServiceConfig) bool { return len(s.ExternalLinks) > 0 }},
	{"ipc", func(s types.ServiceConfig) bool { return s.Ipc != "" }},
	{"links", func(s types.ServiceConfig) bool { return len(s.Links) > 0 }},
	{"mac_address", func(s types.ServiceConfig) bool { return s.MacAddress != "" }},
	{"network_mode", func(s types.ServiceConfig) bool { return s.NetworkMode != "" }},
	{"pid", func(s types.ServiceConfig) bool { return s.Pid != "" }},
	{"privileged", func(s types.ServiceConfig) bool { return s.Privileged }},
	{"restart", func(s types.ServiceConfig) bool { return s.Restart != "" }},
	{"security_opt", func(s types.ServiceConfig) bool { return len(s.SecurityOpt) > 0 }},
	{"shm_size", func(s types.ServiceConfig) bool { return s.ShmSize != 0 }},
	{"userns_mode", func(s types.ServiceConfig) bool { return s.UserNSMode != "" }},
}

// Load reads and validates the compose files as compose-go does (merging in
// order, .env, interpolation, include, extends, profiles) and checks what a
// swarm stack additionally needs. It returns the warnings docker's stack
// deploy would print. Nothing touches the swarm.
func Load(ctx context.Context, o LoadOptions) (*types.Project, []string, error) {
	if len(o.Files) == 0 {
		return nil, nil, errors.New("please specify a Compose file (with --compose-file)")
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithOsEnv,
		cli.WithEnvFiles(o.EnvFiles...), // before WithDotEnv, or .env is ignored
		cli.WithDotEnv,
		cli.WithInterpolation(true),
		cli.WithProfiles(o.Profiles),
		cli.WithExtension(ExtensionKey, Extension{}),
	}
	if o.WorkingDir != "" {
		opts = append(opts, cli.WithWorkingDirectory(o.WorkingDir))
	}
	if o.Name != "" {
		opts = append(opts, cli.WithName(o.Name))
	}
	po, err := cli.NewProjectOptions(o.Files, opts...)
	if err != nil {
		return nil, nil, err
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return nil, nil, inFiles(o.Files, err)
	}
	if o.Name == "" && !declaresName(project) {
		return nil, nil, errors.New("a stack name is required: give it as an argument or as the top-level name: of the compose file")
	}

	var warnings []string
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(project.Services)) {
		svc := project.Services[name]
		if _, err := reference.ParseAnyReference(svc.Image); err != nil {
			return nil, nil, inFiles(o.Files, fmt.Errorf("services.%s.image: invalid image reference: %w", name, err))
		}
		if ext, ok := svc.Extensions[ExtensionKey].(Extension); ok && ext.RegistryAuth != "" {
			switch ext.RegistryAuth {
			case "auto", "always", "never":
			default:
				return nil, nil, inFiles(o.Files, fmt.Errorf("services.%s.%s.registry-auth: must be auto, always or never, not %q", name, ExtensionKey, ext.RegistryAuth))
			}
		}
		for _, u := range unsupported {
			if u.set(svc) && !seen[u.key] {
				seen[u.key] = true
			}
		}
	}
	if len(seen) > 0 {
		warnings = append(warnings, "Ignoring unsupported options: "+strings.Join(slices.Sorted(maps.Keys(seen)), ", "))
	}
	return project, warnings, nil
}

// inFiles prefixes an error with the compose files it is about.
func inFiles(files []string, err error) error {
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Base(f)
		if f == "-" {
			names[i] = "(stdin)"
		}
	}
	return fmt.Errorf("%s: %w", strings.Join(names, ", "), err)
}

// declaresName reports whether the project's name came from the files rather
// than from compose-go's fallback (the directory name).
func declaresName(p *types.Project) bool {
	fallback := strings.ToLower(filepath.Base(p.WorkingDir))
	if p.Name != fallback {
		return true
	}
	for _, f := range p.ComposeFiles {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains("\n"+string(b), "\nname:") {
			return true
		}
	}
	return false
}
