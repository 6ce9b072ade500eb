package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/api/types/registry"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

// fakeRegistry answers manifest HEADs: open repositories for anyone, others
// only with the bearer token its token service hands out for them.
type fakeRegistry struct {
	open     map[string]bool // repository -> anonymous pull allowed
	bearer   bool            // challenge with a token service instead of Basic
	requests atomic.Int32
}

func (f *fakeRegistry) serve(t *testing.T) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if r.URL.Path == "/token" {
			scope := r.URL.Query().Get("scope")
			repo := strings.TrimSuffix(strings.TrimPrefix(scope, "repository:"), ":pull")
			_, _ = fmt.Fprintf(w, `{"token":"anon-%s"}`, repo)
			return
		}
		repo, _, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/")
		if !ok || r.Method != http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if f.open[repo] && (!f.bearer || r.Header.Get("Authorization") == "Bearer anon-"+repo) {
			w.WriteHeader(http.StatusOK)
			return
		}
		if f.bearer {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="fake"`, srv.URL))
		} else {
			w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
		}
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func imageOn(t *testing.T, srv *httptest.Server, repoTag string) Image {
	t.Helper()
	img, err := ParseImage(strings.TrimPrefix(srv.URL, "http://") + "/" + repoTag)
	assert.NilError(t, err)
	return img
}

func plainHTTP(string) bool { return true }

func TestProbeBasicAuthRegistry(t *testing.T) {
	f := &fakeRegistry{open: map[string]bool{"public/app": true}}
	srv := f.serve(t)
	p := NewProber(5*time.Second, plainHTTP)
	ctx := context.Background()

	a, err := p.Probe(ctx, imageOn(t, srv, "public/app:v1"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a, AccessPublic))
	a, err = p.Probe(ctx, imageOn(t, srv, "private/app:v1"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a, AccessPrivate))
}

func TestProbeBearerTokenRegistry(t *testing.T) {
	f := &fakeRegistry{open: map[string]bool{"library/busybox": true}, bearer: true}
	srv := f.serve(t)
	p := NewProber(5*time.Second, plainHTTP)
	ctx := context.Background()

	a, err := p.Probe(ctx, imageOn(t, srv, "library/busybox:1"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a, AccessPublic), "an anonymous token that reads the manifest means public")
	a, err = p.Probe(ctx, imageOn(t, srv, "team/secret:1"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(a, AccessPrivate), "an anonymous token that cannot read it means private")
}

func TestProbeAsksEachRepositoryOnce(t *testing.T) {
	f := &fakeRegistry{open: map[string]bool{"public/app": true}}
	srv := f.serve(t)
	p := NewProber(5*time.Second, plainHTTP)
	for _, tag := range []string{"v1", "v2", "v3"} {
		_, err := p.Probe(context.Background(), imageOn(t, srv, "public/app:"+tag))
		assert.NilError(t, err)
	}
	// One manifest HEAD for the three tags (the https attempt that precedes it
	// never reaches the handler of this plain-HTTP server).
	assert.Check(t, is.Equal(f.requests.Load(), int32(1)))
}

func TestProbeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	p := NewProber(2*time.Second, plainHTTP)
	a, err := p.Probe(context.Background(), imageOn(t, srv, "app:v1"))
	assert.Check(t, is.Equal(a, AccessUnknown))
	assert.Check(t, is.ErrorContains(err, "cannot reach registry"))
}

func TestProbeSecureRegistryNeverFallsBackToHTTP(t *testing.T) {
	f := &fakeRegistry{open: map[string]bool{"public/app": true}}
	srv := f.serve(t)
	p := NewProber(2*time.Second, nil)
	a, err := p.Probe(context.Background(), imageOn(t, srv, "public/app:v1"))
	assert.Check(t, is.Equal(a, AccessUnknown))
	assert.Check(t, err != nil)
}

func TestProbeServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	a, err := NewProber(2*time.Second, plainHTTP).Probe(context.Background(), imageOn(t, srv, "app:v1"))
	assert.Check(t, is.Equal(a, AccessUnknown))
	assert.Check(t, is.ErrorContains(err, "503"))
}

func TestInsecureRegistries(t *testing.T) {
	insecure := InsecureRegistries(&registry.ServiceConfig{
		InsecureRegistryCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io":          {Name: "docker.io", Secure: true},
			"10.213.5.1:5000":    {Name: "10.213.5.1:5000", Secure: false},
			"registry.corp:5000": {Name: "registry.corp:5000", Secure: false},
		},
	})
	for host, want := range map[string]bool{
		"docker.io":          false,
		"10.213.5.1:5000":    true,
		"registry.corp:5000": true,
		"127.0.0.1:5000":     true,
		"localhost:5000":     true,
		"10.0.0.9:5000":      false,
		"ghcr.io":            false,
	} {
		assert.Check(t, is.Equal(insecure(host), want), host)
	}
	assert.Check(t, !InsecureRegistries(nil)("127.0.0.1:5000"))
}

func TestParseChallenge(t *testing.T) {
	scheme, params := parseChallenge(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`)
	assert.Check(t, is.Equal(scheme, "Bearer"))
	assert.Check(t, is.DeepEqual(params, map[string]string{
		"realm":   "https://auth.docker.io/token",
		"service": "registry.docker.io",
		"scope":   "repository:library/nginx:pull",
	}))
	scheme, params = parseChallenge(`Basic realm=sandbox`)
	assert.Check(t, is.Equal(scheme, "Basic"))
	assert.Check(t, is.Equal(params["realm"], "sandbox"))
}
