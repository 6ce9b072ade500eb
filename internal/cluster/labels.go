// Package cluster holds the swarm mechanics every swarmauth command shares: the
// labels it reads and writes, updating a service with retries on version
// conflicts, and waiting.
package cluster

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
)

// LabelStackNamespace is docker's label naming the stack a service belongs to.
const LabelStackNamespace = "com.docker.stack.namespace"
