package commands

import (
	"strings"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

// newSecretCommand and newConfigCommand share the rotate verb: secrets and
// configs rotate the same way.
func newSecretCommand(dockerCLI command.Cli) *cobra.Command {
	return newRotatableCommand(dockerCLI, "secret", "Manage Swarm secrets by version")
}

func newConfigCommand(dockerCLI command.Cli) *cobra.Command {
	return newRotatableCommand(dockerCLI, "config", "Manage Swarm configs by version")
}

func newRotatableCommand(dockerCLI command.Cli, kind, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   kind + " COMMAND",
		Short: short,
		Args:  cli.NoArgs,
		RunE:  command.ShowHelp(dockerCLI.Err()),
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate [OPTIONS] " + strings.ToUpper(kind),
		Short: "Create the next version of a " + kind + " and move every service onto it",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented(cmd)
		},
	})
	return cmd
}
