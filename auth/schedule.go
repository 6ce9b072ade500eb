package auth

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// ScheduleOptions shape a refresher that keeps running.
type ScheduleOptions struct {
	Interval time.Duration
	// Retry is the first back-off for services that failed; it doubles per
	// failed retry, up to Interval.
	Retry time.Duration
	Log   *slog.Logger
	// NewPolicy makes the policy for a pass: each pass reads the credential
	// store afresh.
	NewPolicy func() *Policy
	// Pass, when set, is told the results of every pass (metrics).
	Pass func(results []Result, took time.Duration)
}

// RunSchedule refreshes now and then every interval (with up to 10% jitter)
// until stop is closed or ctx ends. Services that failed are retried sooner,
// on their own. A stop lets the pass in flight finish: updates are never cut
// off halfway. Only a selection error (a named service that does not exist)
// ends it with an error.
func RunSchedule(ctx context.Context, stop <-chan struct{}, api ServiceAPI, sel RefreshOptions, o ScheduleOptions) error {
	passCtx := context.WithoutCancel(ctx) // a stop waits for the pass
	backoff := o.Retry
	var retry []string // IDs of services that failed
	next := time.Now()
	for {
		full := !time.Now().Before(next)
		opts := sel
		if !full {
			opts.Services = retry
		}
		start := time.Now()
		results, err := Refresh(passCtx, api, o.NewPolicy(), opts)
		var selErr *SelectionError
		if errors.As(err, &selErr) && full {
			return err // a configuration error: nothing to retry
		}
		if err != nil {
			o.Log.Warn("pass failed", "error", err.Error())
			if full {
				retry = nil
				next = time.Now().Add(o.Retry) // the swarm was unreachable: try again soon
			}
		}
		took := time.Since(start)
		retry = retry[:0]
		counts := map[Outcome]int{}
		for _, r := range results {
			counts[r.Outcome]++
			attrs := []any{"service", r.Service, "image", r.Image, "registry", r.Registry, "source", r.Source}
			if r.Reason != "" {
				attrs = append(attrs, "reason", r.Reason)
			}
			level := slog.LevelInfo
			if r.Outcome == Failed {
				level = slog.LevelWarn
				retry = append(retry, r.ID)
			}
			o.Log.Log(passCtx, level, string(r.Outcome), attrs...)
		}
		kind := "pass"
		if !full {
			kind = "retry"
		}
		o.Log.Info(kind+" done", "services", len(results), "refreshed", counts[Refreshed], "cleared", counts[Cleared],
			"skipped", counts[Skipped], "failed", counts[Failed], "took", took.Round(time.Millisecond).String())
		if o.Pass != nil {
			o.Pass(results, took)
		}
		if full && err == nil {
			next = time.Now().Add(jitter(o.Interval))
			backoff = o.Retry
		} else if len(retry) > 0 {
			backoff = min(2*backoff, o.Interval)
		}
		wake := next
		if len(retry) > 0 && time.Now().Add(backoff).Before(next) {
			wake = time.Now().Add(backoff)
		}
		select {
		case <-stop:
			o.Log.Info("stopping")
			return nil
		case <-ctx.Done():
			o.Log.Info("stopping")
			return nil
		case <-time.After(time.Until(wake)):
		}
	}
}

// jitter spreads passes of refreshers started together by up to 10%.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}
