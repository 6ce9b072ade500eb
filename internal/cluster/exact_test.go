package cluster

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

type fakeDialer struct{ addr string }

func (f fakeDialer) Dialer() func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) { return (&net.Dialer{}).DialContext(ctx, "tcp", f.addr) }
}
func (fakeDialer) ClientVersion() string { return "1.41" }

// The image goes out exactly as given, unlike client.ServiceUpdate, which
// would send "nginx:latest" for "docker.io/library/nginx" and so restart every
// task of a service another tool created.
func TestExactUpdaterSendsSpecAsGiven(t *testing.T) {
	var got struct {
		path, query, auth string
		spec              swarm.ServiceSpec
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.query, got.auth = r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Registry-Auth")
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.spec)
		_, _ = io.WriteString(w, `{"Warnings":["w1"]}`)
	}))
	defer srv.Close()
	u := NewExactUpdater(fakeDialer{addr: strings.TrimPrefix(srv.URL, "http://")})
	spec := swarm.ServiceSpec{
		Annotations:  swarm.Annotations{Name: "web"},
		TaskTemplate: swarm.TaskSpec{ContainerSpec: &swarm.ContainerSpec{Image: "docker.io/library/nginx"}},
	}
	res, err := u.ServiceUpdate(context.Background(), "abc", client.ServiceUpdateOptions{
		Version: swarm.Version{Index: 42}, Spec: spec, EncodedRegistryAuth: "e30=",
	})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(res.Warnings, []string{"w1"}))
	assert.Check(t, is.Equal(got.path, "/v1.41/services/abc/update"))
	assert.Check(t, is.Equal(got.query, "version=42"))
	assert.Check(t, is.Equal(got.auth, "e30="))
	assert.Check(t, is.Equal(got.spec.TaskTemplate.ContainerSpec.Image, "docker.io/library/nginx"))

	_, err = u.ServiceUpdate(context.Background(), "abc", client.ServiceUpdateOptions{Version: swarm.Version{Index: 43}, Rollback: "previous"})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(got.query, "rollback=previous&version=43"))
}

func TestExactUpdaterErrors(t *testing.T) {
	status, msg := 0, ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, msg)
	}))
	defer srv.Close()
	u := NewExactUpdater(fakeDialer{addr: strings.TrimPrefix(srv.URL, "http://")})
	update := func() error {
		_, err := u.ServiceUpdate(context.Background(), "abc", client.ServiceUpdateOptions{})
		return err
	}

	status, msg = http.StatusNotFound, `{"message":"service abc not found"}`
	err := update()
	assert.Check(t, cerrdefs.IsNotFound(err))
	assert.Check(t, is.ErrorContains(err, "service abc not found"))

	status, msg = http.StatusInternalServerError, `{"message":"rpc error: code = Unknown desc = update out of sequence"}`
	assert.Check(t, IsOutOfSequence(update()))

	status, msg = http.StatusBadGateway, "upstream down"
	assert.Check(t, is.Error(update(), "upstream down"))
}
