package commands

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/cli/cli"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/command/formatter"
	flagsHelper "github.com/docker/cli/cli/flags"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/auth"
	"github.com/swarmauth/swarmauth/internal/cluster"
	"github.com/swarmauth/swarmauth/internal/metrics"
)

type refreshOptions struct {
	selectionFlags
	policyFlags
	clear       bool
	includeJobs bool
	parallel    int
	dryRun      bool
	format      string
	quiet       bool
	interval    time.Duration
	retry       time.Duration
	logFormat   string
	metricsAddr string
}

func newRefreshCommand(dockerCLI command.Cli) *cobra.Command {
	o := refreshOptions{selectionFlags: newSelectionFlags()}
	cmd := &cobra.Command{
		Use:   "refresh [OPTIONS] [SERVICE...]",
		Short: "Push fresh registry credentials into running services, without restarting them",
		Long: `Push fresh registry credentials from the CLI's credential store (auths,
credsStore, credHelpers) into running services. Each service gets only the
credentials of its own image's registry; public images get none. The service
spec is sent back exactly as read, so no running task restarts.`,
		Example: `  docker swarmauth refresh
  docker swarmauth refresh --stack shop --dry-run
  docker swarmauth refresh --registry 123456789012.dkr.ecr.eu-west-1.amazonaws.com
  docker swarmauth refresh --registry-auth never --clear web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRefresh(cmd.Context(), dockerCLI, o, args)
		},
	}
	f := cmd.Flags()
	o.selectionFlags.add(f)
	o.policyFlags.add(f)
	f.BoolVar(&o.clear, "clear", false, `With --registry-auth never: remove the credentials stored in the services`)
	f.BoolVar(&o.includeJobs, "include-jobs", false, "Also refresh job-mode services (an update re-runs their jobs)")
	f.IntVar(&o.parallel, "parallel", 8, "Number of services updated at once")
	f.BoolVar(&o.dryRun, "dry-run", false, "Show what would be done, change nothing")
	f.StringVar(&o.format, "format", "", flagsHelper.FormatHelp)
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Only display service IDs")
	f.DurationVar(&o.interval, "interval", 0, "Keep running: refresh now and then every interval, until SIGTERM or SIGINT")
	f.DurationVar(&o.retry, "retry", 30*time.Second, "With --interval: first back-off before retrying services that failed")
	f.StringVar(&o.logFormat, "log-format", "text", `With --interval: log lines as "text" or "json"`)
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "With --interval: serve Prometheus /metrics and /healthz on HOST:PORT")
	return cmd
}

func runRefresh(ctx context.Context, dockerCLI command.Cli, o refreshOptions, services []string) error {
	mode, err := auth.ParseMode(o.registryAuth)
	if err != nil {
		return cli.StatusError{Status: err.Error(), StatusCode: 125}
	}
	if o.clear && mode != auth.ModeNever {
		return cli.StatusError{Status: "--clear needs --registry-auth never", StatusCode: 125}
	}
	if o.parallel < 1 {
		return cli.StatusError{Status: "--parallel must be at least 1", StatusCode: 125}
	}
	apiClient := dockerCLI.Client()
	var recorder *metrics.Recorder
	var onHelperCall func(string, time.Duration, error)
	if o.metricsAddr != "" {
		if o.interval == 0 {
			return cli.StatusError{Status: "--metrics-addr needs --interval", StatusCode: 125}
		}
		recorder = metrics.New(o.interval)
		onHelperCall = recorder.HelperCall
	}
	// Each run, and each pass of a scheduled run, reads the store afresh.
	newPolicy := o.policies(ctx, dockerCLI, mode, o.clear, onHelperCall)
	sel := o.options(services)
	sel.IncludeJobs, sel.Parallel, sel.DryRun = o.includeJobs, o.parallel, o.dryRun
	if o.interval > 0 {
		return runScheduled(ctx, dockerCLI, o, sel, newPolicy, recorder)
	}
	results, err := auth.Refresh(ctx, cluster.ExactServices(apiClient), newPolicy(), sel)
	if err != nil {
		return err
	}

	format := o.format
	if format == "" {
		format = formatter.TableFormatKey
	}
	if err := writeRefreshResults(dockerCLI, format, o.quiet, results); err != nil {
		return err
	}
	counts := map[auth.Outcome]int{}
	for _, r := range results {
		counts[r.Outcome]++
	}
	if !o.quiet {
		prefix := ""
		if o.dryRun {
			prefix = "dry run, nothing changed: would have "
		}
		_, _ = fmt.Fprintf(dockerCLI.Err(), "%s%d refreshed, %d cleared, %d skipped, %d failed\n", prefix,
			counts[auth.Refreshed], counts[auth.Cleared], counts[auth.Skipped], counts[auth.Failed])
	}
	if n := counts[auth.Failed]; n > 0 {
		return cli.StatusError{Status: fmt.Sprintf("refresh failed for %d of %d services", n, len(results)), StatusCode: 1}
	}
	return nil
}

// runScheduled keeps refreshing until SIGTERM or SIGINT, which let the pass
// in flight finish.
func runScheduled(ctx context.Context, dockerCLI command.Cli, o refreshOptions, sel auth.RefreshOptions, newPolicy func() *auth.Policy, recorder *metrics.Recorder) error {
	if o.interval < time.Second {
		return cli.StatusError{Status: "--interval must be at least 1s", StatusCode: 125}
	}
	var handler slog.Handler
	switch o.logFormat {
	case "text":
		handler = slog.NewTextHandler(dockerCLI.Err(), nil)
	case "json":
		handler = slog.NewJSONHandler(dockerCLI.Err(), nil)
	default:
		return cli.StatusError{Status: fmt.Sprintf("invalid --log-format %q: must be text or json", o.logFormat), StatusCode: 125}
	}
	logger := slog.New(handler)
	schedule := auth.ScheduleOptions{Interval: o.interval, Retry: min(o.retry, o.interval), Log: logger, NewPolicy: newPolicy}
	if recorder != nil {
		ln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		srv := &http.Server{Handler: recorder.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		logger.Info("serving metrics", "addr", ln.Addr().String())
		schedule.Pass = recorder.Pass
	}
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		close(stop)
	}()
	return auth.RunSchedule(ctx, stop, cluster.ExactServices(dockerCLI.Client()), sel, schedule)
}

const refreshTableFormat = "table {{.Service}}\t{{.Image}}\t{{.Registry}}\t{{.Source}}\t{{.Action}}"

func writeRefreshResults(dockerCLI command.Cli, format string, quiet bool, results []auth.Result) error {
	if format == formatter.TableFormatKey {
		format = refreshTableFormat
		if quiet {
			format = formatter.DefaultQuietFormat
		}
	}
	ctx := formatter.Context{Output: dockerCLI.Out(), Format: formatter.Format(format)}
	header := &refreshRow{HeaderContext: formatter.HeaderContext{Header: formatter.SubHeaderContext{
		"ID": "ID", "Service": "SERVICE", "Image": formatter.ImageHeader, "Registry": "REGISTRY",
		"Source": "SOURCE", "Action": "ACTION", "Outcome": "OUTCOME", "Reason": "REASON",
	}}}
	return ctx.Write(header, func(write func(formatter.SubContext) error) error {
		for _, r := range results {
			if err := write(&refreshRow{r: r}); err != nil {
				return err
			}
		}
		return nil
	})
}

// refreshRow renders one auth.Result for --format.
type refreshRow struct {
	formatter.HeaderContext
	r auth.Result
}

func (c *refreshRow) MarshalJSON() ([]byte, error) { return formatter.MarshalJSON(c) }
func (c *refreshRow) ID() string                   { return c.r.ID }
func (c *refreshRow) Service() string              { return c.r.Service }
func (c *refreshRow) Registry() string             { return c.r.Registry }
func (c *refreshRow) Source() string               { return c.r.Source }
func (c *refreshRow) Outcome() string              { return string(c.r.Outcome) }
func (c *refreshRow) Reason() string               { return c.r.Reason }

// Image drops a pinned digest when a tag says which image it is, as
// `docker service ls` does.
func (c *refreshRow) Image() string {
	if named, err := reference.ParseNormalizedNamed(c.r.Image); err == nil {
		if tagged, ok := named.(reference.Tagged); ok {
			if ref, err := reference.WithTag(reference.TrimNamed(named), tagged.Tag()); err == nil {
				return reference.FamiliarString(ref)
			}
		}
	}
	return c.r.Image
}

// Action is the outcome with its reason, for the table.
func (c *refreshRow) Action() string {
	if c.r.Reason == "" {
		return string(c.r.Outcome)
	}
	return string(c.r.Outcome) + ": " + c.r.Reason
}
