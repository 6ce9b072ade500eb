package commands

import (
	"context"
	"io"
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

// versionInfo is what `swarmauth version` reports; its field names are those
// of --format templates and of the JSON output.
type versionInfo struct {
	Version             string
	GoVersion           string
	Context             string
	ClientAPIVersion    string
	EngineVersion       string `json:",omitempty"`
	EngineAPIVersion    string `json:",omitempty"`
	EngineMinAPIVersion string `json:",omitempty"`
}

const versionTemplate = `swarmauth:       {{.Version}}
Go version:      {{.GoVersion}}
Context:         {{.Context}}
Engine:          {{.EngineVersion}}
Engine API:      {{.EngineAPIVersion}} (minimum {{.EngineMinAPIVersion}})
Client API:      {{.ClientAPIVersion}}
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
	cmd.Flags().StringVarP(&opts.format, "format", "f", "", flagsHelper.InspectFormatHelp)
	return cmd
}

func runVersion(ctx context.Context, dockerCLI command.Cli, opts versionOptions) error {
	return writeVersion(ctx, dockerCLI.Out(), dockerCLI.Client(), dockerCLI.CurrentContext(), opts.format)
}

// versionClient is the part of the Engine API that version uses.
type versionClient interface {
	ClientVersion() string
	ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error)
}

// writeVersion prints what it knows even when the Engine cannot be reached, and
// then returns that error, as `docker version` does.
func writeVersion(ctx context.Context, out io.Writer, api versionClient, contextName, format string) error {
	switch format {
	case "":
		format = versionTemplate
	case formatter.JSONFormatKey:
		format = formatter.JSONFormat + "\n"
	default:
		format += "\n"
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return cli.StatusError{Status: "template parsing error: " + err.Error(), StatusCode: 64}
	}
	info := versionInfo{
		Version:          buildinfo.PluginVersion(),
		GoVersion:        runtime.Version(),
		ClientAPIVersion: api.ClientVersion(),
		Context:          contextName,
	}
	sv, err := api.ServerVersion(ctx, client.ServerVersionOptions{})
	if err == nil {
		info.EngineVersion, info.EngineAPIVersion, info.EngineMinAPIVersion = sv.Version, sv.APIVersion, sv.MinAPIVersion
	}
	if werr := tmpl.Execute(out, info); werr != nil && err == nil {
		err = werr
	}
	return err
}
