package commands

import (
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
)

func newRefreshCommand(_ command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "refresh [OPTIONS] [SERVICE...]",
		Short: "Push fresh registry credentials into running services, without restarting them",
		RunE: func(cmd *cobra.Command, _ []string) error {
			return notImplemented(cmd)
		},
	}
}
