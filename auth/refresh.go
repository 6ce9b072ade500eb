package auth

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// ServiceAPI is the part of the Engine API that refresh uses: one list, then
// updates (retried through inspects on version conflicts).
type ServiceAPI interface {
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	cluster.ServiceUpdater
}

// RefreshOptions select the services and shape the run.
type RefreshOptions struct {
	Services    []string       // names or IDs; none means every service
	Filters     client.Filters // as `docker service ls --filter` takes them
	Stack       string         // only this stack's services
	Registries  []string       // only services whose image lives on one of these
	IncludeJobs bool           // job-mode services re-run on any update
	Parallel    int            // concurrent updates
	DryRun      bool           // decide and report, write nothing
	Now         func() time.Time
}

// Outcome is what happened to a service.
type Outcome string

const (
	Refreshed Outcome = "refreshed"
	Cleared   Outcome = "cleared"
	Skipped   Outcome = "skipped"
	Failed    Outcome = "failed"
)

// Result is one service's line of the refresh report. It never holds a
// credential.
type Result struct {
	ID       string
	Service  string
	Image    string
	Registry string
	Source   string // where the credentials came from, e.g. "credHelper:ecr-login"
	Outcome  Outcome
	Reason   string
}

// Refresh applies the policy to every selected service: one ServiceList, then
// at most opts.Parallel updates at a time. Each update sends the spec back as
// read, with only swarmauth's labels changed, so no running task restarts.
// The error is for a selection that cannot be made (nothing is written then);
// per-service failures are in the results, after every service was tried.
func Refresh(ctx context.Context, api ServiceAPI, policy *Policy, opts RefreshOptions) ([]Result, error) {
	services, err := selectServices(ctx, api, opts)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	results := make([]Result, len(services))
	sem := make(chan struct{}, max(opts.Parallel, 1))
	var wg sync.WaitGroup
	for i, svc := range services {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = refreshOne(ctx, api, policy, opts, svc)
		})
	}
	wg.Wait()
	return results, nil
}

func refreshOne(ctx context.Context, api ServiceAPI, policy *Policy, opts RefreshOptions, svc swarm.Service) Result {
	var res Result
	_, err := cluster.UpdateService(ctx, api, svc, func(svc *swarm.Service) (client.ServiceUpdateOptions, error) {
		res = Result{ID: svc.ID, Service: svc.Spec.Name}
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			res.Outcome, res.Reason = Skipped, "not a container service"
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		}
		res.Image = cs.Image
		if isJob(svc) && !opts.IncludeJobs {
			res.Outcome, res.Reason = Skipped, "job-mode service re-runs on any update (use --include-jobs)"
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		}
		img, err := ParseImage(cs.Image)
		if err != nil {
			res.Outcome, res.Reason = Failed, err.Error()
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		}
		res.Registry = img.Registry
		d := policy.Decide(ctx, img)
		if d.Source.Kind != "" {
			res.Source = d.Source.String()
		}
		res.Reason = d.Reason
		switch d.Kind {
		case Attach:
			res.Outcome = Refreshed
		case Clear:
			res.Outcome = Cleared
		case Skip:
			res.Outcome = Skipped
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		default:
			res.Outcome = Failed
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		}
		if opts.DryRun {
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		}
		svc.Spec.Labels = cluster.WithAuthLabels(svc.Spec.Labels, d.Kind == Attach, img.Registry, opts.Now())
		return client.ServiceUpdateOptions{EncodedRegistryAuth: d.Auth}, nil
	})
	switch {
	case err == nil, err == cluster.ErrNoChange:
	case cerrdefs.IsNotFound(err):
		res.Outcome, res.Reason = Skipped, "service was removed during the refresh"
	default:
		res.Outcome, res.Reason = Failed, fmt.Sprintf("failed to update service %s: %v", res.Service, err)
	}
	return res
}

func isJob(svc *swarm.Service) bool {
	return svc.Spec.Mode.ReplicatedJob != nil || svc.Spec.Mode.GlobalJob != nil
}

// selectServices lists the services once and applies the selection. Names that
// match no selected service are an error, before anything is written.
func selectServices(ctx context.Context, api ServiceAPI, opts RefreshOptions) ([]swarm.Service, error) {
	filters := opts.Filters.Clone()
	if opts.Stack != "" {
		filters = filters.Add("label", cluster.LabelStackNamespace+"="+opts.Stack)
	}
	list, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: filters})
	if err != nil {
		return nil, fmt.Errorf("failed to list services: %w", err)
	}
	services := list.Items
	if len(opts.Services) > 0 {
		if services, err = byNameOrID(services, opts.Services); err != nil {
			return nil, err
		}
	}
	if len(opts.Registries) > 0 {
		want := map[string]bool{}
		for _, r := range opts.Registries {
			want[NormalizeRegistry(r)] = true
		}
		services = slices.DeleteFunc(services, func(s swarm.Service) bool {
			cs := s.Spec.TaskTemplate.ContainerSpec
			if cs == nil {
				return true
			}
			img, err := ParseImage(cs.Image)
			return err != nil || !want[img.Registry]
		})
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Spec.Name < services[j].Spec.Name })
	return services, nil
}

// SelectionError is a selection that names services that do not exist: a
// configuration error, unlike a failure to reach the swarm.
type SelectionError struct{ msg string }

func (e *SelectionError) Error() string { return e.msg }

// byNameOrID picks services by exact name, full ID or unique ID prefix, as
// docker does.
func byNameOrID(services []swarm.Service, names []string) ([]swarm.Service, error) {
	var picked []swarm.Service
	seen := map[string]bool{}
	var missing []string
	for _, n := range names {
		match := -1
		for i, s := range services {
			if s.Spec.Name == n || s.ID == n {
				match = i
				break
			}
		}
		if match < 0 {
			var prefixed []int
			for i, s := range services {
				if strings.HasPrefix(s.ID, n) {
					prefixed = append(prefixed, i)
				}
			}
			if len(prefixed) > 1 {
				return nil, &SelectionError{fmt.Sprintf("service ID prefix %s is ambiguous", n)}
			}
			if len(prefixed) == 1 {
				match = prefixed[0]
			}
		}
		if match < 0 {
			missing = append(missing, n)
			continue
		}
		if s := services[match]; !seen[s.ID] {
			seen[s.ID] = true
			picked = append(picked, s)
		}
	}
	if len(missing) > 0 {
		return nil, &SelectionError{"no such service: " + strings.Join(missing, ", ")}
	}
	return picked, nil
}
