package commands

import (
	"context"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	"github.com/docker/cli/opts"
	"github.com/moby/moby/client"
	"github.com/spf13/pflag"
	"github.com/swarmauth/swarmauth/auth"
)

// policyFlags are the registry auth flags refresh, status and stack deploy
// share.
type policyFlags struct {
	registryAuth  string
	helperTimeout time.Duration
	probeTimeout  time.Duration
}

func (p *policyFlags) add(f *pflag.FlagSet) {
	f.StringVar(&p.registryAuth, "registry-auth", string(auth.ModeAuto), `Registry auth policy: "auto" (private images only), "always" or "never"`)
	f.DurationVar(&p.helperTimeout, "helper-timeout", 20*time.Second, "Time limit for each credential helper call")
	f.DurationVar(&p.probeTimeout, "probe-timeout", 10*time.Second, "Time limit for each anonymous registry request (auto policy)")
}

// policies returns a maker of policies in the given mode; each policy reads
// the CLI's credential store afresh. The Engine says which registries it
// reaches over plain HTTP, which the anonymous probe needs to know.
func (p *policyFlags) policies(ctx context.Context, dockerCLI command.Cli, mode auth.Mode, clear bool, onHelperCall func(string, time.Duration, error)) func() *auth.Policy {
	var insecure func(string) bool
	if info, err := dockerCLI.Client().Info(ctx, client.InfoOptions{}); err == nil {
		insecure = auth.InsecureRegistries(info.Info.RegistryConfig)
	}
	return func() *auth.Policy {
		store := auth.NewCredentialStore(dockerCLI.ConfigFile(), p.helperTimeout)
		store.OnHelperCall = onHelperCall
		return &auth.Policy{Mode: mode, Clear: clear, Creds: store, Probe: auth.NewProber(p.probeTimeout, insecure)}
	}
}

// selectionFlags select services as refresh and status take them.
type selectionFlags struct {
	filter     opts.FilterOpt
	stack      string
	registries []string
}

func newSelectionFlags() selectionFlags { return selectionFlags{filter: opts.NewFilterOpt()} }

func (s *selectionFlags) add(f *pflag.FlagSet) {
	f.VarP(&s.filter, "filter", "f", `Filter services as "docker service ls" does (id, label, mode, name)`)
	f.StringVar(&s.stack, "stack", "", "Only the services of this stack")
	f.StringArrayVar(&s.registries, "registry", nil, "Only services whose image lives on this registry (repeatable)")
}

func (s *selectionFlags) options(services []string) auth.RefreshOptions {
	return auth.RefreshOptions{Services: services, Filters: s.filter.Value(), Stack: s.stack, Registries: s.registries}
}

func header(h map[string]string) formatter.HeaderContext {
	return formatter.HeaderContext{Header: formatter.SubHeaderContext(h)}
}

// writeRows writes rows with docker's formatter: a table, json or a template.
func writeRows(dockerCLI command.Cli, format string, head formatter.SubContext, rows []formatter.SubContext) error {
	ctx := formatter.Context{Output: dockerCLI.Out(), Format: formatter.Format(format)}
	return ctx.Write(head, func(write func(formatter.SubContext) error) error {
		for _, r := range rows {
			if err := write(r); err != nil {
				return err
			}
		}
		return nil
	})
}
