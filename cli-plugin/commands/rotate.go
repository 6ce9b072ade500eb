package commands

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	flagsHelper "github.com/docker/cli/cli/flags"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/internal/cluster"
	"github.com/swarmauth/swarmauth/rotate"
)

// newSecretCommand and newConfigCommand share their verbs: secrets and
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
	cmd.AddCommand(newRotateCommand(dockerCLI, kind), newLineageListCommand(dockerCLI, kind), newHistoryCommand(dockerCLI, kind))
	return cmd
}

type rotateOptions struct {
	name, job, jobNetworksFrom, charset string
	services, keepOldAs                 []string
	generate, print, dryRun, detach     bool
	length, keep                        int
	timeout                             time.Duration
}

func newRotateCommand(dockerCLI command.Cli, kind string) *cobra.Command {
	var o rotateOptions
	upper := strings.ToUpper(kind)
	cmd := &cobra.Command{
		Use:   "rotate [OPTIONS] " + upper + " [FILE|-] [-- JOB COMMAND...]",
		Short: "Create the next version of a " + kind + " and move every service onto it",
		Long: `Create the next version of a ` + kind + ` (NAME_v2, NAME_v3, ...) from a file,
standard input ("-") or --generate, and move every service that uses any
version of it onto the new one, keeping each reference's target, uid, gid and
mode. Services are switched one at a time and waited for; one that fails to
converge is rolled back and the rotation stops. Old versions are removed once
nothing uses them.`,
		Example: `  docker swarmauth ` + kind + ` rotate db_password new-password.txt
  openssl rand -hex 24 | docker swarmauth ` + kind + ` rotate db_password -
  docker swarmauth ` + kind + ` rotate --generate --length 40 db_password --dry-run
  docker swarmauth ` + kind + ` rotate --generate db_password --keep-old-as db=old_password \
      --job mysql:8 --job-networks-from db -- sh -c 'mysql ... < /run/secrets/new'`,
		// Arguments after -- are the job's command; the rest are checked here.
		Args: cli.RequiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var jobCommand []string
			if at := cmd.ArgsLenAtDash(); at >= 0 {
				args, jobCommand = args[:at], args[at:]
			}
			if len(args) < 1 || len(args) > 2 {
				return cli.StatusError{Status: "rotate takes " + upper + " and an optional FILE (a job's command goes after --)", StatusCode: 125}
			}
			return runRotate(cmd.Context(), dockerCLI, kind, o, args, jobCommand)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.generate, "generate", false, "Generate a random value instead of reading one")
	f.IntVar(&o.length, "length", 32, "Length of a generated value")
	f.StringVar(&o.charset, "charset", "alnum", `Characters of a generated value: "alnum", "hex", "base64url" or "ascii" (printable)`)
	f.BoolVar(&o.print, "print", false, "Print the generated value, once")
	f.StringVar(&o.name, "name", "", "Name of the new version (default NAME_vN)")
	f.StringArrayVar(&o.services, "service", nil, "Rotate only this service (repeatable); the others keep their version")
	f.IntVar(&o.keep, "keep", 0, "Keep this many unused old versions")
	f.StringArrayVar(&o.keepOldAs, "keep-old-as", nil, "SERVICE=TARGET: also mount the old version on SERVICE at TARGET (two-phase rotations)")
	f.StringVar(&o.job, "job", "", "Run a one-off job with this image, with the old and new versions at the targets \""+rotate.JobOldTarget+"\" and \""+rotate.JobNewTarget+"\", before switching any service")
	f.StringVar(&o.jobNetworksFrom, "job-networks-from", "", "Attach the job to this service's networks")
	f.BoolVar(&o.dryRun, "dry-run", false, "Print the plan and change nothing")
	f.BoolVarP(&o.detach, "detach", "d", false, "Switch the services without waiting (old versions are then kept)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "How long to wait for each service to converge (0: no limit)")
	return cmd
}

func runRotate(ctx context.Context, dockerCLI command.Cli, kind string, o rotateOptions, args, jobCommand []string) error {
	opts := rotate.Options{Kind: kind, Name: args[0], NewName: o.name, Services: o.services, Keep: o.keep, KeepOld: map[string]string{}}
	for _, kv := range o.keepOldAs {
		svc, target, ok := strings.Cut(kv, "=")
		if !ok || svc == "" || target == "" {
			return cli.StatusError{Status: fmt.Sprintf("invalid --keep-old-as %q: expected SERVICE=TARGET", kv), StatusCode: 125}
		}
		opts.KeepOld[svc] = target
	}
	if o.job != "" {
		opts.Job = &rotate.Job{Image: o.job, Command: jobCommand, NetworksFrom: o.jobNetworksFrom}
	} else if len(jobCommand) > 0 {
		return cli.StatusError{Status: "a command after -- needs --job IMAGE", StatusCode: 125}
	}
	switch {
	case o.generate && len(args) == 2:
		return cli.StatusError{Status: "give either FILE or --generate, not both", StatusCode: 125}
	case o.generate:
		value, err := generate(o.length, o.charset)
		if err != nil {
			return cli.StatusError{Status: err.Error(), StatusCode: 125}
		}
		opts.Content, opts.Generated = value, true
	case len(args) == 2:
		var err error
		if opts.Content, err = readContent(dockerCLI.In(), args[1]); err != nil {
			return err
		}
	default:
		return cli.StatusError{Status: "the new content is missing: give a FILE, - for standard input, or --generate", StatusCode: 125}
	}

	apiClient := dockerCLI.Client()
	plan, err := rotate.MakePlan(ctx, apiClient, opts)
	if err != nil {
		return err
	}
	if o.dryRun {
		plan.Write(dockerCLI.Out())
		return nil
	}
	err = plan.Apply(ctx, apiClient, rotate.ApplyOptions{
		Out:      dockerCLI.Out(),
		Detach:   o.detach,
		Timeout:  o.timeout,
		Report:   newProgress(dockerCLI.Out()),
		Services: cluster.ExactServices(apiClient),
	})
	if err == nil && o.generate && o.print && !plan.Reuse {
		_, _ = fmt.Fprintf(dockerCLI.Out(), "%s\n", opts.Content)
	}
	return err
}

// readContent reads the new value from a file or, for "-", standard input.
func readContent(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read the new content: %w", err)
	}
	return b, nil
}

var charsets = map[string]string{
	"alnum":     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"hex":       "0123456789abcdef",
	"base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	"ascii":     "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
}

// generate makes a random value from a charset, with crypto/rand.
func generate(length int, charset string) ([]byte, error) {
	chars, ok := charsets[charset]
	if !ok {
		return nil, fmt.Errorf("invalid --charset %q: must be alnum, hex, base64url or ascii", charset)
	}
	if length < 8 || length > 4096 {
		return nil, fmt.Errorf("invalid --length %d: must be between 8 and 4096", length)
	}
	out := make([]byte, length)
	for i := range out {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return nil, err
		}
		out[i] = chars[n.Int64()]
	}
	return out, nil
}

const lineageTableFormat = "table {{.Name}}\t{{.Versions}}\t{{.Current}}\t{{.Services}}"

func newLineageListCommand(dockerCLI command.Cli, kind string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List " + kind + "s by lineage, with their versions and the services that use them",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			all, err := rotate.Lineages(cmd.Context(), dockerCLI.Client(), kind)
			if err != nil {
				return err
			}
			if format == "" {
				format = lineageTableFormat
			}
			rows := make([]formatter.SubContext, 0, len(all))
			for _, l := range all {
				rows = append(rows, &lineageRow{l: l})
			}
			return writeRows(dockerCLI, format, &lineageRow{HeaderContext: header(map[string]string{
				"Name": "NAME", "Versions": "VERSIONS", "Current": "CURRENT", "Services": "SERVICES",
			})}, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", flagsHelper.FormatHelp)
	return cmd
}

const historyTableFormat = "table {{.Name}}\t{{.Version}}\t{{.Created}}\t{{.Services}}"

func newHistoryCommand(dockerCLI command.Cli, kind string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] " + strings.ToUpper(kind),
		Short: "Show the versions of a " + kind + " and which services use each",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, ok, err := rotate.Lineage(cmd.Context(), dockerCLI.Client(), kind, args[0])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("no such %s: %s", kind, args[0])
			}
			if format == "" {
				format = historyTableFormat
			}
			rows := make([]formatter.SubContext, 0, len(l.Versions))
			for _, v := range l.Versions {
				rows = append(rows, &versionRow{v: v})
			}
			return writeRows(dockerCLI, format, &versionRow{HeaderContext: header(map[string]string{
				"Name": "NAME", "Version": "VERSION", "Created": "CREATED", "Services": "SERVICES", "ID": "ID",
			})}, rows)
		},
	}
	cmd.Flags().StringVar(&format, "format", "", flagsHelper.FormatHelp)
	return cmd
}

type lineageRow struct {
	formatter.HeaderContext
	l rotate.LineageInfo
}

func (r *lineageRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *lineageRow) Name() string                 { return r.l.Name }
func (r *lineageRow) Versions() int                { return len(r.l.Versions) }
func (r *lineageRow) Current() string              { return r.l.Versions[len(r.l.Versions)-1].Name }
func (r *lineageRow) Services() string {
	var all []string
	for _, v := range r.l.Versions {
		for _, s := range v.Services {
			all = append(all, s+"@"+v.Name)
		}
	}
	return strings.Join(all, ", ")
}

type versionRow struct {
	formatter.HeaderContext
	v rotate.VersionInfo
}

func (r *versionRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *versionRow) Name() string                 { return r.v.Name }
func (r *versionRow) ID() string                   { return r.v.ID }
func (r *versionRow) Version() int                 { return r.v.Version }
func (r *versionRow) Created() string              { return r.v.Created.UTC().Format(time.RFC3339) }
func (r *versionRow) Services() string             { return strings.Join(r.v.Services, ", ") }
