// Package rotate rotates Swarm secrets and configs by version: it creates the
// next version of a lineage, moves every service that uses the lineage onto it
// (keeping each reference's target, uid, gid and mode), waits, rolls back a
// service that fails, and removes old versions only when nothing uses them.
package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// API is what a rotation needs of the Engine.
type API interface {
	cluster.ObjectClient
	cluster.WaitAPI
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceRemove(ctx context.Context, serviceID string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
}

// LabelVersion is the version number of a rotated secret or config.
const LabelVersion = "swarmauth.version"

// Size limits of the swarm.
const (
	maxSecretSize = 500 * 1024
	maxConfigSize = 1000 * 1024
)

// Options say what to rotate and how.
type Options struct {
	Kind      string // "secret" or "config"
	Name      string // the lineage's base name or any version of it
	Content   []byte
	Generated bool   // Content was generated: a rerun cannot recognise it
	NewName   string // overrides NAME_vN
	Services  []string
	// KeepOld mounts, on these services, the version they used at another
	// target (service name -> target), for two-phase rotations.
	KeepOld map[string]string
	Job     *Job
	Keep    int // unused old versions to keep
}

// Job is a one-off task run with both versions mounted before any service is
// switched, such as a database learning its new password.
type Job struct {
	Image        string
	Command      []string
	NetworksFrom string // the service whose networks it joins
}

// Job mounts the old and new versions at these targets.
const (
	JobOldTarget = "old"
	JobNewTarget = "new"
)

// Plan is a rotation, decided before any write.
type Plan struct {
	Kind    string
	Lineage string
	NewName string
	Version int
	Reuse   bool // the version exists already (an interrupted rotation)
	Old     []string
	Remove  []string // what goes once every switched service converged

	o        Options
	objects  cluster.ObjectAPI
	labels   map[string]string
	newID    string
	switches []*switchPlan
	staying  []string // services that keep an old version (--service)
	oldID    string   // the version the job mounts as old
	oldName  string
	jobNets  []swarm.NetworkAttachmentConfig
}

type switchPlan struct {
	svc     swarm.Service
	from    []string // the version names it uses now
	keepOld string
}

// numberVersions sorts a lineage's versions, oldest first, and numbers them:
// by their version label or _vN suffix, else by creation order (the first,
// unversioned object is 1; stack deploy's digest-named versions follow).
func numberVersions(versions []cluster.Object, base string) map[string]int {
	slices.SortStableFunc(versions, func(a, b cluster.Object) int { return a.Created.Compare(b.Created) })
	numbers := map[string]int{}
	last := 0
	for _, o := range versions {
		n := 0
		if v, err := strconv.Atoi(o.Labels[LabelVersion]); err == nil {
			n = v
		} else if i := strings.LastIndex(o.Name, "_v"); i >= 0 && o.Name[:i] == base {
			n, _ = strconv.Atoi(o.Name[i+2:])
		}
		if n <= last {
			n = last + 1
		}
		numbers[o.ID], last = n, n
	}
	slices.SortStableFunc(versions, func(a, b cluster.Object) int { return numbers[a.ID] - numbers[b.ID] })
	return numbers
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}

// refs returns the names and IDs of the lineage's versions a service uses.
func refs(svc swarm.Service, kind string, ids map[string]bool) []string {
	cs := svc.Spec.TaskTemplate.ContainerSpec
	if cs == nil {
		return nil
	}
	var names []string
	if kind == "secret" {
		for _, r := range cs.Secrets {
			if ids[r.SecretID] {
				names = append(names, r.SecretName)
			}
		}
	} else {
		for _, r := range cs.Configs {
			if ids[r.ConfigID] {
				names = append(names, r.ConfigName)
			}
		}
	}
	return names
}

// MakePlan finds the lineage, the services that use it and the next version,
// and validates everything. It writes nothing.
func MakePlan(ctx context.Context, api API, o Options) (*Plan, error) {
	limit := maxSecretSize
	if o.Kind == "config" {
		limit = maxConfigSize
	}
	if len(o.Content) == 0 {
		return nil, fmt.Errorf("the new %s content is empty", o.Kind)
	}
	if len(o.Content) > limit {
		return nil, fmt.Errorf("the new %s content is %d bytes; the swarm takes at most %d", o.Kind, len(o.Content), limit)
	}
	p := &Plan{Kind: o.Kind, o: o, objects: cluster.ObjectsOf(api, o.Kind)}
	all, err := p.objects.List(ctx)
	if err != nil {
		return nil, err
	}
	p.Lineage = o.Name
	for _, obj := range all {
		if obj.Name == o.Name {
			p.Lineage = obj.Lineage()
		}
	}
	var versions []cluster.Object
	for _, obj := range all {
		if obj.Lineage() == p.Lineage {
			versions = append(versions, obj)
		}
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("no such %s: %s", o.Kind, o.Name)
	}
	numbers := numberVersions(versions, p.Lineage)
	ids := map[string]bool{}
	for _, v := range versions {
		ids[v.ID] = true
	}

	services, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, err
	}
	using := map[string]swarm.Service{}
	inUse := map[string]bool{}
	for _, svc := range services.Items {
		if names := refs(svc, o.Kind, ids); len(names) > 0 {
			using[svc.Spec.Name] = svc
			for _, n := range names {
				inUse[n] = true
			}
		}
	}

	// The version to move to: one with this content exists already (a rerun),
	// or an unused newest version is an interrupted generated rotation.
	d := digest(o.Content)
	newest := versions[len(versions)-1]
	for _, v := range versions {
		if v.Labels[cluster.LabelDigest] == d {
			p.NewName, p.newID, p.Version, p.Reuse = v.Name, v.ID, numbers[v.ID], true
		}
	}
	if !p.Reuse && o.Generated && !inUse[newest.Name] && len(inUse) > 0 && newest.Labels[LabelVersion] != "" {
		p.NewName, p.newID, p.Version, p.Reuse = newest.Name, newest.ID, numbers[newest.ID], true
	}
	if !p.Reuse {
		p.Version = numbers[newest.ID] + 1
		p.NewName = o.NewName
		if p.NewName == "" {
			p.NewName = fmt.Sprintf("%s_v%d", p.Lineage, p.Version)
		}
		if len(p.NewName) > 64 {
			return nil, fmt.Errorf("the new name %s is longer than the swarm's 64 characters; use --name", p.NewName)
		}
		for _, obj := range all {
			if obj.Name == p.NewName {
				return nil, fmt.Errorf("%s %s exists already and is not a version of %s", o.Kind, p.NewName, p.Lineage)
			}
		}
		p.labels = map[string]string{}
		for k, v := range newest.Labels {
			if !strings.HasPrefix(k, "swarmauth.") {
				p.labels[k] = v
			}
		}
		p.labels[cluster.LabelObject] = p.Lineage
		p.labels[LabelVersion] = strconv.Itoa(p.Version)
		p.labels[cluster.LabelDigest] = d
	}
	for _, v := range versions {
		if v.Name != p.NewName {
			p.Old = append(p.Old, v.Name)
		}
	}

	selected := slices.Sorted(maps.Keys(using))
	if len(o.Services) > 0 {
		for _, s := range o.Services {
			if _, ok := using[s]; !ok {
				return nil, fmt.Errorf("service %s does not use %s %s", s, o.Kind, p.Lineage)
			}
		}
		for _, s := range selected {
			if !slices.Contains(o.Services, s) {
				p.staying = append(p.staying, s)
			}
		}
		selected = slices.Clone(o.Services)
		slices.Sort(selected)
	}
	for svc := range o.KeepOld {
		if !slices.Contains(selected, svc) {
			return nil, fmt.Errorf("--keep-old-as %s: the service is not part of this rotation", svc)
		}
	}
	for _, s := range selected {
		from := refs(using[s], o.Kind, ids)
		p.switches = append(p.switches, &switchPlan{svc: using[s], from: from, keepOld: o.KeepOld[s]})
	}
	if o.Job != nil {
		if err := p.planJob(using, versions, ids); err != nil {
			return nil, err
		}
	}
	if len(p.staying) == 0 {
		p.Remove = slices.Clone(p.Old)
		if o.Keep > 0 {
			p.Remove = p.Remove[:max(0, len(p.Remove)-o.Keep)]
		}
	}
	return p, nil
}

func (p *Plan) planJob(using map[string]swarm.Service, versions []cluster.Object, ids map[string]bool) error {
	j := p.o.Job
	if j.Image == "" || len(j.Command) == 0 {
		return fmt.Errorf("--job needs an image and a command after --")
	}
	// The old version is the one the services use (the newest such).
	for _, v := range versions {
		for _, s := range p.switches {
			if slices.Contains(s.from, v.Name) {
				p.oldID, p.oldName = v.ID, v.Name
			}
		}
	}
	if p.oldID == "" {
		return fmt.Errorf("--job: no service uses %s %s, so there is no old version to hand it", p.Kind, p.Lineage)
	}
	if j.NetworksFrom != "" {
		svc, ok := using[j.NetworksFrom]
		if !ok {
			return fmt.Errorf("--job-networks-from %s: the service does not use %s %s", j.NetworksFrom, p.Kind, p.Lineage)
		}
		p.jobNets = svc.Spec.TaskTemplate.Networks
	}
	return nil
}

// Write prints the plan.
func (p *Plan) Write(w io.Writer) {
	_, _ = fmt.Fprintf(w, "Rotation of %s %s:\n", p.Kind, p.Lineage)
	if p.Reuse {
		_, _ = fmt.Fprintf(w, "  use existing version %s (v%d)\n", p.NewName, p.Version)
	} else {
		_, _ = fmt.Fprintf(w, "  create %s (v%d)\n", p.NewName, p.Version)
	}
	if p.o.Job != nil {
		_, _ = fmt.Fprintf(w, "  run job %s with the old and new versions at %q and %q, before any service\n", p.o.Job.Image, JobOldTarget, JobNewTarget)
	}
	for _, s := range p.switches {
		what := "switch " + strings.Join(s.from, ", ") + " -> " + p.NewName
		if s.keepOld != "" {
			what += ", keeping the old version at " + s.keepOld
		}
		_, _ = fmt.Fprintf(w, "  service %-28s %s\n", s.svc.Spec.Name, what)
	}
	for _, s := range p.staying {
		_, _ = fmt.Fprintf(w, "  service %-28s keeps its version (not selected)\n", s)
	}
	if len(p.Remove) > 0 {
		_, _ = fmt.Fprintf(w, "  remove %s once every service converged\n", strings.Join(p.Remove, ", "))
	}
}
