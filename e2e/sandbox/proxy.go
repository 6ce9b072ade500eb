package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/authconfig"
)

// Call is one API request that went through a recording Proxy. It records
// whether registry credentials were sent, never what they were.
type Call struct {
	Method          string
	Path            string // without the /v1.NN prefix
	Query           string
	HasRegistryAuth bool
	// RegistryAuth classifies X-Registry-Auth: AuthNone (no header),
	// AuthEmpty (an auth with no credentials in it, such as e30=) or
	// AuthCredentials.
	RegistryAuth string
	// Name is the service name a POST /services/create carried.
	Name string
}

// Classes of X-Registry-Auth a Proxy records.
const (
	AuthNone        = "none"
	AuthEmpty       = "empty"
	AuthCredentials = "credentials"
)

// classifyAuth looks inside X-Registry-Auth only to tell an empty auth from
// real credentials; nothing of it is kept.
func classifyAuth(header string) string {
	if header == "" {
		return AuthNone
	}
	ac, err := authconfig.Decode(header)
	if err != nil || (ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "") {
		return AuthEmpty
	}
	return AuthCredentials
}

// Proxy stands between the docker CLI and an Engine's socket and records every
// request. The daemon never returns stored registry auth, so this is how a
// test sees which calls carried it.
type Proxy struct {
	Addr string // host:port on loopback
	Host string // tcp://Addr, for DOCKER_HOST

	mu    sync.Mutex
	calls []Call
	srv   *http.Server
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// NewProxy listens on a free loopback port and forwards to the Engine. With a
// TLS config it serves TLS (and checks client certificates if the config asks).
func NewProxy(e *Engine, tlsConfig *tls.Config) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	socket := strings.TrimPrefix(e.Host, "unix://")
	p := &Proxy{Addr: ln.Addr().String()}
	p.Host = "tcp://" + p.Addr
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", socket)
			},
		},
		FlushInterval: -1, // stream events and logs as they come
	}
	p.srv = &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := Call{
			Method:          r.Method,
			Path:            "/" + strings.TrimPrefix(versionPrefix.ReplaceAllString(r.URL.Path, "/"), "/"),
			Query:           r.URL.RawQuery,
			HasRegistryAuth: r.Header.Get("X-Registry-Auth") != "",
			RegistryAuth:    classifyAuth(r.Header.Get("X-Registry-Auth")),
		}
		if c.Method == http.MethodPost && c.Path == "/services/create" {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var spec struct{ Name string }
			_ = json.Unmarshal(body, &spec)
			c.Name = spec.Name
		}
		p.mu.Lock()
		p.calls = append(p.calls, c)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Calls returns the requests recorded so far.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.calls)
}

// Reset forgets the recorded requests.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.calls = nil
	p.mu.Unlock()
}

// Close stops listening.
func (p *Proxy) Close() error { return p.srv.Close() }
