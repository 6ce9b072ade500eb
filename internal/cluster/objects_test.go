package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

type fakeSecrets struct {
	items   []swarm.Secret
	removed []string
}

func (f *fakeSecrets) SecretList(context.Context, client.SecretListOptions) (client.SecretListResult, error) {
	return client.SecretListResult{Items: f.items}, nil
}
func (f *fakeSecrets) SecretCreate(context.Context, client.SecretCreateOptions) (client.SecretCreateResult, error) {
	return client.SecretCreateResult{}, nil
}
func (f *fakeSecrets) SecretRemove(_ context.Context, id string, _ client.SecretRemoveOptions) (client.SecretRemoveResult, error) {
	f.removed = append(f.removed, id)
	return client.SecretRemoveResult{}, nil
}

func TestRetireVersions(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC) }
	version := func(id, name string, created time.Time) swarm.Secret {
		return swarm.Secret{ID: id, Meta: swarm.Meta{CreatedAt: created}, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{
			Name: name, Labels: map[string]string{LabelObject: "shop_db", LabelStackNamespace: "shop"},
		}}}
	}
	f := &fakeSecrets{items: []swarm.Secret{
		{ID: "first", Meta: swarm.Meta{CreatedAt: at(0)}, Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "shop_db"}}},
		version("old1", "shop_db_aaaa", at(1)), version("old2", "shop_db_bbbb", at(2)), version("used", "shop_db_cccc", at(3)),
		version("old3", "shop_db_dddd", at(4)), version("cur", "shop_db_eeee", at(5)),
		{ID: "dropped", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "shop_gone_ffff", Labels: map[string]string{LabelObject: "shop_gone", LabelStackNamespace: "shop"}}}},
		{ID: "other-stack", Spec: swarm.SecretSpec{Annotations: swarm.Annotations{Name: "web_db_1111", Labels: map[string]string{LabelObject: "web_db", LabelStackNamespace: "web"}}}},
	}}
	current := map[string]string{"shop_db": "shop_db_eeee"}
	inUse := map[string]bool{"used": true}

	removed, err := RetireVersions(context.Background(), Secrets(f), "shop", current, inUse, 1, false)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(removed, []string{"shop_db", "shop_db_aaaa", "shop_db_bbbb"}), "the newest unused old version is kept; the unversioned first one counts")

	removed, err = RetireVersions(context.Background(), Secrets(f), "shop", current, inUse, 0, true)
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(removed, []string{"shop_db", "shop_db_aaaa", "shop_db_bbbb", "shop_db_dddd", "shop_gone_ffff"}), "prune drops lineages no longer defined; in-use, current and other stacks' stay")
}
