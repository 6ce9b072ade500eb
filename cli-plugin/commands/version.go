package commands

import (
	"context"
	"runtime"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	flagsHelper "github.com/docker/cli/cli/flags"
	"github.com/docker/cli/templates"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/internal/buildinfo"
)

type versionOptions struct {
	format string
}

// versionInfo is what `swarmauth version` reports; its JSON field names are
// part of the command's --format json output.
type versionInfo struct {
	Version       string `json:"Version"`
	GoVersion     string `json:"GoVersion"`
	ClientAPI     string `json:"ClientAPIVersion"`
	EngineVersion string `json:"EngineVersion,omitempty"`
	EngineAPI     string `json:"EngineAPIVersion,omitempty"`
	EngineMinAPI  string `json:"EngineMinAPIVersion,omitempty"`
	Context       string `json:"Context"`
}

const versionTemplate = `swarmauth:       {{.Version}}
Go version:      {{.GoVersion}}
Context:         {{.Context}}
Engine:          {{.EngineVersion}}
Engine API:      {{.EngineAPI}} (minimum {{.EngineMinAPI}})
Client API:      {{.ClientAPI}}
`

func newVersionCommand(dockerCLI command.Cli) *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the swarmauth version and the Engine API version of the current context",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), dockerCLI, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.format, "format", "f", "", flagsHelper.FormatHelp)
	return cmd
}

// runVersion prints what it knows even when the Engine cannot be reached, and
// then returns that error, as `docker version` does.
func runVersion(ctx context.Context, dockerCLI command.Cli, opts versionOptions) error {
	format := opts.format
	switch format {
	case "":
		format = versionTemplate
	case formatter.JSONFormatKey:
		format = formatter.JSONFormat + "\n"
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return cli.StatusError{Status: "template parsing error: " + err.Error(), StatusCode: 64}
	}

	apiClient := dockerCLI.Client()
	info := versionInfo{
		Version:   buildinfo.PluginVersion(),
		GoVersion: runtime.Version(),
		ClientAPI: apiClient.ClientVersion(),
		Context:   dockerCLI.CurrentContext(),
	}
	sv, err := apiClient.ServerVersion(ctx, client.ServerVersionOptions{})
	if err == nil {
		info.EngineVersion, info.EngineAPI, info.EngineMinAPI = sv.Version, sv.APIVersion, sv.MinAPIVersion
	}
	if werr := tmpl.Execute(dockerCLI.Out(), info); werr != nil && err == nil {
		err = werr
	}
	return err
}
