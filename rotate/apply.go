package rotate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// ApplyOptions shape how a rotation runs.
type ApplyOptions struct {
	Out     io.Writer
	Detach  bool // switch the services without waiting; keeps the old versions
	Timeout time.Duration
	Report  func([]cluster.ServiceState)
	// Services updates the services; cluster.ExactServices sends their specs
	// back exactly as read but for the references.
	Services cluster.ServiceUpdater
}

// Apply creates the version, runs the job if any, then switches the services
// one at a time, each waited for. A service that fails to converge is rolled
// back and the rotation stops with the old version kept; the error says which
// service is on which version. Old versions are removed once every service
// converged and nothing uses them.
func (p *Plan) Apply(ctx context.Context, api API, o ApplyOptions) error {
	if !p.Reuse {
		_, _ = fmt.Fprintf(o.Out, "Creating %s %s\n", p.Kind, p.NewName)
		id, err := p.objects.Create(ctx, cluster.ObjectSpec{Name: p.NewName, Labels: p.labels, Data: p.o.Content})
		if err != nil {
			return fmt.Errorf("failed to create %s %s: %w", p.Kind, p.NewName, err)
		}
		p.newID = id
	}
	if p.o.Job != nil {
		if err := p.runJob(ctx, api, o); err != nil {
			return fmt.Errorf("%w; every service is still on its old version, and %s %s is kept", err, p.Kind, p.NewName)
		}
	}
	var done []string
	for _, s := range p.switches {
		updated, err := p.switchService(ctx, api, s, o)
		if err != nil {
			return p.stopped(err, done)
		}
		if !updated {
			_, _ = fmt.Fprintf(o.Out, "Service %s already uses %s\n", s.svc.Spec.Name, p.NewName)
			done = append(done, s.svc.Spec.Name)
			continue
		}
		if o.Detach {
			done = append(done, s.svc.Spec.Name)
			continue
		}
		if _, err := cluster.Wait(ctx, api, []string{s.svc.ID}, o.Timeout, o.Report); err != nil {
			if ctx.Err() != nil {
				return p.stopped(fmt.Errorf("stopped waiting (%w); run the same rotation again to finish", ctx.Err()), done)
			}
			_, _ = fmt.Fprintf(o.Out, "Rolling back service %s\n", s.svc.Spec.Name)
			if rerr := rollback(ctx, api, s.svc.ID, o); rerr != nil {
				err = errors.Join(err, rerr)
			}
			return p.stopped(err, done)
		}
		done = append(done, s.svc.Spec.Name)
	}
	if o.Detach || len(p.staying) > 0 {
		return nil
	}
	inUse, err := cluster.ObjectsInUse(ctx, api)
	if err != nil {
		return err
	}
	removed, err := cluster.RetireVersions(ctx, p.objects, "", map[string]string{p.Lineage: p.NewName}, inUse, p.o.Keep, false)
	for _, name := range removed {
		_, _ = fmt.Fprintf(o.Out, "Removing %s %s\n", p.Kind, name)
	}
	return err
}

// stopped explains where every service stands after a rotation stopped early.
func (p *Plan) stopped(err error, done []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v\n", err)
	for _, n := range done {
		fmt.Fprintf(&b, "  service %s: on %s\n", n, p.NewName)
	}
	for _, s := range p.switches {
		if !slices.Contains(done, s.svc.Spec.Name) {
			fmt.Fprintf(&b, "  service %s: on %s\n", s.svc.Spec.Name, strings.Join(s.from, ", "))
		}
	}
	fmt.Fprintf(&b, "old versions are kept (%s)", strings.Join(p.Old, ", "))
	return errors.New(b.String())
}

// switchService moves one service's references from the old versions to the
// new one, keeping each target, uid, gid and mode. It reports false when the
// service already uses only the new version (a rerun).
func (p *Plan) switchService(ctx context.Context, api API, s *switchPlan, o ApplyOptions) (bool, error) {
	changed := false
	_, err := cluster.UpdateService(ctx, o.Services, s.svc, func(svc *swarm.Service) (client.ServiceUpdateOptions, error) {
		changed = p.rewrite(svc, s)
		if !changed {
			return client.ServiceUpdateOptions{}, cluster.ErrNoChange
		}
		_, _ = fmt.Fprintf(o.Out, "Updating service %s: %s -> %s\n", svc.Spec.Name, strings.Join(s.from, ", "), p.NewName)
		return client.ServiceUpdateOptions{}, nil
	})
	if errors.Is(err, cluster.ErrNoChange) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("failed to update service %s: %w", s.svc.Spec.Name, err)
	}
	return changed, nil
}

// rewrite points the service's references to old versions at the new one.
func (p *Plan) rewrite(svc *swarm.Service, s *switchPlan) bool {
	cs := *svc.Spec.TaskTemplate.ContainerSpec
	isOld := func(name string) bool { return slices.Contains(s.from, name) }
	changed := false
	if p.Kind == "secret" {
		var out []*swarm.SecretReference
		for _, r := range cs.Secrets {
			if isOld(r.SecretName) {
				if s.keepOld != "" {
					old := *r
					f := *r.File
					f.Name = s.keepOld
					old.File = &f
					out = append(out, &old)
				}
				nr := *r
				nr.SecretName, nr.SecretID = p.NewName, p.newID
				r = &nr
				changed = true
			}
			out = append(out, r)
		}
		cs.Secrets = out
	} else {
		var out []*swarm.ConfigReference
		for _, r := range cs.Configs {
			if isOld(r.ConfigName) {
				if s.keepOld != "" && r.File != nil {
					old := *r
					f := *r.File
					f.Name = s.keepOld
					old.File = &f
					out = append(out, &old)
				}
				nr := *r
				nr.ConfigName, nr.ConfigID = p.NewName, p.newID
				r = &nr
				changed = true
			}
			out = append(out, r)
		}
		cs.Configs = out
	}
	svc.Spec.TaskTemplate.ContainerSpec = &cs
	return changed
}

func rollback(ctx context.Context, api API, id string, o ApplyOptions) error {
	cur, err := api.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
	if err != nil {
		return err
	}
	_, err = o.Services.ServiceUpdate(ctx, id, client.ServiceUpdateOptions{Version: cur.Service.Version, Spec: cur.Service.Spec, Rollback: "previous"})
	if err != nil {
		return fmt.Errorf("failed to roll back: %w", err)
	}
	_, err = cluster.WaitRollback(ctx, api, []string{id}, o.Timeout, o.Report)
	return err
}

// runJob runs the one-off job with both versions mounted and waits for it to
// complete; the job service is removed afterwards.
func (p *Plan) runJob(ctx context.Context, api API, o ApplyOptions) error {
	j := p.o.Job
	one := uint64(1)
	cs := &swarm.ContainerSpec{Image: j.Image, Args: j.Command}
	if p.Kind == "secret" {
		cs.Secrets = append(cs.Secrets,
			&swarm.SecretReference{SecretID: p.oldID, SecretName: p.oldName, File: &swarm.SecretReferenceFileTarget{Name: JobOldTarget, UID: "0", GID: "0", Mode: 0o444}},
			&swarm.SecretReference{SecretID: p.newID, SecretName: p.NewName, File: &swarm.SecretReferenceFileTarget{Name: JobNewTarget, UID: "0", GID: "0", Mode: 0o444}})
	} else {
		cs.Configs = append(cs.Configs,
			&swarm.ConfigReference{ConfigID: p.oldID, ConfigName: p.oldName, File: &swarm.ConfigReferenceFileTarget{Name: "/" + JobOldTarget, UID: "0", GID: "0", Mode: 0o444}},
			&swarm.ConfigReference{ConfigID: p.newID, ConfigName: p.NewName, File: &swarm.ConfigReferenceFileTarget{Name: "/" + JobNewTarget, UID: "0", GID: "0", Mode: 0o444}})
	}
	name := fmt.Sprintf("%s-rotate-v%d", strings.ReplaceAll(p.Lineage, "_", "-"), p.Version)
	_, _ = fmt.Fprintf(o.Out, "Running job %s (%s)\n", name, j.Image)
	res, err := api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: name, Labels: map[string]string{cluster.LabelObject: p.Lineage}},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: cs,
			Networks:      p.jobNets,
			RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
		},
		Mode: swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &one, TotalCompletions: &one}},
	}})
	if err != nil {
		return fmt.Errorf("failed to start the job: %w", err)
	}
	defer func() { _, _ = api.ServiceRemove(context.WithoutCancel(ctx), res.ID, client.ServiceRemoveOptions{}) }()
	_, err = cluster.WaitJob(ctx, api, res.ID, o.Timeout, o.Report)
	if err != nil {
		return fmt.Errorf("the job failed: %w", err)
	}
	return nil
}
