package auth

import (
	"context"
	"strings"
	"time"

	"github.com/swarmauth/swarmauth/internal/cluster"
)

// ServiceStatus is where a service stands with its registry credentials. It
// never holds a credential.
type ServiceStatus struct {
	ID, Service, Image, Registry string
	// Policy is what the policy decides now: "private: needs credentials",
	// "private: no credentials in store", "public", or why it cannot tell.
	Policy      string
	Source      string
	Holds       string    // what swarmauth last stored: attached, cleared or ""
	RefreshedAt time.Time // zero when swarmauth never refreshed it
	StaleAfter  time.Duration
	Stale       bool
}

// StaleAfterFor is how old a registry's stored credentials may get, for the
// registries whose tokens are known to expire; 0 means no limit is known.
func StaleAfterFor(registry string) time.Duration {
	switch {
	case strings.Contains(registry, ".dkr.ecr.") && strings.HasSuffix(registry, ".amazonaws.com"):
		return 12 * time.Hour // ECR tokens last 12 hours
	case strings.HasSuffix(registry, ".azurecr.io"):
		return time.Hour // ACR access tokens, about an hour
	case registry == "gcr.io" || strings.HasSuffix(registry, ".gcr.io") || strings.HasSuffix(registry, "-docker.pkg.dev"):
		return time.Hour // GCR and Artifact Registry access tokens
	}
	return 0
}

// Status reports, for the selected services, what the policy decides and
// how fresh the stored credentials are by swarmauth's labels. staleAfter
// overrides the per-registry limit when not 0. Nothing is written.
func Status(ctx context.Context, api ServiceAPI, policy *Policy, sel RefreshOptions, staleAfter time.Duration, now time.Time) ([]ServiceStatus, error) {
	services, err := selectServices(ctx, api, sel)
	if err != nil {
		return nil, err
	}
	out := make([]ServiceStatus, 0, len(services))
	for _, svc := range services {
		st := ServiceStatus{ID: svc.ID, Service: svc.Spec.Name}
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			st.Policy = "not a container service"
			out = append(out, st)
			continue
		}
		st.Image = cs.Image
		labels := svc.Spec.Labels
		st.Holds = labels[cluster.LabelRegistryAuth]
		if t, err := time.Parse(time.RFC3339, labels[cluster.LabelRefreshedAt]); err == nil {
			st.RefreshedAt = t
		}
		img, err := ParseImage(cs.Image)
		if err != nil {
			st.Policy = err.Error()
			out = append(out, st)
			continue
		}
		st.Registry = img.Registry
		d := policy.Decide(ctx, img)
		if d.Source.Kind != "" {
			st.Source = d.Source.String()
		}
		switch {
		case d.Kind == Attach:
			st.Policy = "private: needs credentials"
		case d.Kind == Clear && d.Access == AccessPublic:
			st.Policy = "public"
		case d.Kind == Skip && d.Access == AccessPrivate:
			st.Policy = "private: no credentials in store"
		default:
			st.Policy = string(d.Kind) + ": " + d.Reason
		}
		st.StaleAfter = staleAfter
		if st.StaleAfter == 0 {
			st.StaleAfter = StaleAfterFor(img.Registry)
		}
		if d.Kind == Attach && st.StaleAfter > 0 {
			st.Stale = st.Holds != "attached" || st.RefreshedAt.IsZero() || now.Sub(st.RefreshedAt) > st.StaleAfter
		}
		out = append(out, st)
	}
	return out, nil
}
