package rotate

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// VersionInfo is one version of a lineage and the services that use it.
type VersionInfo struct {
	Name     string
	ID       string
	Version  int
	Created  time.Time
	Services []string
}

// LineageInfo is a secret or config with all its versions, oldest first.
type LineageInfo struct {
	Name     string
	Versions []VersionInfo
}

// Lineages groups every secret or config of the swarm by lineage.
func Lineages(ctx context.Context, api API, kind string) ([]LineageInfo, error) {
	objs, err := cluster.ObjectsOf(api, kind).List(ctx)
	if err != nil {
		return nil, err
	}
	services, err := api.ServiceList(ctx, client.ServiceListOptions{})
	if err != nil {
		return nil, err
	}
	users := map[string][]string{}
	for _, svc := range services.Items {
		cs := svc.Spec.TaskTemplate.ContainerSpec
		if cs == nil {
			continue
		}
		for _, r := range cs.Secrets {
			if kind == "secret" {
				users[r.SecretID] = append(users[r.SecretID], svc.Spec.Name)
			}
		}
		for _, r := range cs.Configs {
			if kind == "config" {
				users[r.ConfigID] = append(users[r.ConfigID], svc.Spec.Name)
			}
		}
	}
	byLineage := map[string][]cluster.Object{}
	for _, o := range objs {
		byLineage[o.Lineage()] = append(byLineage[o.Lineage()], o)
	}
	var out []LineageInfo
	for name, versions := range byLineage {
		numbers := numberVersions(versions, name)
		l := LineageInfo{Name: name}
		for _, o := range versions {
			u := slices.Compact(slices.Sorted(slices.Values(users[o.ID])))
			l.Versions = append(l.Versions, VersionInfo{Name: o.Name, ID: o.ID, Version: numbers[o.ID], Created: o.Created, Services: u})
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b LineageInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Lineage returns the lineage NAME names (its base or any version).
func Lineage(ctx context.Context, api API, kind, name string) (LineageInfo, bool, error) {
	all, err := Lineages(ctx, api, kind)
	if err != nil {
		return LineageInfo{}, false, err
	}
	for _, l := range all {
		if l.Name == name {
			return l, true, nil
		}
		for _, v := range l.Versions {
			if v.Name == name {
				return l, true, nil
			}
		}
	}
	return LineageInfo{}, false, nil
}

// ObjectUse is a secret or config version a service uses, and the newest
// version of its lineage.
type ObjectUse struct {
	Kind, Name, Lineage, Newest string
}

// Outdated reports whether a newer version than the one in use exists.
func (u ObjectUse) Outdated() bool { return u.Name != u.Newest }

// Uses returns, by service name, the secret and config versions each service
// uses.
func Uses(ctx context.Context, api API) (map[string][]ObjectUse, error) {
	out := map[string][]ObjectUse{}
	for _, kind := range []string{"secret", "config"} {
		lineages, err := Lineages(ctx, api, kind)
		if err != nil {
			return nil, err
		}
		for _, l := range lineages {
			newest := l.Versions[len(l.Versions)-1].Name
			for _, v := range l.Versions {
				for _, svc := range v.Services {
					out[svc] = append(out[svc], ObjectUse{Kind: kind, Name: v.Name, Lineage: l.Name, Newest: newest})
				}
			}
		}
	}
	return out, nil
}
