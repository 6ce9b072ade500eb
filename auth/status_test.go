package auth

import (
	"context"
	"testing"
	"time"

	"github.com/swarmauth/swarmauth/internal/cluster"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestStaleAfterFor(t *testing.T) {
	for reg, want := range map[string]time.Duration{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com": 12 * time.Hour,
		"myregistry.azurecr.io":                        time.Hour,
		"gcr.io":                                       time.Hour,
		"europe-west1-docker.pkg.dev":                  time.Hour,
		"registry.gitlab.com":                          0,
		"docker.io":                                    0,
	} {
		assert.Check(t, is.Equal(StaleAfterFor(reg), want), reg)
	}
}

func TestStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	fresh := svc("a", "fresh", "ecr.example/shop/api:1")
	fresh.Spec.Labels = cluster.WithAuthLabels(nil, true, "ecr.example", now.Add(-time.Hour))
	old := svc("b", "old", "ecr.example/shop/web:1")
	old.Spec.Labels = cluster.WithAuthLabels(nil, true, "ecr.example", now.Add(-13*time.Hour))
	never := svc("c", "never", "ecr.example/shop/api:2")
	public := svc("d", "tools", "pub.example/tools:1")
	nocreds := svc("e", "legacy", "nocreds.example/app:1")
	f := newFakeSwarm(fresh, old, never, public, nocreds)

	rows, err := Status(context.Background(), f, testPolicy(), RefreshOptions{}, 12*time.Hour, now)
	assert.NilError(t, err)
	got := map[string]ServiceStatus{}
	for _, r := range rows {
		got[r.Service] = r
	}
	assert.Check(t, !got["fresh"].Stale)
	assert.Check(t, is.Equal(got["fresh"].Policy, "private: needs credentials"))
	assert.Check(t, is.Equal(got["fresh"].Source, "credHelper:ecr-login"))
	assert.Check(t, got["old"].Stale, "refreshed 13h ago, limit 12h")
	assert.Check(t, got["never"].Stale, "never refreshed by swarmauth")
	assert.Check(t, is.Equal(got["tools"].Policy, "public"))
	assert.Check(t, !got["tools"].Stale)
	assert.Check(t, is.Equal(got["legacy"].Policy, "private: no credentials in store"))
	assert.Check(t, is.Len(f.updates, 0), "status writes nothing")

	rows, err = Status(context.Background(), f, testPolicy(), RefreshOptions{}, 0, now)
	assert.NilError(t, err)
	for _, r := range rows {
		assert.Check(t, !r.Stale, "no limit is known for ecr.example: %s", r.Service)
	}
}
