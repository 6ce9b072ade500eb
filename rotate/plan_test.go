package rotate

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/cluster"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// fakeAPI holds secrets and services in memory; rotation planning only reads.
type fakeAPI struct {
	API      // methods a test does not provide panic
	secrets  []swarm.Secret
	services []swarm.Service
}

func (f *fakeAPI) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: f.secrets}, nil
}
func (f *fakeAPI) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}

func secret(id, name string, labels map[string]string) swarm.Secret {
	return swarm.Secret{ID: id, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: name, Labels: labels}}}
}

func user(name string, refs ...*swarm.SecretReference) swarm.Service {
	return swarm.Service{ID: "id-" + name, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: name},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "app", Secrets: refs}}}}
}

func ref(id, name, target string) *swarm.SecretReference {
	return &swarm.SecretReference{SecretID: id, SecretName: name, File: &swarm.SecretReferenceFileTarget{Name: target, UID: "1", GID: "2", Mode: 0o400}}
}

func world() *fakeAPI {
	return &fakeAPI{
		secrets: []swarm.Secret{
			secret("s1", "db_pw", map[string]string{"team": "data"}),
			secret("s2", "db_pw_v2", map[string]string{"team": "data", cluster.LabelObject: "db_pw", LabelVersion: "2", cluster.LabelDigest: digest([]byte("two"))}),
			secret("x", "other", nil),
		},
		services: []swarm.Service{
			user("db", ref("s2", "db_pw_v2", "db_pw")),
			user("api", ref("s2", "db_pw_v2", "pw"), ref("x", "other", "other")),
			user("legacy", ref("s1", "db_pw", "db_pw")),
			user("unrelated", ref("x", "other", "other")),
		},
	}
}

func TestPlanFindsTheLineageAndTheNextVersion(t *testing.T) {
	p, err := MakePlan(context.Background(), world(), Options{Kind: "secret", Name: "db_pw_v2", Content: []byte("three")})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(p.Lineage, "db_pw"))
	assert.Check(t, is.Equal(p.NewName, "db_pw_v3"))
	assert.Check(t, is.Equal(p.Version, 3))
	assert.Check(t, !p.Reuse)
	assert.Check(t, is.DeepEqual(p.labels, map[string]string{"team": "data", cluster.LabelObject: "db_pw", LabelVersion: "3", cluster.LabelDigest: digest([]byte("three"))}))
	var names []string
	for _, s := range p.switches {
		names = append(names, s.svc.Spec.Name)
	}
	assert.Check(t, is.DeepEqual(names, []string{"api", "db", "legacy"}), "every user of any version, and no one else")
	assert.Check(t, is.DeepEqual(p.Remove, []string{"db_pw", "db_pw_v2"}))

	var out bytes.Buffer
	p.Write(&out)
	assert.Check(t, is.Contains(out.String(), "create db_pw_v3 (v3)"))
	assert.Check(t, is.Contains(out.String(), "legacy                       switch db_pw -> db_pw_v3"))
}

func TestPlanReusesTheVersionWithTheSameContent(t *testing.T) {
	p, err := MakePlan(context.Background(), world(), Options{Kind: "secret", Name: "db_pw", Content: []byte("two")})
	assert.NilError(t, err)
	assert.Check(t, p.Reuse, "a rerun finds the version it made")
	assert.Check(t, is.Equal(p.NewName, "db_pw_v2"))
}

func TestPlanValidation(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Kind: "secret", Name: "nope", Content: []byte("x")}, "no such secret: nope"},
		{Options{Kind: "secret", Name: "db_pw", Content: nil}, "the new secret content is empty"},
		{Options{Kind: "secret", Name: "db_pw", Content: []byte(strings.Repeat("x", 600*1024))}, "the swarm takes at most 512000"},
		{Options{Kind: "secret", Name: "db_pw", Content: []byte("x"), Services: []string{"unrelated"}}, "service unrelated does not use secret db_pw"},
		{Options{Kind: "secret", Name: "db_pw", Content: []byte("x"), Services: []string{"db"}, KeepOld: map[string]string{"api": "old"}}, "--keep-old-as api: the service is not part of this rotation"},
		{Options{Kind: "secret", Name: "db_pw", Content: []byte("x"), NewName: "other"}, "secret other exists already"},
		{Options{Kind: "secret", Name: "db_pw", Content: []byte("x"), Job: &Job{Image: "mysql"}}, "--job needs an image and a command"},
	} {
		_, err := MakePlan(ctx, world(), tc.o)
		assert.Check(t, is.ErrorContains(err, tc.want))
	}
}

func TestPlanWithSelectedServicesKeepsOldVersions(t *testing.T) {
	p, err := MakePlan(context.Background(), world(), Options{Kind: "secret", Name: "db_pw", Content: []byte("x"), Services: []string{"db"}})
	assert.NilError(t, err)
	assert.Check(t, is.Len(p.switches, 1))
	assert.Check(t, is.DeepEqual(p.staying, []string{"api", "legacy"}))
	assert.Check(t, is.Len(p.Remove, 0), "others still use the old versions")
}

func TestRewriteKeepsTargetsAndTheOldVersionWhenAsked(t *testing.T) {
	p, err := MakePlan(context.Background(), world(), Options{Kind: "secret", Name: "db_pw", Content: []byte("x"), KeepOld: map[string]string{"db": "db_pw_old"}})
	assert.NilError(t, err)
	p.newID = "s3"
	var db *switchPlan
	for _, s := range p.switches {
		if s.svc.Spec.Name == "db" {
			db = s
		}
	}
	svc := db.svc
	assert.Check(t, p.rewrite(&svc, db))
	assert.Check(t, is.DeepEqual(svc.Spec.TaskTemplate.ContainerSpec.Secrets, []*swarm.SecretReference{
		{SecretID: "s2", SecretName: "db_pw_v2", File: &swarm.SecretReferenceFileTarget{Name: "db_pw_old", UID: "1", GID: "2", Mode: 0o400}},
		{SecretID: "s3", SecretName: "db_pw_v3", File: &swarm.SecretReferenceFileTarget{Name: "db_pw", UID: "1", GID: "2", Mode: 0o400}},
	}))
	assert.Check(t, is.Equal(db.svc.Spec.TaskTemplate.ContainerSpec.Secrets[0].SecretName, "db_pw_v2"), "the plan's copy is untouched")
	assert.Check(t, !p.rewrite(&svc, &switchPlan{from: []string{"gone"}}), "nothing to switch")
}
