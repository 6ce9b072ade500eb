package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// Secrets and configs are versioned: each content gets its own object, named
// after the content's digest, and services move from one version to the next.
// The swarm refuses to change an object's data, so this is how a changed file
// becomes a rolling update instead of an error.

// maxSecretSize is the swarm's limit on a secret's data.
const maxSecretSize = 500 * 1024

// digestLen is how many hex digits of the content digest name a version.
const digestLen = 10

// object is a secret or a config, as far as versioning cares.
type object struct {
	ID      string
	Version swarm.Version
	Name    string
	Labels  map[string]string
	Created time.Time
	Data    []byte // configs only: the swarm never returns secret data
}

// objectAPI is the Engine API of one kind of object; secretAPI and configAPI
// adapt the two kinds to it.
type objectAPI interface {
	kind() string
	list(ctx context.Context) ([]object, error)
	inspectData(ctx context.Context, id string) ([]byte, bool, error) // false: not readable
	create(ctx context.Context, name string, labels map[string]string, src any) (string, error)
	setLabels(ctx context.Context, o object, labels map[string]string, src any) error
	remove(ctx context.Context, id string) error
}

// desiredObject is one secret or config the stack defines.
type desiredObject struct {
	Base   string // the name docker would give it: <stack>_<key> or name:
	Data   []byte
	Digest string
	Labels map[string]string
	spec   any // the swarm.SecretSpec or swarm.ConfigSpec to create from
}

// contentDigest identifies a version by its data.
func contentDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:digestLen]
}

// objectPlan says what a deploy does for one secret or config.
type objectPlan struct {
	Kind    string // "secret" or "config"
	Base    string
	Action  string // create, reuse, adopt
	Name    string // the version services will use
	ID      string // known for reuse and adopt; set by apply for create
	Replace []string
	desired desiredObject
	adopt   *object // the unlabelled object adopted as this version
}

// planObjects decides, per secret or config, whether its current content
// already exists as a version (reuse), exists as a docker-deployed object
// with the same data (adopt: configs only, whose data can be read), or needs a
// new version (create).
func planObjects(ctx context.Context, api objectAPI, desired []desiredObject) ([]*objectPlan, error) {
	existing, err := api.list(ctx)
	if err != nil {
		return nil, err
	}
	var plans []*objectPlan
	for _, d := range desired {
		p := &objectPlan{Kind: api.kind(), Base: d.Base, desired: d}
		versioned := d.Base + "_" + d.Digest
		if len(versioned) > 64 {
			return nil, fmt.Errorf("%s %s: the versioned name %s is longer than the swarm's 64 characters; give it a shorter name", p.Kind, d.Base, versioned)
		}
		for _, o := range existing {
			switch {
			case o.Labels[cluster.LabelObject] == d.Base && o.Labels[cluster.LabelDigest] == d.Digest:
				p.Action, p.Name, p.ID = "reuse", o.Name, o.ID
			case o.Name == d.Base && o.Labels[cluster.LabelObject] == "" && p.Action == "":
				if data, readable, err := api.inspectData(ctx, o.ID); err != nil {
					return nil, err
				} else if readable && bytes.Equal(data, d.Data) {
					adopted := o
					p.Action, p.Name, p.ID, p.adopt = "adopt", o.Name, o.ID, &adopted
				} else {
					p.Replace = append(p.Replace, o.Name)
				}
			}
		}
		if p.Action == "" {
			p.Action, p.Name = "create", versioned
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// applyObject creates the version or records the adopted object's lineage.
func applyObject(ctx context.Context, api objectAPI, p *objectPlan) error {
	switch p.Action {
	case "create":
		id, err := api.create(ctx, p.Name, p.desired.Labels, p.desired.spec)
		if err != nil {
			return fmt.Errorf("failed to create %s %s: %w", p.Kind, p.Name, err)
		}
		p.ID = id
	case "adopt":
		// Labels are the one thing the swarm lets us change.
		if err := api.setLabels(ctx, *p.adopt, p.desired.Labels, p.desired.spec); err != nil {
			return fmt.Errorf("failed to adopt %s %s: %w", p.Kind, p.Name, err)
		}
	}
	return nil
}

// retireVersions removes the versions of the stack's lineages that no service
// uses, but the current one and the keep most recent others. Objects named
// as docker named them (adopted lineages' predecessors) count as versions.
// With prune, lineages the files no longer define go too, once unused.
func retireVersions(ctx context.Context, api objectAPI, namespace string, current map[string]string, inUse map[string]bool, keep int, prune bool) ([]string, error) {
	all, err := api.list(ctx)
	if err != nil {
		return nil, err
	}
	byBase := map[string][]object{}
	for _, o := range all {
		base := o.Labels[cluster.LabelObject]
		if base == "" && o.Labels[cluster.LabelStackNamespace] == namespace {
			if _, ok := current[o.Name]; ok {
				base = o.Name // the unversioned object docker made
			}
		}
		_, defined := current[base]
		stale := prune && !defined && o.Labels[cluster.LabelStackNamespace] == namespace
		if defined || stale {
			if base == "" {
				base = o.Name
			}
			byBase[base] = append(byBase[base], o)
		}
	}
	var removed []string
	for base, versions := range byBase {
		slices.SortFunc(versions, func(a, b object) int { return b.Created.Compare(a.Created) })
		kept := 0
		if _, defined := current[base]; !defined {
			kept = keep // a lineage the files dropped keeps nothing
		}
		for _, v := range versions {
			if v.Name == current[base] || inUse[v.ID] {
				continue
			}
			if kept < keep {
				kept++
				continue
			}
			if err := api.remove(ctx, v.ID); err != nil {
				return removed, fmt.Errorf("failed to remove %s %s: %w", api.kind(), v.Name, err)
			}
			removed = append(removed, v.Name)
		}
	}
	slices.Sort(removed)
	return removed, nil
}

type secretAPI struct{ api API }

func (secretAPI) kind() string { return "secret" }

func (s secretAPI) list(ctx context.Context) ([]object, error) {
	res, err := s.api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]object, 0, len(res.Items))
	for _, x := range res.Items {
		out = append(out, object{ID: x.ID, Version: x.Version, Name: x.Spec.Name, Labels: x.Spec.Labels, Created: x.CreatedAt})
	}
	return out, nil
}

func (secretAPI) inspectData(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

func (s secretAPI) create(ctx context.Context, name string, labels map[string]string, src any) (string, error) {
	spec := src.(swarm.SecretSpec)
	spec.Name, spec.Labels = name, labels
	res, err := s.api.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec})
	return res.ID, err
}

func (s secretAPI) setLabels(context.Context, object, map[string]string, any) error {
	return fmt.Errorf("secrets are never adopted") // their data cannot be compared
}

func (s secretAPI) remove(ctx context.Context, id string) error {
	_, err := s.api.SecretRemove(ctx, id, client.SecretRemoveOptions{})
	return err
}

type configAPI struct{ api API }

func (configAPI) kind() string { return "config" }

func (c configAPI) list(ctx context.Context) ([]object, error) {
	res, err := c.api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]object, 0, len(res.Items))
	for _, x := range res.Items {
		out = append(out, object{ID: x.ID, Version: x.Version, Name: x.Spec.Name, Labels: x.Spec.Labels, Created: x.CreatedAt})
	}
	return out, nil
}

func (c configAPI) inspectData(ctx context.Context, id string) ([]byte, bool, error) {
	res, err := c.api.ConfigInspect(ctx, id, client.ConfigInspectOptions{})
	return res.Config.Spec.Data, true, err
}

func (c configAPI) create(ctx context.Context, name string, labels map[string]string, src any) (string, error) {
	spec := src.(swarm.ConfigSpec)
	spec.Name, spec.Labels = name, labels
	res, err := c.api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec})
	return res.ID, err
}

func (c configAPI) setLabels(ctx context.Context, o object, labels map[string]string, src any) error {
	spec := src.(swarm.ConfigSpec)
	spec.Name, spec.Labels = o.Name, labels
	_, err := c.api.ConfigUpdate(ctx, o.ID, client.ConfigUpdateOptions{Version: o.Version, Spec: spec})
	return err
}

func (c configAPI) remove(ctx context.Context, id string) error {
	_, err := c.api.ConfigRemove(ctx, id, client.ConfigRemoveOptions{})
	return err
}
