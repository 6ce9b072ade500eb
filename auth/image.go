// Package auth decides which registry credentials a service's image gets, finds
// them in the docker CLI's own credential store, and refreshes them in running
// services.
package auth

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// dockerHub is the registry host images without a domain live on.
const dockerHub = "docker.io"

// Image is a parsed image reference, as a service spec holds it.
type Image struct {
	Ref        string // as written in the spec, digest included
	Registry   string // host[:port]; "docker.io" for Docker Hub
	Repository string // path within the registry, e.g. "library/nginx"
	Reference  string // tag or digest to look up; the digest when both are given
}

// ParseImage parses an image reference the way docker does.
func ParseImage(ref string) (Image, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return Image{}, fmt.Errorf("invalid image reference %q: %w", ref, err)
	}
	img := Image{Ref: ref, Registry: reference.Domain(named), Repository: reference.Path(named), Reference: "latest"}
	if t, ok := named.(reference.Tagged); ok {
		img.Reference = t.Tag()
	}
	if d, ok := named.(reference.Digested); ok {
		img.Reference = d.Digest().String()
	}
	return img, nil
}

// Official reports whether the image is a Docker Hub official image, which
// anyone may pull without credentials.
func (i Image) Official() bool {
	return i.Registry == dockerHub && strings.HasPrefix(i.Repository, "library/")
}

// NormalizeRegistry turns what a user types for a registry (a host, host:port,
// a URL, or Docker Hub's aliases) into the host form ParseImage returns.
func NormalizeRegistry(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return dockerHub
	}
	return strings.ToLower(s)
}
