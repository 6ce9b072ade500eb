package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swarmauth/swarmauth/auth"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestRecorder(t *testing.T) {
	clock := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	r := New(time.Minute)
	r.now = func() time.Time { return clock }
	r.started = clock
	h := r.Handler()

	code, _ := get(t, h, "/healthz")
	assert.Check(t, is.Equal(code, http.StatusOK), "healthy while starting")

	r.Pass([]auth.Result{{Service: "api", Registry: "ecr.example", Outcome: auth.Failed}}, 2*time.Second)
	r.HelperCall("ecr-login", 3*time.Second, errors.New("timed out"))
	clock = clock.Add(3 * time.Minute)
	code, _ = get(t, h, "/healthz")
	assert.Check(t, is.Equal(code, http.StatusServiceUnavailable), "no successful pass within two intervals")

	r.Pass([]auth.Result{{Service: "api", Registry: "ecr.example", Outcome: auth.Refreshed}, {Service: "web", Outcome: auth.Cleared}}, time.Second)
	code, _ = get(t, h, "/healthz")
	assert.Check(t, is.Equal(code, http.StatusOK))

	_, body := get(t, h, "/metrics")
	for _, want := range []string{
		`swarmauth_refresh_failures_total{registry="ecr.example",service="api"} 1`,
		`swarmauth_refresh_last_success_timestamp_seconds{service="api"} 1.79534898e+09`,
		`swarmauth_credential_helper_errors_total{helper="ecr-login"} 1`,
		`swarmauth_refresh_pass_duration_seconds_count 2`,
		`swarmauth_credential_helper_duration_seconds_count{helper="ecr-login"} 1`,
	} {
		assert.Check(t, strings.Contains(body, want), "missing %s in\n%s", want, body)
	}
}
