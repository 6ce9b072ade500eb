package stack

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/auth"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// PlanOptions shape a plan.
type PlanOptions struct {
	ResolveImage string
	// Policy decides each service's registry auth; a service's x-swarmauth
	// registry-auth overrides its mode.
	Policy *auth.Policy
	Prune  bool // remove what the files no longer define
	Force  bool // update every service, changed or not
	// RefreshAuth sends every service its registry auth again, even when its
	// labels say it holds it: for credentials that changed since.
	RefreshAuth bool
	Warn        io.Writer // image resolution warnings
	Now         func() time.Time
}

// Plan is everything a deploy will do. It is computed, and validated, before
// the first write: MakePlan only reads the swarm.
type Plan struct {
	Namespace string

	res          *Resources
	networkIDs   map[string]string // every network's ID, by name
	networks     []string          // to create
	objects      []*objectPlan
	services     []*servicePlan
	prune        []swarm.Service // services to remove
	dropNetworks []string        // stack networks the files no longer define
	withPrune    bool
}

// MakePlan reads the swarm and decides, for every network, secret, config and
// service of the stack, what the deploy will do. Any error (a failing
// credential helper, an oversized secret, a missing external network) comes
// back before anything was written.
func MakePlan(ctx context.Context, api API, res *Resources, o PlanOptions) (*Plan, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := checkManager(ctx, api); err != nil {
		return nil, err
	}
	p := &Plan{Namespace: res.Namespace, res: res, withPrune: o.Prune}
	existing, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(res.Namespace)})
	if err != nil {
		return nil, err
	}
	byName := map[string]*swarm.Service{}
	for i := range existing.Items {
		byName[existing.Items[i].Spec.Name] = &existing.Items[i]
	}
	if p.services, err = planServices(ctx, res, byName, o); err != nil {
		return nil, err
	}
	if err := validateExternalNetworks(ctx, api, res.ExternalNetworks); err != nil {
		return nil, err
	}
	if err := p.planNetworks(ctx, api); err != nil {
		return nil, err
	}
	if err := p.planObjects(ctx, api); err != nil {
		return nil, err
	}
	resolveImages(ctx, api, p.services, o.Warn)
	p.decideServices(o)
	if o.Prune {
		keep := map[string]bool{}
		for _, s := range res.Services {
			keep[s.Spec.Name] = true
		}
		for _, name := range sortedKeys(byName) {
			if !keep[name] {
				p.prune = append(p.prune, *byName[name])
			}
		}
	}
	return p, nil
}

func (p *Plan) planNetworks(ctx context.Context, api API) error {
	list, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	p.networkIDs = map[string]string{}
	for _, n := range list.Items {
		p.networkIDs[n.Name] = n.ID
		if n.Labels[cluster.LabelStackNamespace] != p.Namespace {
			continue
		}
		have[n.Name] = true
		if _, defined := p.res.Networks[n.Name]; !defined && p.withPrune {
			p.dropNetworks = append(p.dropNetworks, n.Name)
		}
	}
	for _, name := range sortedKeys(p.res.Networks) {
		if !have[name] {
			p.networks = append(p.networks, name)
		}
	}
	return nil
}

// planObjects versions the stack's secrets and configs.
func (p *Plan) planObjects(ctx context.Context, api API) error {
	withLineage := func(labels map[string]string, base, digest string) map[string]string {
		out := maps.Clone(labels)
		out[cluster.LabelObject], out[cluster.LabelDigest] = base, digest
		return out
	}
	var secrets, configs []desiredObject
	for _, s := range p.res.Secrets {
		if len(s.Data) > maxSecretSize {
			return fmt.Errorf("secret %s is %d bytes; the swarm takes at most %d", s.Name, len(s.Data), maxSecretSize)
		}
		d := contentDigest(s.Data)
		secrets = append(secrets, desiredObject{Base: s.Name, Data: s.Data, Digest: d, Labels: withLineage(s.Labels, s.Name, d),
			spec: cluster.ObjectSpec{Data: s.Data, Driver: s.Driver, Templating: s.Templating}})
	}
	for _, c := range p.res.Configs {
		d := contentDigest(c.Data)
		configs = append(configs, desiredObject{Base: c.Name, Data: c.Data, Digest: d, Labels: withLineage(c.Labels, c.Name, d),
			spec: cluster.ObjectSpec{Data: c.Data, Templating: c.Templating}})
	}
	for _, kind := range []struct {
		api     cluster.ObjectAPI
		desired []desiredObject
	}{{cluster.Secrets(api), secrets}, {cluster.Configs(api), configs}} {
		plans, err := planObjects(ctx, kind.api, kind.desired)
		if err != nil {
			return err
		}
		p.objects = append(p.objects, plans...)
	}
	return nil
}

// object returns the plan of the secret or config whose docker name is base.
func (p *Plan) object(kind, base string) *objectPlan {
	for _, o := range p.objects {
		if o.Kind == kind && o.Base == base {
			return o
		}
	}
	return nil
}

// desiredSpec is a service's spec as the deploy will send it: the resolved
// image, versioned secrets and configs with the IDs known so far.
func (p *Plan) desiredSpec(sp *servicePlan) swarm.ServiceSpec {
	spec := sp.svc.Spec
	cs := *spec.TaskTemplate.ContainerSpec
	cs.Image = sp.image
	cs.Secrets, cs.Configs = nil, nil
	for _, ref := range sp.svc.Spec.TaskTemplate.ContainerSpec.Secrets {
		r := *ref
		if o := p.object("secret", ref.SecretName); o != nil {
			r.SecretName, r.SecretID = o.Name, o.ID
		}
		cs.Secrets = append(cs.Secrets, &r)
	}
	for _, ref := range sp.svc.Spec.TaskTemplate.ContainerSpec.Configs {
		r := *ref
		if o := p.object("config", ref.ConfigName); o != nil {
			r.ConfigName, r.ConfigID = o.Name, o.ID
		}
		cs.Configs = append(cs.Configs, &r)
	}
	if cred := cs.Privileges.CredentialSpec; cred != nil && cred.Config != "" {
		c := *cred
		for _, r := range cs.Configs {
			if r.Runtime != nil {
				c.Config = r.ConfigID
			}
		}
		privileges := *cs.Privileges
		privileges.CredentialSpec = &c
		cs.Privileges = &privileges
	}
	spec.TaskTemplate.ContainerSpec = &cs
	spec.Labels = maps.Clone(spec.Labels)
	return spec
}

// decideServices compares each service's desired spec with the running one.
// A service whose spec is unchanged, and that already holds the registry auth
// the policy wants, is left alone: no update call at all.
func (p *Plan) decideServices(o PlanOptions) {
	for _, sp := range p.services {
		spec := p.desiredSpec(sp)
		attached := sp.decision.Kind == auth.Attach
		img, _ := auth.ParseImage(sp.svc.Spec.TaskTemplate.ContainerSpec.Image)
		recordsAuth := sp.decision.Kind == auth.Attach || sp.decision.Kind == auth.Clear
		if sp.existing == nil {
			sp.action = "create"
			if recordsAuth {
				spec.Labels = cluster.WithAuthLabels(spec.Labels, attached, img.Registry, o.Now())
			}
			sp.desired = spec
			continue
		}
		old := sp.existing.Spec
		// What swarmauth recorded earlier is not part of the file: keep it.
		for _, k := range []string{cluster.LabelRefreshedAt, cluster.LabelRegistryAuth, cluster.LabelRegistry} {
			if v, ok := old.Labels[k]; ok {
				spec.Labels[k] = v
			}
		}
		spec.TaskTemplate.ForceUpdate = old.TaskTemplate.ForceUpdate
		sp.sendAuth = recordsAuth && (o.RefreshAuth || !cluster.HoldsAuth(old.Labels, attached, img.Registry))
		if sp.sendAuth {
			spec.Labels = cluster.WithAuthLabels(spec.Labels, attached, img.Registry, o.Now())
		}
		if o.Force {
			spec.TaskTemplate.ForceUpdate++
		}
		sp.changes = cluster.SpecDiff(asStored(spec, p.networkIDs), old, 3)
		sp.action = "update"
		if len(sp.changes) == 0 && !sp.sendAuth {
			sp.action = "unchanged"
		}
		sp.desired = spec
	}
}

// asStored returns the spec as the swarm would store it, for comparing with
// a running service: the Engine fills in defaults and keeps networks by ID.
func asStored(spec swarm.ServiceSpec, networkIDs map[string]string) swarm.ServiceSpec {
	tt := spec.TaskTemplate
	cs := *tt.ContainerSpec
	if cs.Isolation == "" {
		cs.Isolation = container.IsolationDefault
	}
	tt.ContainerSpec = &cs
	if tt.Runtime == "" {
		tt.Runtime = swarm.RuntimeContainer
	}
	nets := make([]swarm.NetworkAttachmentConfig, len(tt.Networks))
	for i, n := range tt.Networks {
		if id, ok := networkIDs[n.Target]; ok {
			n.Target = id
		}
		nets[i] = n
	}
	tt.Networks = nets
	spec.TaskTemplate = tt
	if spec.Mode.Replicated != nil && spec.Mode.Replicated.Replicas == nil {
		one := uint64(1)
		spec.Mode = swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}}
	}
	for _, u := range []**swarm.UpdateConfig{&spec.UpdateConfig, &spec.RollbackConfig} {
		if *u != nil && (*u).FailureAction == "" {
			c := **u
			c.FailureAction = swarm.UpdateFailureActionPause
			*u = &c
		}
	}
	if spec.EndpointSpec != nil && spec.EndpointSpec.Mode == "" {
		ep := *spec.EndpointSpec
		ep.Mode = swarm.ResolutionModeVIP
		spec.EndpointSpec = &ep
	}
	return spec
}

// Changed reports whether applying the plan would write anything.
func (p *Plan) Changed() bool {
	if len(p.networks)+len(p.prune)+len(p.dropNetworks) > 0 {
		return true
	}
	for _, o := range p.objects {
		if o.Action != "reuse" {
			return true
		}
	}
	for _, s := range p.services {
		if s.action != "unchanged" {
			return true
		}
	}
	return false
}

// Write prints the plan, one line per object.
func (p *Plan) Write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "Plan for stack %s:\n", p.Namespace)
	line := func(kind, name, what string) { _, _ = fmt.Fprintf(w, "  %-8s %-32s %s\n", kind, name, what) }
	for _, n := range p.networks {
		line("network", n, "create")
	}
	for _, o := range p.objects {
		what := o.Action + " " + o.Name
		if len(o.Replace) > 0 {
			what += ", replacing " + strings.Join(o.Replace, ", ") + " (its data cannot be compared; once)"
		}
		line(o.Kind, o.Base, what)
	}
	for _, s := range p.services {
		what := s.action
		if s.action == "update" {
			if len(s.changes) > 0 {
				what += " " + strings.Join(s.changes, ", ")
			} else {
				what += " registry auth only"
			}
		}
		if s.action != "unchanged" {
			what += "; " + authNote(s.decision, s.action == "create")
		}
		line("service", s.svc.Spec.Name, what)
	}
	for _, s := range p.prune {
		line("service", s.Spec.Name, "remove (no longer defined)")
	}
	for _, n := range p.dropNetworks {
		line("network", n, "remove (no longer defined)")
	}
}
