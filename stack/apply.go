package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/auth"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// ApplyOptions shape how a plan is carried out.
type ApplyOptions struct {
	Out io.Writer // docker's lines: Creating network ..., Updating service ...
	Err io.Writer // warnings
	// Detach returns once the writes are done, without waiting; old secret
	// and config versions are then left for a later deploy to retire.
	Detach            bool
	Timeout           time.Duration // bounds the wait; 0: none
	RollbackOnFailure bool
	KeepVersions      int                          // unused old versions kept per secret or config
	Report            func([]cluster.ServiceState) // progress while waiting
}

// deployParallel bounds the service creates and updates in flight.
const deployParallel = 8

// Apply carries the plan out: networks, new secret and config versions, then
// the services that change. Unless detached it waits for them to converge;
// only then does it prune and retire the versions nothing uses any more, so
// that no service is ever left without a secret it needs.
func (p *Plan) Apply(ctx context.Context, api API, o ApplyOptions) error {
	for _, name := range p.networks {
		_, _ = fmt.Fprintln(o.Out, "Creating network", name)
		if _, err := api.NetworkCreate(ctx, name, p.res.Networks[name]); err != nil {
			return fmt.Errorf("failed to create network %s: %w", name, err)
		}
	}
	for _, obj := range p.objects {
		switch obj.Action {
		case "create":
			_, _ = fmt.Fprintf(o.Out, "Creating %s %s\n", obj.Kind, obj.Name)
		case "adopt":
			_, _ = fmt.Fprintf(o.Out, "Adopting %s %s\n", obj.Kind, obj.Name)
		}
		if err := applyObject(ctx, cluster.ObjectsOf(api, obj.Kind), obj); err != nil {
			return err
		}
	}
	changed, err := p.applyServices(ctx, api, o)
	if err != nil {
		return err
	}
	if o.Detach {
		return nil
	}
	states, err := cluster.Wait(ctx, api, ids(changed), o.Timeout, o.Report)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting (%w): the deploy was applied, %s; run it again to finish", ctx.Err(), pendingSummary(states))
		}
		if o.RollbackOnFailure {
			return errors.Join(err, p.rollback(ctx, api, changed, states, o))
		}
		return err
	}
	return p.finish(ctx, api, o)
}

type changedService struct {
	id      string
	name    string
	updated bool // false: created
}

func ids(cs []changedService) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.id
	}
	return out
}

// applyServices creates and updates the changed services, deployParallel at
// a time, and tries them all; the error lists those that failed.
func (p *Plan) applyServices(ctx context.Context, api API, o ApplyOptions) ([]changedService, error) {
	var mu sync.Mutex
	out := &lockedWriter{w: o.Out, mu: &mu}
	warn := &lockedWriter{w: o.Err, mu: &mu}
	var changed []changedService
	var errs []error
	sem := make(chan struct{}, deployParallel)
	var wg sync.WaitGroup
	for _, sp := range p.services {
		if sp.action == "unchanged" {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := p.applyService(ctx, api, sp, out, warn)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			changed = append(changed, c)
		})
	}
	wg.Wait()
	return changed, errors.Join(errs...)
}

func (p *Plan) applyService(ctx context.Context, api API, sp *servicePlan, out, warn io.Writer) (changedService, error) {
	spec := p.desiredSpec(sp) // the IDs of versions this apply created are known now
	spec.Labels = sp.desired.Labels
	spec.TaskTemplate.ForceUpdate = sp.desired.TaskTemplate.ForceUpdate
	if err := checkLinked(spec.TaskTemplate.ContainerSpec); err != nil {
		return changedService{}, fmt.Errorf("service %s: %w", spec.Name, err)
	}
	if sp.existing != nil {
		_, _ = fmt.Fprintf(out, "Updating service %s (id: %s): %s\n", spec.Name, sp.existing.ID, authNote(sp.decision, false))
		opts := client.ServiceUpdateOptions{Version: sp.existing.Version, Spec: spec}
		if sp.sendAuth {
			opts.EncodedRegistryAuth = sp.decision.Auth
		}
		r, err := api.ServiceUpdate(ctx, sp.existing.ID, opts)
		if err != nil {
			return changedService{}, fmt.Errorf("failed to update service %s: %w", spec.Name, err)
		}
		for _, w := range r.Warnings {
			_, _ = fmt.Fprintln(warn, w)
		}
		return changedService{id: sp.existing.ID, name: spec.Name, updated: true}, nil
	}
	_, _ = fmt.Fprintf(out, "Creating service %s: %s\n", spec.Name, authNote(sp.decision, true))
	opts := client.ServiceCreateOptions{Spec: spec}
	if sp.decision.Kind == auth.Attach {
		opts.EncodedRegistryAuth = sp.decision.Auth // a new service has nothing to clear
	}
	r, err := api.ServiceCreate(ctx, opts)
	if err != nil {
		return changedService{}, fmt.Errorf("failed to create service %s: %w", spec.Name, err)
	}
	for _, w := range r.Warnings {
		_, _ = fmt.Fprintln(warn, w)
	}
	return changedService{id: r.ID, name: spec.Name}, nil
}

// rollback returns the failed, updated services to their previous spec and
// waits for that.
func (p *Plan) rollback(ctx context.Context, api API, changed []changedService, states []cluster.ServiceState, o ApplyOptions) error {
	failed := map[string]bool{}
	for _, s := range states {
		if s.Failed || !s.Done {
			failed[s.ID] = true
		}
	}
	var back []string
	var errs []error
	for _, c := range changed {
		if !failed[c.id] || !c.updated {
			continue
		}
		_, _ = fmt.Fprintf(o.Out, "Rolling back service %s\n", c.name)
		cur, err := api.ServiceInspect(ctx, c.id, client.ServiceInspectOptions{})
		if err == nil {
			_, err = api.ServiceUpdate(ctx, c.id, client.ServiceUpdateOptions{Version: cur.Service.Version, Spec: cur.Service.Spec, Rollback: "previous"})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to roll back service %s: %w", c.name, err))
			continue
		}
		back = append(back, c.id)
	}
	if len(back) > 0 {
		if _, err := cluster.WaitRollback(ctx, api, back, o.Timeout, o.Report); err != nil {
			errs = append(errs, fmt.Errorf("rollback: %w", err))
		} else {
			_, _ = fmt.Fprintf(o.Out, "Rolled back %d service(s) to their previous spec\n", len(back))
		}
	}
	return errors.Join(errs...)
}

// finish runs once every changed service converged: prune, then retire the
// secret and config versions no service uses.
func (p *Plan) finish(ctx context.Context, api API, o ApplyOptions) error {
	for _, s := range p.prune {
		_, _ = fmt.Fprintln(o.Out, "Removing service", s.Spec.Name)
		if _, err := api.ServiceRemove(ctx, s.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("failed to remove service %s: %w", s.Spec.Name, err)
		}
	}
	if len(p.prune) > 0 && len(p.dropNetworks) > 0 {
		// The removed services' tasks must be gone before their networks go.
		var gone []string
		for _, s := range p.prune {
			gone = append(gone, s.ID)
		}
		if err := cluster.WaitGone(ctx, api, gone, o.Timeout); err != nil {
			return err
		}
	}
	for _, n := range p.dropNetworks {
		_, _ = fmt.Fprintln(o.Out, "Removing network", n)
		if _, err := api.NetworkRemove(ctx, n, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("failed to remove network %s: %w", n, err)
		}
	}
	inUse, err := cluster.ObjectsInUse(ctx, api)
	if err != nil {
		return err
	}
	for _, kind := range []string{"secret", "config"} {
		current := map[string]string{}
		for _, obj := range p.objects {
			if obj.Kind == kind {
				current[obj.Base] = obj.Name
			}
		}
		removed, err := cluster.RetireVersions(ctx, cluster.ObjectsOf(api, kind), p.Namespace, current, inUse, o.KeepVersions, p.withPrune)
		for _, name := range removed {
			_, _ = fmt.Fprintf(o.Out, "Removing %s %s\n", kind, name)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkLinked makes sure every secret and config a spec names has its ID.
func checkLinked(cs *swarm.ContainerSpec) error {
	for _, r := range cs.Secrets {
		if r.SecretID == "" {
			return fmt.Errorf("secret not found: %s", r.SecretName)
		}
	}
	for _, r := range cs.Configs {
		if r.ConfigID == "" {
			return fmt.Errorf("config not found: %s", r.ConfigName)
		}
	}
	return nil
}

func pendingSummary(states []cluster.ServiceState) string {
	var done, pending []string
	for _, s := range states {
		if s.Done {
			done = append(done, s.Name)
		} else if s.Name != "" {
			pending = append(pending, s.Name+" ("+s.Progress+")")
		}
	}
	return fmt.Sprintf("converged: %v, not yet: %v", done, pending)
}
