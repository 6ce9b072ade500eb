package commands

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/auth"
	"github.com/swarmauth/swarmauth/stack"
)

func newStackCommand(dockerCLI command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stack COMMAND",
		Short: "Deploy Compose stacks with registry auth per service",
		Args:  cli.NoArgs,
		RunE:  command.ShowHelp(dockerCLI.Err()),
	}
	cmd.AddCommand(newStackDeployCommand(dockerCLI))
	return cmd
}

type stackDeployOptions struct {
	files             []string
	envFiles          []string
	profiles          []string
	prune             bool
	resolveImage      string
	detach            bool
	quiet             bool
	dryRun            bool
	force             bool
	refreshAuth       bool
	keepVersions      int
	timeout           time.Duration
	rollbackOnFailure bool
	withRegistryAuth  bool
	policyFlags
}

func newStackDeployCommand(dockerCLI command.Cli) *cobra.Command {
	var o stackDeployOptions
	cmd := &cobra.Command{
		Use:     "deploy [OPTIONS] [STACK]",
		Aliases: []string{"up"},
		Short:   "Deploy a new stack or update an existing stack",
		Long: `Deploy a Compose Specification stack to the swarm, as "docker stack deploy"
does, with registry auth decided per service: private images get their
registry's credentials from the CLI's store, public images get none. The stack
name is the argument, or the compose file's top-level name.`,
		Example: `  docker swarmauth stack deploy -c compose.yml shop
  docker swarmauth stack deploy -c compose.yml -c compose.prod.yml --env-file prod.env shop
  docker swarmauth stack deploy -c compose.yml --registry-auth always --prune shop`,
		Args: cli.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			o.withRegistryAuth = o.withRegistryAuth && cmd.Flags().Changed("with-registry-auth")
			return runStackDeploy(cmd.Context(), dockerCLI, o, name, cmd.Flags().Changed("registry-auth"))
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "compose-file", "c", nil, `Path to a Compose file, or "-" to read from stdin (repeatable; later files override earlier ones)`)
	f.StringArrayVar(&o.envFiles, "env-file", nil, "Environment file for interpolation (default: .env in the project directory)")
	f.StringArrayVar(&o.profiles, "profile", nil, "Enable services of this profile (repeatable)")
	f.BoolVar(&o.prune, "prune", false, "Remove services, networks, secrets and configs the files no longer define, once the rest has converged")
	f.StringVar(&o.resolveImage, "resolve-image", stack.ResolveAlways, `Query the registry to resolve image digest and supported platforms ("always", "changed", "never")`)
	f.BoolVarP(&o.detach, "detach", "d", false, "Exit once the changes are sent, without waiting for the services to converge")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output")
	f.BoolVar(&o.dryRun, "dry-run", false, "Print the plan and change nothing")
	f.BoolVar(&o.force, "force", false, "Update every service, even those that did not change")
	f.BoolVar(&o.refreshAuth, "refresh-auth", false, "Send every service its registry auth again, even when unchanged (no restart)")
	f.IntVar(&o.keepVersions, "keep-versions", 0, "Keep this many unused old versions of each secret and config, for rollback")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "How long to wait for the services to converge (0: no limit)")
	f.BoolVar(&o.rollbackOnFailure, "rollback-on-failure", false, "Roll services that fail to converge back to their previous spec")
	f.BoolVar(&o.withRegistryAuth, "with-registry-auth", false, `Same as --registry-auth always (kept for compatibility with "docker stack deploy")`)
	o.policyFlags.add(f)
	return cmd
}

func runStackDeploy(ctx context.Context, dockerCLI command.Cli, o stackDeployOptions, name string, registryAuthSet bool) error {
	switch o.resolveImage {
	case stack.ResolveAlways, stack.ResolveChanged, stack.ResolveNever:
	default:
		return cli.StatusError{Status: fmt.Sprintf("invalid option %s for flag --resolve-image", o.resolveImage), StatusCode: 125}
	}
	mode, err := auth.ParseMode(o.registryAuth)
	if err != nil {
		return cli.StatusError{Status: err.Error(), StatusCode: 125}
	}
	if o.withRegistryAuth {
		if registryAuthSet && mode != auth.ModeAlways {
			return cli.StatusError{Status: "--with-registry-auth conflicts with --registry-auth " + string(mode), StatusCode: 125}
		}
		mode = auth.ModeAlways
	}

	project, warnings, err := stack.Load(ctx, stack.LoadOptions{Files: o.files, EnvFiles: o.envFiles, Profiles: o.profiles, Name: name})
	if err != nil {
		return err
	}
	for _, w := range warnings {
		_, _ = fmt.Fprintf(dockerCLI.Err(), "%s\n\n", w)
	}
	res, err := stack.Convert(project, project.Name)
	if err != nil {
		return err
	}

	apiClient := dockerCLI.Client()
	policy := o.policies(ctx, dockerCLI, mode, false, nil)()

	plan, err := stack.MakePlan(ctx, apiClient, res, stack.PlanOptions{
		ResolveImage: o.resolveImage,
		Policy:       policy,
		Prune:        o.prune,
		Force:        o.force,
		RefreshAuth:  o.refreshAuth,
		Warn:         dockerCLI.Err(),
	})
	if err != nil {
		return err
	}
	if o.dryRun {
		plan.Write(dockerCLI.Out())
		return nil
	}
	if !plan.Changed() && !o.quiet {
		_, _ = fmt.Fprintf(dockerCLI.Out(), "Stack %s is up to date\n", plan.Namespace)
	}
	apply := stack.ApplyOptions{
		Out:               dockerCLI.Out(),
		Err:               dockerCLI.Err(),
		Detach:            o.detach,
		Timeout:           o.timeout,
		RollbackOnFailure: o.rollbackOnFailure,
		KeepVersions:      o.keepVersions,
	}
	if !o.quiet {
		apply.Report = newProgress(dockerCLI.Out())
	}
	if o.quiet {
		apply.Out = io.Discard
	}
	return plan.Apply(ctx, apiClient, apply)
}
