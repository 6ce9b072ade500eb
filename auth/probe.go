package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/moby/moby/api/types/registry"
)

// Access is what an anonymous user gets when pulling a repository.
type Access int

const (
	// AccessUnknown: the registry could not be asked.
	AccessUnknown Access = iota
	// AccessPublic: anyone may pull.
	AccessPublic
	// AccessPrivate: pulling needs credentials.
	AccessPrivate
)

func (a Access) String() string {
	return [...]string{"unknown", "public", "private"}[a]
}

// Prober finds out whether anonymous users can pull an image, asking each
// repository once, the way a registry client would: a manifest HEAD, and for
// a bearer challenge an anonymous token first.
type Prober struct {
	// Insecure says which registries may be reached over plain HTTP (or HTTPS
	// with an unknown CA), as the Engine was told; see InsecureRegistries.
	Insecure func(host string) bool
	client   *http.Client
	insecure *http.Client

	once onceByKey[Access]
}

// NewProber returns a Prober whose requests each take at most timeout.
func NewProber(timeout time.Duration, insecure func(host string) bool) *Prober {
	if insecure == nil {
		insecure = func(string) bool { return false }
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	insecureTr := tr.Clone()
	insecureTr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // only for registries the Engine itself treats as insecure
	return &Prober{
		Insecure: insecure,
		client:   &http.Client{Timeout: timeout, Transport: tr},
		insecure: &http.Client{Timeout: timeout, Transport: insecureTr},
	}
}

// InsecureRegistries reads the Engine's registry configuration: the
// registries it was started with --insecure-registry for, and the CIDRs
// (127.0.0.0/8 by default) whose registries it reaches over plain HTTP.
func InsecureRegistries(cfg *registry.ServiceConfig) func(host string) bool {
	return func(host string) bool {
		if cfg == nil {
			return false
		}
		if idx, ok := cfg.IndexConfigs[host]; ok {
			return !idx.Secure
		}
		hostname := host
		if h, _, err := net.SplitHostPort(host); err == nil {
			hostname = h
		}
		addr, err := netip.ParseAddr(hostname)
		if err != nil {
			return hostname == "localhost"
		}
		for _, p := range cfg.InsecureRegistryCIDRs {
			if p.Contains(addr) {
				return true
			}
		}
		return false
	}
}

// Probe returns the anonymous access to img's repository. Concurrent and later
// calls for the same repository share the first answer.
func (p *Prober) Probe(ctx context.Context, img Image) (Access, error) {
	return p.once.do(ctx, img.Registry+"/"+img.Repository, func() (Access, error) { return p.probe(ctx, img) })
}

// manifestTypes are the manifest media types docker accepts when it pulls.
var manifestTypes = strings.Join([]string{
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}, ", ")

func (p *Prober) probe(ctx context.Context, img Image) (Access, error) {
	host := img.Registry
	if host == dockerHub {
		host = "registry-1.docker.io"
	}
	schemes := []string{"https"}
	c := p.client
	if p.Insecure(img.Registry) {
		schemes, c = []string{"https", "http"}, p.insecure
	}
	var resp *http.Response
	var manifestURL string
	var err error
	for _, scheme := range schemes {
		manifestURL = fmt.Sprintf("%s://%s/v2/%s/manifests/%s", scheme, host, img.Repository, img.Reference)
		if resp, err = headManifest(ctx, c, manifestURL, ""); err == nil {
			break
		}
	}
	if err != nil {
		return AccessUnknown, fmt.Errorf("cannot reach registry %s: %w", img.Registry, unwrapURLError(err))
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return AccessPublic, nil
	case http.StatusUnauthorized:
		return p.tryAnonymousToken(ctx, c, img, manifestURL, resp.Header.Get("WWW-Authenticate"))
	case http.StatusForbidden, http.StatusNotFound:
		// Registries that hide private repositories answer 404 or 403.
		return AccessPrivate, nil
	default:
		return AccessUnknown, fmt.Errorf("registry %s answered %s", img.Registry, resp.Status)
	}
}

// tryAnonymousToken follows a bearer challenge without credentials: a registry
// that hands out an anonymous token good enough to read the manifest is public.
func (p *Prober) tryAnonymousToken(ctx context.Context, c *http.Client, img Image, manifestURL, challenge string) (Access, error) {
	scheme, params := parseChallenge(challenge)
	if !strings.EqualFold(scheme, "bearer") || params["realm"] == "" {
		return AccessPrivate, nil // basic auth or unknown: credentials needed
	}
	realm, err := url.Parse(params["realm"])
	if err != nil {
		return AccessUnknown, fmt.Errorf("registry %s sent a malformed auth challenge", img.Registry)
	}
	q := realm.Query()
	if params["service"] != "" {
		q.Set("service", params["service"])
	}
	q.Set("scope", "repository:"+img.Repository+":pull")
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return AccessUnknown, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return AccessUnknown, fmt.Errorf("cannot reach the token service of %s: %w", img.Registry, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return AccessPrivate, nil
	}
	if resp.StatusCode != http.StatusOK {
		return AccessUnknown, fmt.Errorf("the token service of %s answered %s", img.Registry, resp.Status)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return AccessUnknown, fmt.Errorf("the token service of %s sent a malformed answer", img.Registry)
	}
	token := tok.Token
	if token == "" {
		token = tok.AccessToken
	}
	if token == "" {
		return AccessPrivate, nil
	}
	mresp, err := headManifest(ctx, c, manifestURL, token)
	if err != nil {
		return AccessUnknown, fmt.Errorf("cannot reach registry %s: %w", img.Registry, unwrapURLError(err))
	}
	switch mresp.StatusCode {
	case http.StatusOK:
		return AccessPublic, nil
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return AccessPrivate, nil
	default:
		return AccessUnknown, fmt.Errorf("registry %s answered %s", img.Registry, mresp.Status)
	}
}

func headManifest(ctx context.Context, c *http.Client, u, bearer string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", manifestTypes)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// parseChallenge splits `Bearer realm="...",service="..."` into its scheme and
// parameters.
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest != "" {
		var kv string
		rest = strings.TrimLeft(rest, " ,")
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				break
			}
			kv, rest = after[1:end+1], after[end+2:]
		} else {
			kv, rest, _ = strings.Cut(after, ",")
		}
		params[strings.ToLower(strings.TrimSpace(key))] = kv
	}
	return scheme, params
}

// unwrapURLError drops the URL from an error: the cause is what matters.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
