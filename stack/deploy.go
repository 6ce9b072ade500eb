package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/auth"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// API is the part of the Engine API a deploy uses.
type API interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkInspect(ctx context.Context, network string, options client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkCreate(ctx context.Context, name string, options client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkRemove(ctx context.Context, network string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
	cluster.ObjectClient
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(ctx context.Context, serviceID string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	cluster.WaitAPI
	DistributionInspect(ctx context.Context, image string, options client.DistributionInspectOptions) (client.DistributionInspectResult, error)
}

// Image resolution modes, as docker's --resolve-image takes them.
const (
	ResolveAlways  = "always"
	ResolveChanged = "changed"
	ResolveNever   = "never"
)

// servicePlan is one service's auth, image and action, decided before any
// write.
type servicePlan struct {
	svc      Service
	existing *swarm.Service
	decision auth.Decision
	image    string // after resolution
	resolve  bool
	desired  swarm.ServiceSpec // what the deploy sends, as far as the plan knows
	action   string            // create, update or unchanged
	changes  []string          // the fields an update changes
	sendAuth bool              // the update must carry registry auth
}

func stackFilter(namespace string) client.Filters {
	return client.Filters{}.Add("label", cluster.LabelStackNamespace+"="+namespace)
}

func checkManager(ctx context.Context, api API) error {
	info, err := api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return err
	}
	if !info.Info.Swarm.ControlAvailable {
		return errors.New(`this node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again`)
	}
	return nil
}

// planServices decides each service's registry auth. Any failure is returned
// before anything is written.
func planServices(ctx context.Context, res *Resources, existing map[string]*swarm.Service, o PlanOptions) ([]*servicePlan, error) {
	plans := make([]*servicePlan, len(res.Services))
	errs := make([]error, len(res.Services))
	var wg sync.WaitGroup
	for i, svc := range res.Services {
		wg.Go(func() {
			p := &servicePlan{svc: svc, existing: existing[svc.Spec.Name], image: svc.Spec.TaskTemplate.ContainerSpec.Image}
			policy := *o.Policy
			if svc.RegistryAuth != "" {
				policy.Mode = auth.Mode(svc.RegistryAuth)
			}
			img, err := auth.ParseImage(p.image)
			if err != nil {
				errs[i] = fmt.Errorf("service %s: %w", svc.Key, err)
				return
			}
			p.decision = policy.Decide(ctx, img)
			if p.decision.Kind == auth.Fail {
				errs[i] = fmt.Errorf("service %s: registry auth for %s: %s", svc.Key, img.Registry, p.decision.Reason)
			}
			switch o.ResolveImage {
			case ResolveAlways:
				p.resolve = true
			case ResolveChanged:
				p.resolve = p.existing == nil || p.existing.Spec.Labels[LabelImage] != p.image
			}
			// Unchanged image, not resolved: keep the digest it is pinned to.
			if !p.resolve && p.existing != nil && p.existing.Spec.Labels[LabelImage] == p.image {
				p.image = p.existing.Spec.TaskTemplate.ContainerSpec.Image
			}
			plans[i] = p
		})
	}
	wg.Wait()
	return plans, errors.Join(errs...)
}

// resolveImages pins each distinct image to its digest, once, in parallel,
// with its own registry's credentials. A failure warns and keeps the tag, as
// docker does.
func resolveImages(ctx context.Context, api API, plans []*servicePlan, warn io.Writer) {
	type result struct {
		image     string
		platforms []swarm.Platform
		err       error
	}
	byImage := map[string][]*servicePlan{}
	for _, p := range plans {
		if p.resolve {
			byImage[p.image] = append(byImage[p.image], p)
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for image, ps := range byImage {
		wg.Go(func() {
			enc := ""
			if ps[0].decision.Kind == auth.Attach {
				enc = ps[0].decision.Auth
			}
			r := result{}
			r.image, r.platforms, r.err = resolveImage(ctx, api, image, enc)
			mu.Lock()
			defer mu.Unlock()
			if r.err != nil {
				_, _ = fmt.Fprintf(warn, "image %s could not be accessed on a registry to record\nits digest. Each node will access %s independently,\npossibly leading to different nodes running different\nversions of the image.\n", image, image)
				return
			}
			for _, p := range ps {
				p.image = r.image
				if len(r.platforms) > 0 {
					p.svc.Spec.TaskTemplate.Placement.Platforms = r.platforms
				}
			}
		})
	}
	wg.Wait()
}

func resolveImage(ctx context.Context, api API, image, encodedAuth string) (string, []swarm.Platform, error) {
	di, err := api.DistributionInspect(ctx, image, client.DistributionInspectOptions{EncodedRegistryAuth: encodedAuth})
	if err != nil {
		return "", nil, err
	}
	pinned := image
	if named, err := reference.ParseNormalizedNamed(image); err == nil {
		if _, has := named.(reference.Digested); !has {
			if withDigest, err := reference.WithDigest(named, di.Descriptor.Digest); err == nil {
				pinned = reference.FamiliarString(withDigest)
			}
		}
	}
	var platforms []swarm.Platform
	seen := map[swarm.Platform]bool{}
	for _, p := range di.Platforms {
		if p.OS == "unknown" || p.Architecture == "unknown" {
			continue // attestations
		}
		arch := p.Architecture
		if strings.EqualFold(arch, "arm") {
			arch = "" // swarm nodes report armv7l and the like
		}
		pl := swarm.Platform{Architecture: arch, OS: p.OS}
		if !seen[pl] {
			seen[pl] = true
			platforms = append(platforms, pl)
		}
	}
	return pinned, platforms, nil
}

func validateExternalNetworks(ctx context.Context, api API, names []string) error {
	for _, name := range names {
		if !container.NetworkMode(name).IsUserDefined() {
			continue
		}
		res, err := api.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return fmt.Errorf("network %q is declared as external, but could not be found. You need to create a swarm-scoped network before the stack is deployed", name)
		case err != nil:
			return err
		case res.Network.Scope != "swarm":
			return fmt.Errorf("network %q is declared as external, but it is not in the right scope: %q instead of \"swarm\"", name, res.Network.Scope)
		}
	}
	return nil
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// authNote says what a service got, after docker's own line.
func authNote(d auth.Decision, creating bool) string {
	switch d.Kind {
	case auth.Attach:
		return "registry auth attached (" + d.Source.String() + ")"
	case auth.Clear:
		if creating {
			return "no registry auth (" + d.Reason + ")"
		}
		return "registry auth cleared (" + d.Reason + ")"
	}
	return "no registry auth (" + d.Reason + ")"
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
