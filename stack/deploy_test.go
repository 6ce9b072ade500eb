package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/swarmauth/swarmauth/auth"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// fakeEngine is a hand-written API: objects in memory and a log of writes.
type fakeEngine struct {
	mu        sync.Mutex
	services  []swarm.Service
	secrets   []swarm.Secret
	configs   []swarm.Config
	networks  []network.Summary
	writes    []string
	creates   map[string]client.ServiceCreateOptions
	updates   map[string]client.ServiceUpdateOptions
	inspected map[string]int
	digest    string
}

func newFakeEngine() *fakeEngine {
	return &fakeEngine{creates: map[string]client.ServiceCreateOptions{}, updates: map[string]client.ServiceUpdateOptions{}, inspected: map[string]int{},
		digest: "sha256:1111111111111111111111111111111111111111111111111111111111111111"}
}

func (f *fakeEngine) write(s string) { f.mu.Lock(); f.writes = append(f.writes, s); f.mu.Unlock() }

func (f *fakeEngine) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	return client.SystemInfoResult{Info: system.Info{Swarm: swarm.Info{ControlAvailable: true}}}, nil
}
func (f *fakeEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{Items: f.networks}, nil
}
func (f *fakeEngine) NetworkInspect(context.Context, string, client.NetworkInspectOptions) (client.NetworkInspectResult, error) {
	return client.NetworkInspectResult{}, errors.New("not used")
}
func (f *fakeEngine) NetworkCreate(_ context.Context, name string, _ client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	f.write("network create " + name)
	return client.NetworkCreateResult{ID: "net-" + name}, nil
}
func (f *fakeEngine) NetworkRemove(_ context.Context, name string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.write("network rm " + name)
	return client.NetworkRemoveResult{}, nil
}
func (f *fakeEngine) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: f.secrets}, nil
}
func (f *fakeEngine) SecretCreate(_ context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error) {
	f.write("secret create " + o.Spec.Name)
	return client.SecretCreateResult{ID: "sec-" + o.Spec.Name}, nil
}
func (f *fakeEngine) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	f.write("secret rm " + id)
	return client.SecretRemoveResult{}, nil
}
func (f *fakeEngine) ConfigInspect(_ context.Context, id string, _ client.ConfigInspectOptions) (client.ConfigInspectResult, error) {
	for _, c := range f.configs {
		if c.ID == id {
			return client.ConfigInspectResult{Config: c}, nil
		}
	}
	return client.ConfigInspectResult{}, errors.New("no such config")
}
func (f *fakeEngine) ConfigRemove(_ context.Context, id string, _ client.ConfigRemoveOptions) (client.ConfigRemoveResult, error) {
	f.write("config rm " + id)
	return client.ConfigRemoveResult{}, nil
}
func (f *fakeEngine) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	return client.ServiceInspectResult{}, errors.New("not used")
}
func (f *fakeEngine) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	return client.TaskListResult{}, nil
}
func (f *fakeEngine) ConfigList(context.Context, client.ConfigListOptions) (client.ConfigListResult, error) {
	return client.ConfigListResult{Items: f.configs}, nil
}
func (f *fakeEngine) ConfigCreate(_ context.Context, o client.ConfigCreateOptions) (client.ConfigCreateResult, error) {
	f.write("config create " + o.Spec.Name)
	return client.ConfigCreateResult{ID: "cfg-" + o.Spec.Name}, nil
}
func (f *fakeEngine) ConfigUpdate(_ context.Context, id string, _ client.ConfigUpdateOptions) (client.ConfigUpdateResult, error) {
	f.write("config labels " + id)
	return client.ConfigUpdateResult{}, nil
}
func (f *fakeEngine) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}
func (f *fakeEngine) ServiceCreate(_ context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error) {
	f.write("service create " + o.Spec.Name)
	f.mu.Lock()
	f.creates[o.Spec.Name] = o
	f.mu.Unlock()
	return client.ServiceCreateResult{ID: "id-" + o.Spec.Name}, nil
}
func (f *fakeEngine) ServiceUpdate(_ context.Context, id string, o client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	f.write("service update " + o.Spec.Name)
	f.mu.Lock()
	f.updates[o.Spec.Name] = o
	f.mu.Unlock()
	return client.ServiceUpdateResult{}, nil
}
func (f *fakeEngine) ServiceRemove(_ context.Context, id string, _ client.ServiceRemoveOptions) (client.ServiceRemoveResult, error) {
	f.write("service rm " + id)
	return client.ServiceRemoveResult{}, nil
}
func (f *fakeEngine) DistributionInspect(_ context.Context, image string, _ client.DistributionInspectOptions) (client.DistributionInspectResult, error) {
	f.mu.Lock()
	f.inspected[image]++
	f.mu.Unlock()
	if image == "unreachable.example/app:1" {
		return client.DistributionInspectResult{}, errors.New("no route to host")
	}
	return client.DistributionInspectResult{DistributionInspect: registry.DistributionInspect{
		Descriptor: ocispec.Descriptor{Digest: digestOf(f.digest)},
		Platforms:  []ocispec.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "amd64", Variant: "v2"}, {OS: "unknown", Architecture: "unknown"}},
	}}, nil
}

type fakeCreds map[string]auth.Credentials

func (f fakeCreds) Get(_ context.Context, host string) (auth.Credentials, error) {
	c, ok := f[host]
	if c.Encoded == "fail" {
		return auth.Credentials{Registry: host}, errors.New("credential helper docker-credential-x did not answer within 1s")
	}
	if !ok {
		return auth.Credentials{Registry: host, Source: auth.Source{Kind: auth.SourceFile}}, nil
	}
	return c, nil
}

type fakeProbe map[string]auth.Access

func (f fakeProbe) Probe(_ context.Context, img auth.Image) (auth.Access, error) {
	if a, ok := f[img.Registry]; ok {
		return a, nil
	}
	return auth.AccessUnknown, fmt.Errorf("cannot reach %s", img.Registry)
}

// deploy plans and applies without waiting.
func deploy(f *fakeEngine, res *Resources, o PlanOptions, out *bytes.Buffer) error {
	o.Warn = out
	p, err := MakePlan(context.Background(), f, res, o)
	if err != nil {
		return err
	}
	return p.Apply(context.Background(), f, ApplyOptions{Out: out, Err: out, Detach: true})
}

func resources(services ...Service) *Resources {
	return &Resources{Namespace: "shop", Networks: map[string]client.NetworkCreateOptions{"shop_default": {Driver: "overlay"}}, Services: services}
}

func service(key, image string) Service {
	return Service{Key: key, Spec: swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "shop_" + key, Labels: map[string]string{LabelImage: image}},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image, Privileges: &swarm.Privileges{}}, Placement: &swarm.Placement{}},
	}}
}

func testPolicy(creds fakeCreds) *auth.Policy {
	return &auth.Policy{Mode: auth.ModeAuto, Creds: creds, Probe: fakeProbe{"priv.example": auth.AccessPrivate, "pub.example": auth.AccessPublic}}
}

func TestDeployAuthPerService(t *testing.T) {
	f := newFakeEngine()
	f.services = []swarm.Service{{ID: "old-tool", Meta: swarm.Meta{Version: swarm.Version{Index: 7}}, Spec: service("tool", "pub.example/tool:1").Spec}}
	forced := service("forced", "pub.example/tool:1")
	forced.RegistryAuth = "always"
	var out bytes.Buffer
	err := deploy(f, resources(service("api", "priv.example/api:1"), service("tool", "pub.example/tool:1"), forced), PlanOptions{
		ResolveImage: ResolveNever,
		Policy: testPolicy(fakeCreds{
			"priv.example": {Registry: "priv.example", Source: auth.Source{Kind: auth.SourceCredHelper, Helper: "ecr-login"}, Encoded: "UFJJVg=="},
			"pub.example":  {Registry: "pub.example", Source: auth.Source{Kind: auth.SourceFile}, Encoded: "UFVC"},
		}),
	}, &out)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(f.creates["shop_api"].EncodedRegistryAuth, "UFJJVg=="))
	assert.Check(t, is.Equal(f.creates["shop_forced"].EncodedRegistryAuth, "UFVC"), "x-swarmauth: always")
	assert.Check(t, is.Equal(f.updates["shop_tool"].EncodedRegistryAuth, auth.EmptyAuth), "a public service is cleared on update")
	assert.Check(t, is.Equal(f.updates["shop_tool"].Version.Index, uint64(7)))
	assert.Check(t, !f.creates["shop_api"].QueryRegistry && !f.updates["shop_tool"].QueryRegistry, "images are resolved by us, once")
	assert.Check(t, is.Contains(out.String(), "Creating service shop_api: registry auth attached (credHelper:ecr-login)"))
	assert.Check(t, is.Contains(out.String(), "Updating service shop_tool (id: old-tool): registry auth cleared (public image)"))
}

func TestDeployAuthFailureWritesNothing(t *testing.T) {
	f := newFakeEngine()
	var out bytes.Buffer
	err := deploy(f, resources(service("api", "priv.example/api:1"), service("tool", "pub.example/tool:1")), PlanOptions{
		ResolveImage: ResolveAlways,
		Policy:       testPolicy(fakeCreds{"priv.example": {Encoded: "fail"}}),
	}, &out)
	assert.Check(t, is.ErrorContains(err, "service api: registry auth for priv.example: credential helper docker-credential-x did not answer within 1s"))
	assert.Check(t, is.Len(f.writes, 0))
}

func TestDeployResolvesEachImageOnce(t *testing.T) {
	f := newFakeEngine()
	var warn bytes.Buffer
	err := deploy(f, resources(
		service("a", "pub.example/tool:1"), service("b", "pub.example/tool:1"), service("c", "pub.example/tool:1"),
		service("d", "unreachable.example/app:1"),
	), PlanOptions{ResolveImage: ResolveAlways, Policy: testPolicy(fakeCreds{})}, &warn)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(f.inspected, map[string]int{"pub.example/tool:1": 1, "unreachable.example/app:1": 1}))
	for _, name := range []string{"shop_a", "shop_b", "shop_c"} {
		spec := f.creates[name].Spec
		assert.Check(t, is.Equal(spec.TaskTemplate.ContainerSpec.Image, "pub.example/tool:1@"+f.digest), name)
		assert.Check(t, is.DeepEqual(spec.TaskTemplate.Placement.Platforms, []swarm.Platform{{OS: "linux", Architecture: "amd64"}}), name)
		assert.Check(t, is.Equal(spec.Labels[LabelImage], "pub.example/tool:1"), name)
	}
	assert.Check(t, is.Equal(f.creates["shop_d"].Spec.TaskTemplate.ContainerSpec.Image, "unreachable.example/app:1"))
	assert.Check(t, is.Contains(warn.String(), "image unreachable.example/app:1 could not be accessed on a registry"))
}

func TestDeployResolveChangedKeepsThePinnedDigest(t *testing.T) {
	f := newFakeEngine()
	pinned := "pub.example/tool:1@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	existing := service("tool", "pub.example/tool:1").Spec
	existing.TaskTemplate.ContainerSpec.Image = pinned
	f.services = []swarm.Service{{ID: "t", Spec: existing}}
	var out bytes.Buffer
	err := deploy(f, resources(service("tool", "pub.example/tool:1"), service("new", "pub.example/tool:2")), PlanOptions{
		ResolveImage: ResolveChanged, Policy: testPolicy(fakeCreds{}),
	}, &out)
	assert.NilError(t, err)
	assert.Check(t, is.Equal(f.updates["shop_tool"].Spec.TaskTemplate.ContainerSpec.Image, pinned))
	assert.Check(t, is.DeepEqual(f.inspected, map[string]int{"pub.example/tool:2": 1}))
}

func TestDeployVersionsSecretsAndConfigs(t *testing.T) {
	f := newFakeEngine()
	dbDigest := contentDigest([]byte("pw"))
	f.secrets = []swarm.Secret{
		{ID: "v1", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "shop_db_" + dbDigest, Labels: map[string]string{"swarmauth.object": "shop_db", "swarmauth.digest": dbDigest}}}},
		{ID: "legacy-token", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "shop_token", Labels: map[string]string{"com.docker.stack.namespace": "shop"}}}},
	}
	f.configs = []swarm.Config{
		{ID: "legacy-conf", Spec: swarm.ConfigSpec{Annotations: swarm.Annotations{Name: "shop_conf"}, Data: []byte("same")}},
	}
	svc := service("api", "pub.example/tool:1")
	svc.Spec.TaskTemplate.ContainerSpec.Secrets = []*swarm.SecretReference{
		{SecretName: "shop_db", File: &swarm.SecretReferenceFileTarget{Name: "db", UID: "1", GID: "2", Mode: 0o400}},
		{SecretName: "shop_token"},
	}
	svc.Spec.TaskTemplate.ContainerSpec.Configs = []*swarm.ConfigReference{{ConfigName: "shop_conf"}}
	res := resources(svc)
	res.Secrets = []swarm.SecretSpec{
		{Annotations: swarm.Annotations{Name: "shop_db", Labels: map[string]string{}}, Data: []byte("pw")},
		{Annotations: swarm.Annotations{Name: "shop_token", Labels: map[string]string{}}, Data: []byte("t0k3n")},
	}
	res.Configs = []swarm.ConfigSpec{{Annotations: swarm.Annotations{Name: "shop_conf", Labels: map[string]string{}}, Data: []byte("same")}}
	var out bytes.Buffer
	p, err := MakePlan(context.Background(), f, res, PlanOptions{ResolveImage: ResolveNever, Policy: testPolicy(fakeCreds{}), Warn: &out})
	assert.NilError(t, err)
	p.Write(&out)
	assert.Check(t, is.Contains(out.String(), "secret   shop_db                          reuse shop_db_"+dbDigest))
	assert.Check(t, is.Contains(out.String(), "secret   shop_token                       create shop_token_"+contentDigest([]byte("t0k3n"))+", replacing shop_token"))
	assert.Check(t, is.Contains(out.String(), "config   shop_conf                        adopt shop_conf"))
	assert.Check(t, is.Len(f.writes, 0), "planning writes nothing")

	assert.NilError(t, p.Apply(context.Background(), f, ApplyOptions{Out: &out, Err: &out, Detach: true}))
	cs := f.creates["shop_api"].Spec.TaskTemplate.ContainerSpec
	assert.Check(t, is.DeepEqual(cs.Secrets[0], &swarm.SecretReference{
		SecretName: "shop_db_" + dbDigest, SecretID: "v1", File: &swarm.SecretReferenceFileTarget{Name: "db", UID: "1", GID: "2", Mode: 0o400},
	}), "same target, uid, gid and mode")
	assert.Check(t, is.Equal(cs.Secrets[1].SecretID, "sec-shop_token_"+contentDigest([]byte("t0k3n"))))
	assert.Check(t, is.Equal(cs.Configs[0].ConfigID, "legacy-conf"), "an adopted config keeps its object")
	assert.Check(t, is.DeepEqual(f.writes, []string{
		"network create shop_default", "secret create shop_token_" + contentDigest([]byte("t0k3n")), "config labels legacy-conf",
		"service create shop_api",
	}), "detached: nothing is retired before convergence")
}

func digestOf(s string) digest.Digest { return digest.Digest(s) }

func TestDeployLeavesUnchangedServicesAlone(t *testing.T) {
	f := newFakeEngine()
	res := resources(service("tool", "pub.example/tool:1"), service("api", "priv.example/api:1"))
	policy := testPolicy(fakeCreds{"priv.example": {Registry: "priv.example", Source: auth.Source{Kind: auth.SourceFile}, Encoded: "UFJJVg=="}})
	var out bytes.Buffer
	assert.NilError(t, deploy(f, res, PlanOptions{ResolveImage: ResolveNever, Policy: policy}, &out))
	// The swarm now holds what was created, as an Engine stores it.
	ids := map[string]string{"shop_default": "net-shop_default"}
	for name, c := range f.creates {
		f.services = append(f.services, swarm.Service{ID: "id-" + name, Spec: asStored(c.Spec, ids)})
	}
	f.networks = []network.Summary{{Network: network.Network{Name: "shop_default", ID: "net-shop_default", Labels: map[string]string{"com.docker.stack.namespace": "shop"}}}}
	f.writes = nil

	p, err := MakePlan(context.Background(), f, res, PlanOptions{ResolveImage: ResolveNever, Policy: policy, Warn: &out})
	assert.NilError(t, err)
	assert.Check(t, !p.Changed())
	assert.NilError(t, p.Apply(context.Background(), f, ApplyOptions{Out: &out, Err: &out, Detach: true}))
	assert.Check(t, is.Len(f.writes, 0), "an unchanged stack sends nothing")

	p, err = MakePlan(context.Background(), f, res, PlanOptions{ResolveImage: ResolveNever, Policy: policy, RefreshAuth: true, Warn: &out})
	assert.NilError(t, err)
	assert.NilError(t, p.Apply(context.Background(), f, ApplyOptions{Out: &out, Err: &out, Detach: true}))
	assert.Check(t, is.Len(f.writes, 2), "--refresh-auth sends auth to every service")
	assert.Check(t, is.Equal(f.updates["shop_api"].EncodedRegistryAuth, "UFJJVg=="))
	assert.Check(t, is.Equal(f.updates["shop_api"].Spec.TaskTemplate.ForceUpdate, uint64(0)), "an auth-only update restarts nothing")
	f.writes = nil

	p, err = MakePlan(context.Background(), f, res, PlanOptions{ResolveImage: ResolveNever, Policy: policy, Force: true, Warn: &out})
	assert.NilError(t, err)
	assert.NilError(t, p.Apply(context.Background(), f, ApplyOptions{Out: &out, Err: &out, Detach: true}))
	assert.Check(t, is.Len(f.writes, 2), "--force updates every service")
	assert.Check(t, is.Equal(f.updates["shop_api"].Spec.TaskTemplate.ForceUpdate, uint64(1)))
}
