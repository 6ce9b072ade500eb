// Package commands wires the swarmauth verbs into cobra. Each file holds one verb;
// the work itself lives in the domain packages (auth, stack, rotate).
package commands

import (
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/internal/buildinfo"
)

// PluginName is the name docker knows the plugin by (`docker swarmauth`).
const PluginName = "swarmauth"

// Metadata is what the plugin reports to the docker CLI.
func Metadata() metadata.Metadata {
	return metadata.Metadata{
		SchemaVersion:    "0.1.0",
		Vendor:           "swarmauth",
		Version:          buildinfo.PluginVersion(),
		ShortDescription: "Registry credentials, stacks and secret rotation for Docker Swarm",
		URL:              "https://github.com/swarmauth/swarmauth",
	}
}

// NewRootCommand returns the `swarmauth` command with every verb attached.
func NewRootCommand(dockerCLI command.Cli) *cobra.Command {
	cmd := &cobra.Command{
		Use:   PluginName,
		Short: "Registry credentials, stacks and secret rotation for Docker Swarm",
		Long: `swarmauth keeps Swarm services' registry credentials fresh, deploys Compose
stacks with registry auth per service, and rotates secrets and configs by version.
It uses the docker CLI's context, TLS settings and credential store.`,
		Args:          cli.NoArgs,
		RunE:          command.ShowHelp(dockerCLI.Err()),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.AddCommand(
		newVersionCommand(dockerCLI),
		newRefreshCommand(dockerCLI),
		newStatusCommand(dockerCLI),
		newStackCommand(dockerCLI),
		newSecretCommand(dockerCLI),
		newConfigCommand(dockerCLI),
	)
	return cmd
}
