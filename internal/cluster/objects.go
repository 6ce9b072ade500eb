package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// Secrets and configs are immutable: a new content is a new object, a version
// of a lineage. The lineage is LabelObject, or for an object made before
// swarmauth (by docker, or by hand), its own name: the first version.

// Object is a secret or a config, as versioning sees it.
type Object struct {
	ID      string
	Name    string
	Version swarm.Version
	Labels  map[string]string
	Created time.Time
}

// Lineage is the base name the object is a version of.
func (o Object) Lineage() string {
	if l := o.Labels[LabelObject]; l != "" {
		return l
	}
	return o.Name
}

// ObjectSpec is what a new version is made from.
type ObjectSpec struct {
	Name       string
	Labels     map[string]string
	Data       []byte
	Driver     *swarm.Driver // secrets only
	Templating *swarm.Driver
}

// ObjectAPI is the Engine API of one kind of object; Secrets and Configs
// adapt the two kinds to it.
type ObjectAPI interface {
	Kind() string // "secret" or "config"
	List(ctx context.Context) ([]Object, error)
	// Data returns a config's data; secrets' data cannot be read (false).
	Data(ctx context.Context, id string) ([]byte, bool, error)
	Create(ctx context.Context, spec ObjectSpec) (string, error)
	// SetLabels changes an object's labels, the one thing the swarm allows.
	SetLabels(ctx context.Context, o Object, spec ObjectSpec) error
	Remove(ctx context.Context, id string) error
}

// SecretClient and ConfigClient are the parts of the Engine API Secrets and
// Configs use.
type (
	SecretClient interface {
		SecretList(ctx context.Context, options client.SecretListOptions) (client.SecretListResult, error)
		SecretCreate(ctx context.Context, options client.SecretCreateOptions) (client.SecretCreateResult, error)
		SecretRemove(ctx context.Context, id string, options client.SecretRemoveOptions) (client.SecretRemoveResult, error)
	}
	ConfigClient interface {
		ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
		ConfigInspect(ctx context.Context, id string, options client.ConfigInspectOptions) (client.ConfigInspectResult, error)
		ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
		ConfigUpdate(ctx context.Context, id string, options client.ConfigUpdateOptions) (client.ConfigUpdateResult, error)
		ConfigRemove(ctx context.Context, id string, options client.ConfigRemoveOptions) (client.ConfigRemoveResult, error)
	}
)

// ObjectClient is an Engine client for both kinds of object.
type ObjectClient interface {
	SecretClient
	ConfigClient
}

// ObjectsOf adapts the API of kind, "secret" or "config".
func ObjectsOf(api ObjectClient, kind string) ObjectAPI {
	if kind == "config" {
		return Configs(api)
	}
	return Secrets(api)
}

// Secrets adapts the secret API.
func Secrets(api SecretClient) ObjectAPI { return secrets{api} }

// Configs adapts the config API.
func Configs(api ConfigClient) ObjectAPI { return configs{api} }

type secrets struct{ api SecretClient }

func (secrets) Kind() string { return "secret" }

func (s secrets) List(ctx context.Context) ([]Object, error) {
	res, err := s.api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(res.Items))
	for _, x := range res.Items {
		out = append(out, Object{ID: x.ID, Version: x.Version, Name: x.Spec.Name, Labels: x.Spec.Labels, Created: x.CreatedAt})
	}
	return out, nil
}

func (secrets) Data(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

func (s secrets) Create(ctx context.Context, spec ObjectSpec) (string, error) {
	res, err := s.api.SecretCreate(ctx, client.SecretCreateOptions{Spec: swarm.SecretSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: spec.Labels},
		Data:        spec.Data, Driver: spec.Driver, Templating: spec.Templating,
	}})
	return res.ID, err
}

func (secrets) SetLabels(context.Context, Object, ObjectSpec) error {
	return fmt.Errorf("secrets are never relabelled: their data cannot be compared")
}

func (s secrets) Remove(ctx context.Context, id string) error {
	_, err := s.api.SecretRemove(ctx, id, client.SecretRemoveOptions{})
	return err
}

type configs struct{ api ConfigClient }

func (configs) Kind() string { return "config" }

func (c configs) List(ctx context.Context) ([]Object, error) {
	res, err := c.api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(res.Items))
	for _, x := range res.Items {
		out = append(out, Object{ID: x.ID, Version: x.Version, Name: x.Spec.Name, Labels: x.Spec.Labels, Created: x.CreatedAt})
	}
	return out, nil
}

func (c configs) Data(ctx context.Context, id string) ([]byte, bool, error) {
	res, err := c.api.ConfigInspect(ctx, id, client.ConfigInspectOptions{})
	return res.Config.Spec.Data, true, err
}

func (c configs) Create(ctx context.Context, spec ObjectSpec) (string, error) {
	res, err := c.api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: spec.Name, Labels: spec.Labels},
		Data:        spec.Data, Templating: spec.Templating,
	}})
	return res.ID, err
}

func (c configs) SetLabels(ctx context.Context, o Object, spec ObjectSpec) error {
	_, err := c.api.ConfigUpdate(ctx, o.ID, client.ConfigUpdateOptions{Version: o.Version, Spec: swarm.ConfigSpec{
		Annotations: swarm.Annotations{Name: o.Name, Labels: spec.Labels},
		Data:        spec.Data, Templating: spec.Templating,
	}})
	return err
}

func (c configs) Remove(ctx context.Context, id string) error {
	_, err := c.api.ConfigRemove(ctx, id, client.ConfigRemoveOptions{})
	return err
}

// ServiceLister lists services.
type ServiceLister interface {
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
}

// ObjectsInUse returns the IDs of every secret and config a service of the
// swarm refers to.
func ObjectsInUse(ctx context.Context, api ServiceLister) (map[string]bool, error) {
	list, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, s := range list.Items {
		cs := s.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		for _, r := range cs.Secrets {
			in[r.SecretID] = true
		}
		for _, r := range cs.Configs {
			in[r.ConfigID] = true
		}
	}
	return in, nil
}

// RetireVersions removes the versions of the given lineages (base name ->
// current version name) that no service uses, but the current one and the
// keep most recent others. With prune, the lineages of the stack namespace
// that are not given go too, once unused. It returns the removed names.
func RetireVersions(ctx context.Context, api ObjectAPI, namespace string, current map[string]string, inUse map[string]bool, keep int, prune bool) ([]string, error) {
	all, err := api.List(ctx)
	if err != nil {
		return nil, err
	}
	byBase := map[string][]Object{}
	for _, o := range all {
		base := o.Lineage()
		_, defined := current[base]
		stale := prune && namespace != "" && !defined && o.Labels[LabelStackNamespace] == namespace
		if defined || stale {
			byBase[base] = append(byBase[base], o)
		}
	}
	var removed []string
	for base, versions := range byBase {
		slices.SortFunc(versions, func(a, b Object) int { return b.Created.Compare(a.Created) })
		kept := 0
		if _, defined := current[base]; !defined {
			kept = keep // a lineage that is no longer defined keeps nothing
		}
		for _, v := range versions {
			if v.Name == current[base] || inUse[v.ID] {
				continue
			}
			if kept < keep {
				kept++
				continue
			}
			if err := api.Remove(ctx, v.ID); err != nil {
				return removed, fmt.Errorf("failed to remove %s %s: %w", api.Kind(), v.Name, err)
			}
			removed = append(removed, v.Name)
		}
	}
	slices.Sort(removed)
	return removed, nil
}
