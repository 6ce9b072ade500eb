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
	SecretList(ctx context.Context, options client.SecretListOptions) (client.SecretListResult, error)
	SecretCreate(ctx context.Context, options client.SecretCreateOptions) (client.SecretCreateResult, error)
	SecretUpdate(ctx context.Context, id string, options client.SecretUpdateOptions) (client.SecretUpdateResult, error)
	ConfigList(ctx context.Context, options client.ConfigListOptions) (client.ConfigListResult, error)
	ConfigCreate(ctx context.Context, options client.ConfigCreateOptions) (client.ConfigCreateResult, error)
	ConfigUpdate(ctx context.Context, id string, options client.ConfigUpdateOptions) (client.ConfigUpdateResult, error)
	ServiceList(ctx context.Context, options client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceCreate(ctx context.Context, options client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceUpdate(ctx context.Context, serviceID string, options client.ServiceUpdateOptions) (client.ServiceUpdateResult, error)
	ServiceRemove(ctx context.Context, serviceID string, options client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	DistributionInspect(ctx context.Context, image string, options client.DistributionInspectOptions) (client.DistributionInspectResult, error)
}

// Image resolution modes, as docker's --resolve-image takes them.
const (
	ResolveAlways  = "always"
	ResolveChanged = "changed"
	ResolveNever   = "never"
)

// DeployOptions shape a deploy.
type DeployOptions struct {
	Prune        bool
	ResolveImage string
	// Policy decides each service's registry auth; a service's x-swarmauth
	// registry-auth overrides its mode.
	Policy *auth.Policy
	Out    io.Writer // what docker prints on stdout
	Err    io.Writer // warnings
}

// Deployed is what a deploy did, for waiting on it.
type Deployed struct {
	ServiceIDs []string
}

// servicePlan is one service's auth and image, decided before any write.
type servicePlan struct {
	svc      Service
	existing *swarm.Service
	decision auth.Decision
	image    string // after resolution
	resolve  bool
}

// Deploy creates or updates the stack's networks, secrets, configs and
// services. Registry auth is decided for every service before the first
// write: a credential helper that fails stops the deploy with nothing
// changed. Services the file no longer has are removed with Prune, after the
// others were deployed.
func Deploy(ctx context.Context, api API, res *Resources, o DeployOptions) (Deployed, error) {
	if err := checkManager(ctx, api); err != nil {
		return Deployed{}, err
	}
	existing, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: stackFilter(res.Namespace)})
	if err != nil {
		return Deployed{}, err
	}
	byName := map[string]*swarm.Service{}
	for i := range existing.Items {
		byName[existing.Items[i].Spec.Name] = &existing.Items[i]
	}
	plans, err := planServices(ctx, res, byName, o)
	if err != nil {
		return Deployed{}, err
	}
	if err := validateExternalNetworks(ctx, api, res.ExternalNetworks); err != nil {
		return Deployed{}, err
	}
	resolveImages(ctx, api, plans, o.Err)

	if err := createNetworks(ctx, api, res, o.Out); err != nil {
		return Deployed{}, err
	}
	secretIDs, err := upsertSecrets(ctx, api, res.Secrets, o.Out)
	if err != nil {
		return Deployed{}, err
	}
	configIDs, err := upsertConfigs(ctx, api, res.Configs, o.Out)
	if err != nil {
		return Deployed{}, err
	}
	done, err := deployServices(ctx, api, plans, secretIDs, configIDs, o)
	if err != nil {
		return done, err
	}
	if o.Prune {
		if err := prune(ctx, api, res, byName, o.Out); err != nil {
			return done, err
		}
	}
	return done, nil
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
func planServices(ctx context.Context, res *Resources, existing map[string]*swarm.Service, o DeployOptions) ([]*servicePlan, error) {
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

func createNetworks(ctx context.Context, api API, res *Resources, out io.Writer) error {
	list, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: stackFilter(res.Namespace)})
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range list.Items {
		have[n.Name] = true
	}
	for _, name := range sortedKeys(res.Networks) {
		if have[name] {
			continue
		}
		_, _ = fmt.Fprintln(out, "Creating network", name)
		if _, err := api.NetworkCreate(ctx, name, res.Networks[name]); err != nil {
			return fmt.Errorf("failed to create network %s: %w", name, err)
		}
	}
	return nil
}

// upsertSecrets creates the stack's secrets, or updates them in place as
// docker does (the swarm refuses changed data). It returns every secret's ID
// by name, for the service references.
func upsertSecrets(ctx context.Context, api API, specs []swarm.SecretSpec, out io.Writer) (map[string]string, error) {
	list, err := api.SecretList(ctx, client.SecretListOptions{})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	existing := map[string]swarm.Secret{}
	for _, s := range list.Items {
		ids[s.Spec.Name] = s.ID
		existing[s.Spec.Name] = s
	}
	for _, spec := range specs {
		if s, ok := existing[spec.Name]; ok {
			if _, err := api.SecretUpdate(ctx, s.ID, client.SecretUpdateOptions{Version: s.Version, Spec: spec}); err != nil {
				return nil, fmt.Errorf("failed to update secret %s: %w", spec.Name, err)
			}
			continue
		}
		_, _ = fmt.Fprintln(out, "Creating secret", spec.Name)
		r, err := api.SecretCreate(ctx, client.SecretCreateOptions{Spec: spec})
		if err != nil {
			return nil, fmt.Errorf("failed to create secret %s: %w", spec.Name, err)
		}
		ids[spec.Name] = r.ID
	}
	return ids, nil
}

func upsertConfigs(ctx context.Context, api API, specs []swarm.ConfigSpec, out io.Writer) (map[string]string, error) {
	list, err := api.ConfigList(ctx, client.ConfigListOptions{})
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	existing := map[string]swarm.Config{}
	for _, c := range list.Items {
		ids[c.Spec.Name] = c.ID
		existing[c.Spec.Name] = c
	}
	for _, spec := range specs {
		if c, ok := existing[spec.Name]; ok {
			if _, err := api.ConfigUpdate(ctx, c.ID, client.ConfigUpdateOptions{Version: c.Version, Spec: spec}); err != nil {
				return nil, fmt.Errorf("failed to update config %s: %w", spec.Name, err)
			}
			continue
		}
		_, _ = fmt.Fprintln(out, "Creating config", spec.Name)
		r, err := api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: spec})
		if err != nil {
			return nil, fmt.Errorf("failed to create config %s: %w", spec.Name, err)
		}
		ids[spec.Name] = r.ID
	}
	return ids, nil
}

// linkObjects fills in the IDs of the secrets and configs a spec names.
func linkObjects(spec *swarm.ServiceSpec, secretIDs, configIDs map[string]string) error {
	cs := spec.TaskTemplate.ContainerSpec
	for _, s := range cs.Secrets {
		if s.SecretID = secretIDs[s.SecretName]; s.SecretID == "" {
			return fmt.Errorf("secret not found: %s", s.SecretName)
		}
	}
	for _, c := range cs.Configs {
		if c.ConfigID = configIDs[c.ConfigName]; c.ConfigID == "" {
			return fmt.Errorf("config not found: %s", c.ConfigName)
		}
	}
	if cred := cs.Privileges.CredentialSpec; cred != nil && cred.Config != "" {
		for _, c := range cs.Configs {
			if c.Runtime != nil {
				cred.Config = c.ConfigID
			}
		}
	}
	return nil
}

// deployParallel bounds the service creates and updates in flight.
const deployParallel = 8

// deployServices creates and updates the services, deployParallel at a time.
// Every service is tried; the error lists those that failed.
func deployServices(ctx context.Context, api API, plans []*servicePlan, secretIDs, configIDs map[string]string, o DeployOptions) (Deployed, error) {
	ids := make([]string, len(plans))
	errs := make([]error, len(plans))
	var mu sync.Mutex // the output lines
	out := &lockedWriter{w: o.Out, mu: &mu}
	warn := &lockedWriter{w: o.Err, mu: &mu}
	sem := make(chan struct{}, deployParallel)
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			o := o
			o.Out, o.Err = out, warn
			ids[i], errs[i] = deployService(ctx, api, p, secretIDs, configIDs, o)
		})
	}
	wg.Wait()
	var done Deployed
	for _, id := range ids {
		if id != "" {
			done.ServiceIDs = append(done.ServiceIDs, id)
		}
	}
	return done, errors.Join(errs...)
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

func deployService(ctx context.Context, api API, p *servicePlan, secretIDs, configIDs map[string]string, o DeployOptions) (string, error) {
	spec := p.svc.Spec
	spec.TaskTemplate.ContainerSpec.Image = p.image
	if err := linkObjects(&spec, secretIDs, configIDs); err != nil {
		return "", fmt.Errorf("service %s: %w", spec.Name, err)
	}
	if p.existing != nil {
		_, _ = fmt.Fprintf(o.Out, "Updating service %s (id: %s): %s\n", spec.Name, p.existing.ID, authNote(p.decision, false))
		spec.TaskTemplate.ForceUpdate = p.existing.Spec.TaskTemplate.ForceUpdate
		opts := client.ServiceUpdateOptions{Version: p.existing.Version, Spec: spec}
		switch p.decision.Kind {
		case auth.Attach, auth.Clear:
			opts.EncodedRegistryAuth = p.decision.Auth
		}
		r, err := api.ServiceUpdate(ctx, p.existing.ID, opts)
		if err != nil {
			return "", fmt.Errorf("failed to update service %s: %w", spec.Name, err)
		}
		for _, w := range r.Warnings {
			_, _ = fmt.Fprintln(o.Err, w)
		}
		return p.existing.ID, nil
	}
	_, _ = fmt.Fprintf(o.Out, "Creating service %s: %s\n", spec.Name, authNote(p.decision, true))
	opts := client.ServiceCreateOptions{Spec: spec}
	if p.decision.Kind == auth.Attach {
		opts.EncodedRegistryAuth = p.decision.Auth // a new service has nothing to clear
	}
	r, err := api.ServiceCreate(ctx, opts)
	if err != nil {
		return "", fmt.Errorf("failed to create service %s: %w", spec.Name, err)
	}
	for _, w := range r.Warnings {
		_, _ = fmt.Fprintln(o.Err, w)
	}
	return r.ID, nil
}

// prune removes the stack's services the file no longer defines.
func prune(ctx context.Context, api API, res *Resources, existing map[string]*swarm.Service, out io.Writer) error {
	keep := map[string]bool{}
	for _, s := range res.Services {
		keep[s.Spec.Name] = true
	}
	for _, name := range sortedKeys(existing) {
		if keep[name] {
			continue
		}
		_, _ = fmt.Fprintln(out, "Removing service", name)
		if _, err := api.ServiceRemove(ctx, existing[name].ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("failed to remove service %s: %w", name, err)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
