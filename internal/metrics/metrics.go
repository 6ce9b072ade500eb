// Package metrics exposes a scheduled refresher's state to Prometheus, and a
// health check that fails when refreshing stopped working.
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/swarmauth/swarmauth/auth"
)

// Recorder keeps the refresher's metrics.
type Recorder struct {
	registry      *prometheus.Registry
	lastSuccess   *prometheus.GaugeVec
	failures      *prometheus.CounterVec
	passDuration  prometheus.Histogram
	helperSeconds *prometheus.HistogramVec
	helperErrors  *prometheus.CounterVec

	mu       sync.Mutex
	started  time.Time
	lastPass time.Time // the last pass with no failure
	interval time.Duration
	now      func() time.Time
}

// New makes a Recorder for a refresher running every interval.
func New(interval time.Duration) *Recorder {
	r := &Recorder{
		registry: prometheus.NewRegistry(),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "swarmauth_refresh_last_success_timestamp_seconds",
			Help: "When a service's registry auth was last refreshed or cleared.",
		}, []string{"service"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmauth_refresh_failures_total",
			Help: "Failed refreshes, by service and registry.",
		}, []string{"service", "registry"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "swarmauth_refresh_pass_duration_seconds",
			Help: "How long a refresh pass took.",
		}),
		helperSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "swarmauth_credential_helper_duration_seconds",
			Help: "How long credential helper calls took.",
		}, []string{"helper"}),
		helperErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swarmauth_credential_helper_errors_total",
			Help: "Credential helper calls that failed or timed out.",
		}, []string{"helper"}),
		interval: interval,
		now:      time.Now,
		started:  time.Now(),
	}
	r.registry.MustRegister(r.lastSuccess, r.failures, r.passDuration, r.helperSeconds, r.helperErrors)
	return r
}

// Pass records a pass's results.
func (r *Recorder) Pass(results []auth.Result, took time.Duration) {
	r.passDuration.Observe(took.Seconds())
	now := r.now()
	failed := false
	for _, res := range results {
		switch res.Outcome {
		case auth.Refreshed, auth.Cleared:
			r.lastSuccess.WithLabelValues(res.Service).Set(float64(now.Unix()))
		case auth.Failed:
			failed = true
			r.failures.WithLabelValues(res.Service, res.Registry).Inc()
		}
	}
	if !failed {
		r.mu.Lock()
		r.lastPass = now
		r.mu.Unlock()
	}
}

// HelperCall records a credential helper call.
func (r *Recorder) HelperCall(helper string, took time.Duration, err error) {
	r.helperSeconds.WithLabelValues(helper).Observe(took.Seconds())
	if err != nil {
		r.helperErrors.WithLabelValues(helper).Inc()
	}
}

// Healthy reports whether a pass succeeded within the last two intervals
// (counted from the start until the first one does).
func (r *Recorder) Healthy() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	since := r.lastPass
	if since.IsZero() {
		since = r.started
	}
	return r.now().Sub(since) <= 2*r.interval
}

// Handler serves /metrics and /healthz.
func (r *Recorder) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(r.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !r.Healthy() {
			http.Error(w, "no successful refresh pass within two intervals", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
