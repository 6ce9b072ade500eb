package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// fakeSwarm is a hand-written ServiceAPI: services in memory, a record of
// every update, and hooks to make updates conflict or fail.
type fakeSwarm struct {
	mu       sync.Mutex
	services map[string]swarm.Service
	updates  []client.ServiceUpdateOptions
	listed   []client.ServiceListOptions
	// onUpdate may return an error for a service before it is applied.
	onUpdate func(id string, attempt int) error
	attempts map[string]int
	inFlight atomic.Int32
	maxSeen  atomic.Int32
}

func newFakeSwarm(services ...swarm.Service) *fakeSwarm {
	f := &fakeSwarm{services: map[string]swarm.Service{}, attempts: map[string]int{}}
	for _, s := range services {
		f.services[s.ID] = s
	}
	return f
}

func (f *fakeSwarm) ServiceList(_ context.Context, opts client.ServiceListOptions) (client.ServiceListResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listed = append(f.listed, opts)
	var items []swarm.Service
	for _, s := range f.services {
		items = append(items, s)
	}
	return client.ServiceListResult{Items: items}, nil
}

func (f *fakeSwarm) ServiceInspect(_ context.Context, id string, _ client.ServiceInspectOptions) (client.ServiceInspectResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[id]
	if !ok {
		return client.ServiceInspectResult{}, fmt.Errorf("service %s: %w", id, cerrdefs.ErrNotFound)
	}
	return client.ServiceInspectResult{Service: s}, nil
}

func (f *fakeSwarm) ServiceUpdate(_ context.Context, id string, opts client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxSeen.Load(); n > m && !f.maxSeen.CompareAndSwap(m, n); m = f.maxSeen.Load() {
	}
	time.Sleep(2 * time.Millisecond) // let concurrent updates overlap
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts[id]++
	if f.onUpdate != nil {
		if err := f.onUpdate(id, f.attempts[id]); err != nil {
			return client.ServiceUpdateResult{}, err
		}
	}
	s, ok := f.services[id]
	if !ok {
		return client.ServiceUpdateResult{}, fmt.Errorf("service %s: %w", id, cerrdefs.ErrNotFound)
	}
	if s.Version != opts.Version {
		return client.ServiceUpdateResult{}, errors.New("rpc error: code = Unknown desc = update out of sequence")
	}
	f.updates = append(f.updates, opts)
	s.Spec = opts.Spec
	s.Version.Index++
	f.services[id] = s
	return client.ServiceUpdateResult{}, nil
}

func svc(id, name, image string) swarm.Service {
	one := uint64(1)
	return swarm.Service{
		ID:   id,
		Meta: swarm.Meta{Version: swarm.Version{Index: 10}},
		Spec: swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: name, Labels: map[string]string{"team": "shop"}},
			TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: image}},
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		},
	}
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }

func testPolicy() *Policy {
	return &Policy{
		Mode: ModeAuto,
		Creds: fakeCreds{
			"ecr.example": {Registry: "ecr.example", Source: Source{Kind: SourceCredHelper, Helper: "ecr-login"}, Encoded: "ZWNy"},
		},
		Probe: fakeProbe{"ecr.example/shop/api": AccessPrivate, "ecr.example/shop/web": AccessPrivate, "pub.example/tools": AccessPublic, "nocreds.example/app": AccessPrivate},
	}
}

func byService(results []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range results {
		m[r.Service] = r
	}
	return m
}

func TestRefreshPerServicePolicy(t *testing.T) {
	const dgst = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f := newFakeSwarm(
		svc("id-api", "shop_api", "ecr.example/shop/api:v3"+dgst),
		svc("id-tools", "tools", "pub.example/tools:1"),
		svc("id-nginx", "proxy", "nginx:1.27"+dgst),
		svc("id-nocreds", "legacy", "nocreds.example/app:1"),
	)
	results, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 4, Now: fixedNow})
	assert.NilError(t, err)
	got := byService(results)

	assert.Check(t, is.DeepEqual(got["shop_api"], Result{ID: "id-api", Service: "shop_api", Image: "ecr.example/shop/api:v3" + dgst,
		Registry: "ecr.example", Source: "credHelper:ecr-login", Outcome: Refreshed}))
	assert.Check(t, is.Equal(got["tools"].Outcome, Cleared))
	assert.Check(t, is.Equal(got["proxy"].Outcome, Cleared))
	assert.Check(t, is.Equal(got["legacy"].Outcome, Skipped))
	assert.Check(t, is.Equal(got["legacy"].Reason, "no credentials for nocreds.example in the CLI's store"))

	assert.Assert(t, is.Len(f.updates, 3))
	for _, u := range f.updates {
		assert.Check(t, u.EncodedRegistryAuth != "")
		assert.Check(t, !u.QueryRegistry)
		assert.Check(t, is.Equal(u.RegistryAuthFrom, swarm.RegistryAuthSource("")))
		assert.Check(t, is.Equal(u.Version.Index, uint64(10)), "updated at the version read")
	}
	api := f.services["id-api"].Spec
	assert.Check(t, is.Equal(api.TaskTemplate.ContainerSpec.Image, "ecr.example/shop/api:v3"+dgst), "image sent back exactly as read")
	assert.Check(t, is.DeepEqual(api.Labels, map[string]string{
		"team":                    "shop",
		cluster.LabelRefreshedAt:  "2026-11-22T10:00:00Z",
		cluster.LabelRegistryAuth: "attached",
		cluster.LabelRegistry:     "ecr.example",
	}))
	assert.Check(t, is.Equal(f.services["id-tools"].Spec.Labels[cluster.LabelRegistryAuth], "cleared"))
	_, hasRegistry := f.services["id-tools"].Spec.Labels[cluster.LabelRegistry]
	assert.Check(t, !hasRegistry)
	assert.Check(t, is.Equal(f.services["id-nocreds"].Version.Index, uint64(10)), "skipped service untouched")
}

func TestRefreshSendsEachServiceItsOwnCredentials(t *testing.T) {
	f := newFakeSwarm(svc("a", "a", "ecr.example/shop/api:1"), svc("b", "b", "pub.example/tools:1"))
	_, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 1, Now: fixedNow})
	assert.NilError(t, err)
	auths := map[string]string{}
	for _, u := range f.updates {
		auths[u.Spec.Name] = u.EncodedRegistryAuth
	}
	assert.Check(t, is.DeepEqual(auths, map[string]string{"a": "ZWNy", "b": EmptyAuth}))
}

func TestRefreshDryRunWritesNothing(t *testing.T) {
	f := newFakeSwarm(svc("a", "a", "ecr.example/shop/api:1"), svc("b", "b", "nginx"))
	results, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{DryRun: true, Parallel: 2})
	assert.NilError(t, err)
	assert.Check(t, is.Len(f.updates, 0))
	assert.Check(t, is.Equal(byService(results)["a"].Outcome, Refreshed))
	assert.Check(t, is.Equal(byService(results)["b"].Outcome, Cleared))
}

func TestRefreshSkipsJobsUnlessAsked(t *testing.T) {
	job := svc("j", "migrate", "ecr.example/shop/api:1")
	job.Spec.Mode = swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{}}
	f := newFakeSwarm(job)
	results, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 1})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(results[0].Outcome, Skipped))
	assert.Check(t, is.Contains(results[0].Reason, "--include-jobs"))
	assert.Check(t, is.Len(f.updates, 0))

	results, err = Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 1, IncludeJobs: true})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(results[0].Outcome, Refreshed))
}

func TestRefreshRetriesVersionConflicts(t *testing.T) {
	f := newFakeSwarm(svc("a", "a", "ecr.example/shop/api:1"))
	f.onUpdate = func(id string, attempt int) error {
		if attempt <= 2 { // someone else updates the service twice in between
			s := f.services[id]
			s.Version.Index += 5
			s.Spec.Labels = map[string]string{"changed-by": "someone-else"}
			f.services[id] = s
		}
		return nil
	}
	results, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 1, Now: fixedNow})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(results[0].Outcome, Refreshed))
	assert.Check(t, is.Equal(f.attempts["a"], 3))
	labels := f.services["a"].Spec.Labels
	assert.Check(t, is.Equal(labels["changed-by"], "someone-else"), "the other writer's change is kept")
	assert.Check(t, is.Equal(labels[cluster.LabelRegistryAuth], "attached"))
}

func TestRefreshReportsEveryServiceDespiteFailures(t *testing.T) {
	f := newFakeSwarm(svc("a", "a", "ecr.example/shop/api:1"), svc("b", "b", "ecr.example/shop/web:1"), svc("c", "c", "pub.example/tools:1"))
	f.onUpdate = func(id string, _ int) error {
		switch id {
		case "a":
			delete(f.services, "a") // removed mid-run
		case "b":
			return errors.New("rpc error: code = Unavailable desc = the swarm does not have a leader")
		}
		return nil
	}
	results, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 3})
	assert.NilError(t, err)
	got := byService(results)
	assert.Check(t, is.Equal(got["a"].Outcome, Skipped))
	assert.Check(t, is.Equal(got["a"].Reason, "service was removed during the refresh"))
	assert.Check(t, is.Equal(got["b"].Outcome, Failed))
	assert.Check(t, is.Equal(got["b"].Reason, "failed to update service b: rpc error: code = Unavailable desc = the swarm does not have a leader"))
	assert.Check(t, is.Equal(got["c"].Outcome, Cleared))
}

func TestRefreshBoundsParallelUpdates(t *testing.T) {
	var services []swarm.Service
	for i := range 40 {
		services = append(services, svc(fmt.Sprint(i), fmt.Sprint("s", i), "ecr.example/shop/api:1"))
	}
	f := newFakeSwarm(services...)
	_, err := Refresh(context.Background(), f, testPolicy(), RefreshOptions{Parallel: 3})
	assert.NilError(t, err)
	assert.Check(t, is.Len(f.updates, 40))
	assert.Check(t, f.maxSeen.Load() <= 3, "saw %d concurrent updates", f.maxSeen.Load())
	assert.Check(t, is.Len(f.listed, 1), "one list call")
}

func TestRefreshSelection(t *testing.T) {
	f := newFakeSwarm(
		svc("aaa111", "shop_api", "ecr.example/shop/api:1"),
		svc("aab222", "shop_web", "ecr.example/shop/web:1"),
		svc("bbb333", "tools", "pub.example/tools:1"),
	)
	ctx := context.Background()
	names := func(rs []Result) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Service)
		}
		return out
	}

	rs, err := Refresh(ctx, f, testPolicy(), RefreshOptions{Services: []string{"tools", "aaa"}, DryRun: true, Parallel: 1})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(names(rs), []string{"shop_api", "tools"}))

	_, err = Refresh(ctx, f, testPolicy(), RefreshOptions{Services: []string{"aa"}, DryRun: true, Parallel: 1})
	assert.Check(t, is.Error(err, "service ID prefix aa is ambiguous"))

	_, err = Refresh(ctx, f, testPolicy(), RefreshOptions{Services: []string{"tools", "nope", "gone"}, Parallel: 1})
	assert.Check(t, is.Error(err, "no such service: nope, gone"))
	assert.Check(t, is.Len(f.updates, 0), "a bad selection writes nothing")

	rs, err = Refresh(ctx, f, testPolicy(), RefreshOptions{Registries: []string{"https://PUB.example"}, DryRun: true, Parallel: 1})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(names(rs), []string{"tools"}))

	f.listed = nil
	_, err = Refresh(ctx, f, testPolicy(), RefreshOptions{Stack: "shop", Filters: client.Filters{}.Add("label", "team=shop"), DryRun: true, Parallel: 1})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(f.listed[0].Filters, client.Filters{}.Add("label", "team=shop", "com.docker.stack.namespace=shop")))
}
