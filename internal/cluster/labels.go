// Package cluster holds the swarm mechanics every swarmauth command shares: the
// labels it reads and writes, updating a service with retries on version
// conflicts, and waiting.
package cluster

import (
	"maps"
	"time"
)

// Labels swarmauth writes on services. They say what was done and when, never
// a username, secret or anything derived from them.
const (
	// LabelRefreshedAt is when swarmauth last set the service's registry auth
	// (RFC 3339, UTC).
	LabelRefreshedAt = "swarmauth.refreshed-at"
	// LabelRegistry is the registry whose credentials the service holds.
	LabelRegistry = "swarmauth.registry"
	// LabelRegistryAuth is what swarmauth last did: "attached" or "cleared".
	LabelRegistryAuth = "swarmauth.registry-auth"

	// LabelObject names the lineage of a versioned secret or config: the
	// name docker would give it (<stack>_<name>, or its compose name:).
	LabelObject = "swarmauth.object"
	// LabelDigest is the version: the first hex digits of the SHA-256 of the
	// object's data.
	LabelDigest = "swarmauth.digest"
)

// LabelStackNamespace is docker's label naming the stack a service belongs to.
const LabelStackNamespace = "com.docker.stack.namespace"

// WithAuthLabels returns the service labels with swarmauth's record of the
// registry auth it sent: attached (for registry) or cleared. The caller's map
// is left untouched.
func WithAuthLabels(labels map[string]string, attached bool, registry string, now time.Time) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[LabelRefreshedAt] = now.UTC().Format(time.RFC3339)
	if attached {
		out[LabelRegistryAuth] = "attached"
		out[LabelRegistry] = registry
	} else {
		out[LabelRegistryAuth] = "cleared"
		delete(out, LabelRegistry)
	}
	return out
}

// HoldsAuth reports whether the labels say the service already holds what
// WithAuthLabels would record.
func HoldsAuth(labels map[string]string, attached bool, registry string) bool {
	if attached {
		return labels[LabelRegistryAuth] == "attached" && labels[LabelRegistry] == registry
	}
	return labels[LabelRegistryAuth] == "cleared"
}
