package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

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

// desiredObject is one secret or config the stack defines.
type desiredObject struct {
	Base   string // the name docker would give it: <stack>_<key> or name:
	Data   []byte
	Digest string
	Labels map[string]string
	spec   cluster.ObjectSpec // what a new version is made from
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
	adopt   *cluster.Object // the unlabelled object adopted as this version
}

// planObjects decides, per secret or config, whether its current content
// already exists as a version (reuse), exists as a docker-deployed object
// with the same data (adopt: configs only, whose data can be read), or needs a
// new version (create).
func planObjects(ctx context.Context, api cluster.ObjectAPI, desired []desiredObject) ([]*objectPlan, error) {
	existing, err := api.List(ctx)
	if err != nil {
		return nil, err
	}
	var plans []*objectPlan
	for _, d := range desired {
		p := &objectPlan{Kind: api.Kind(), Base: d.Base, desired: d}
		versioned := d.Base + "_" + d.Digest
		if len(versioned) > 64 {
			return nil, fmt.Errorf("%s %s: the versioned name %s is longer than the swarm's 64 characters; give it a shorter name", p.Kind, d.Base, versioned)
		}
		for _, o := range existing {
			switch {
			case o.Labels[cluster.LabelObject] == d.Base && o.Labels[cluster.LabelDigest] == d.Digest:
				p.Action, p.Name, p.ID = "reuse", o.Name, o.ID
			case o.Name == d.Base && o.Labels[cluster.LabelObject] == "" && p.Action == "":
				if data, readable, err := api.Data(ctx, o.ID); err != nil {
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
func applyObject(ctx context.Context, api cluster.ObjectAPI, p *objectPlan) error {
	spec := p.desired.spec
	spec.Name, spec.Labels = p.Name, p.desired.Labels
	switch p.Action {
	case "create":
		id, err := api.Create(ctx, spec)
		if err != nil {
			return fmt.Errorf("failed to create %s %s: %w", p.Kind, p.Name, err)
		}
		p.ID = id
	case "adopt":
		if err := api.SetLabels(ctx, *p.adopt, spec); err != nil {
			return fmt.Errorf("failed to adopt %s %s: %w", p.Kind, p.Name, err)
		}
	}
	return nil
}
