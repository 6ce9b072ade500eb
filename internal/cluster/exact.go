package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// ExactUpdater sends service updates with the spec exactly as given. The Go
// client's ServiceUpdate rewrites the image to its familiar, tagged form
// ("docker.io/library/nginx" becomes "nginx:latest"); for a service created by
// another tool that is a changed task spec, and every task restarts. An
// update that only refreshes registry auth must not do that.
//
// It speaks HTTP over the client's own dialer, so contexts, TLS and SSH
// connections work as for every other call.
type ExactUpdater struct {
	http    *http.Client
	version func() string
}

// EngineDialer is what ExactUpdater needs of the Engine client.
type EngineDialer interface {
	Dialer() func(context.Context) (net.Conn, error)
	ClientVersion() string
}

// NewExactUpdater sends updates through api's connection. Call it after api
// has made a request, so that the API version is negotiated.
func NewExactUpdater(api EngineDialer) *ExactUpdater {
	dial := api.Dialer()
	return &ExactUpdater{
		http: &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
			// Keep a connection per concurrent update (the default keeps two).
			MaxIdleConnsPerHost: 32,
		}},
		version: api.ClientVersion,
	}
}

// ServiceUpdate is client.ServiceUpdate without the image rewrite and
// without registry queries.
func (u *ExactUpdater) ServiceUpdate(ctx context.Context, serviceID string, opts client.ServiceUpdateOptions) (client.ServiceUpdateResult, error) {
	body, err := json.Marshal(opts.Spec)
	if err != nil {
		return client.ServiceUpdateResult{}, err
	}
	q := url.Values{"version": {opts.Version.String()}}
	if opts.RegistryAuthFrom != "" {
		q.Set("registryAuthFrom", string(opts.RegistryAuthFrom))
	}
	if opts.Rollback != "" {
		q.Set("rollback", opts.Rollback)
	}
	u2 := fmt.Sprintf("http://docker/v%s/services/%s/update?%s", u.version(), url.PathEscape(serviceID), q.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u2, bytes.NewReader(body))
	if err != nil {
		return client.ServiceUpdateResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if opts.EncodedRegistryAuth != "" {
		req.Header.Set(registry.AuthHeader, opts.EncodedRegistryAuth)
	}
	resp, err := u.http.Do(req)
	if err != nil {
		return client.ServiceUpdateResult{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct{ Message string }
		if json.Unmarshal(b, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		err := errors.New(e.Message)
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w: %w", cerrdefs.ErrNotFound, err)
		}
		return client.ServiceUpdateResult{}, err
	}
	var r swarm.ServiceUpdateResponse
	_ = json.Unmarshal(b, &r)
	return client.ServiceUpdateResult{Warnings: r.Warnings}, nil
}
