package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	flagsHelper "github.com/docker/cli/cli/flags"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/auth"
	"github.com/swarmauth/swarmauth/rotate"
)

type statusOptions struct {
	selectionFlags
	policyFlags
	staleAfter time.Duration
	format     string
	check      bool
}

func newStatusCommand(dockerCLI command.Cli) *cobra.Command {
	o := statusOptions{selectionFlags: newSelectionFlags()}
	cmd := &cobra.Command{
		Use:   "status [OPTIONS] [SERVICE...]",
		Short: "Show which services hold which registry credentials, how fresh, and their secret and config versions",
		Long: `Show, per service, what the registry auth policy decides now, where the
credentials come from, when swarmauth last refreshed them and whether that is
older than --stale-after (by default known per registry: 12h for ECR, 1h for
ACR and GCR), and the secret and config versions in use. Nothing is changed.
With --check the exit status is 1 when any service is stale, for alerts.`,
		Example: `  docker swarmauth status
  docker swarmauth status --stack shop --format json
  docker swarmauth status --check --stale-after 6h`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStatus(cmd.Context(), dockerCLI, o, args)
		},
	}
	f := cmd.Flags()
	o.selectionFlags.add(f)
	o.policyFlags.add(f)
	f.DurationVar(&o.staleAfter, "stale-after", 0, "Credentials refreshed longer ago than this are stale (default: known per registry)")
	f.StringVar(&o.format, "format", "", flagsHelper.FormatHelp)
	f.BoolVar(&o.check, "check", false, "Exit 1 when any service is stale")
	return cmd
}

func runStatus(ctx context.Context, dockerCLI command.Cli, o statusOptions, services []string) error {
	mode, err := auth.ParseMode(o.registryAuth)
	if err != nil {
		return cli.StatusError{Status: err.Error(), StatusCode: 125}
	}
	apiClient := dockerCLI.Client()
	policy := o.policies(ctx, dockerCLI, mode, false, nil)()
	now := time.Now()
	rows, err := auth.Status(ctx, apiClient, policy, o.options(services), o.staleAfter, now)
	if err != nil {
		return err
	}
	uses, err := rotate.Uses(ctx, apiClient)
	if err != nil {
		return err
	}
	format := o.format
	if format == "" {
		format = "table {{.Service}}\t{{.Registry}}\t{{.Policy}}\t{{.Source}}\t{{.Refreshed}}\t{{.Stale}}\t{{.Objects}}"
	}
	out := make([]formatter.SubContext, 0, len(rows))
	stale := 0
	for _, r := range rows {
		if r.Stale {
			stale++
		}
		out = append(out, &statusRow{s: r, uses: uses[r.Service], now: now})
	}
	if err := writeRows(dockerCLI, format, &statusRow{HeaderContext: header(map[string]string{
		"ID": "ID", "Service": "SERVICE", "Image": formatter.ImageHeader, "Registry": "REGISTRY", "Policy": "POLICY",
		"Source": "SOURCE", "Refreshed": "REFRESHED", "Stale": "STALE", "Objects": "SECRETS/CONFIGS",
	})}, out); err != nil {
		return err
	}
	if o.check && stale > 0 {
		return cli.StatusError{Status: fmt.Sprintf("%d of %d services have stale registry credentials", stale, len(rows)), StatusCode: 1}
	}
	return nil
}

type statusRow struct {
	formatter.HeaderContext
	s    auth.ServiceStatus
	uses []rotate.ObjectUse
	now  time.Time
}

func (r *statusRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(r) }
func (r *statusRow) ID() string                   { return r.s.ID }
func (r *statusRow) Service() string              { return r.s.Service }
func (r *statusRow) Image() string                { return r.s.Image }
func (r *statusRow) Registry() string             { return r.s.Registry }
func (r *statusRow) Policy() string               { return r.s.Policy }
func (r *statusRow) Source() string               { return r.s.Source }
func (r *statusRow) Holds() string                { return r.s.Holds }
func (r *statusRow) Stale() bool                  { return r.s.Stale }

// Refreshed is when swarmauth last stored the service's credentials.
func (r *statusRow) Refreshed() string {
	if r.s.RefreshedAt.IsZero() {
		return "never"
	}
	return units.HumanDuration(r.now.Sub(r.s.RefreshedAt)) + " ago"
}

// RefreshedAt is the same, as a time, for JSON.
func (r *statusRow) RefreshedAt() string {
	if r.s.RefreshedAt.IsZero() {
		return ""
	}
	return r.s.RefreshedAt.UTC().Format(time.RFC3339)
}

// Objects lists the secret and config versions in use, and newer ones.
func (r *statusRow) Objects() string {
	var parts []string
	for _, u := range r.uses {
		p := u.Kind + " " + u.Name
		if u.Outdated() {
			p += " (newer: " + u.Newest + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}
