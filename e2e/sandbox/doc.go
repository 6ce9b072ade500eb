// Package sandbox runs real Docker Engines, a swarm, registries and credential
// helpers for swarmauth's end-to-end tests, without touching the machine's own
// daemon, its socket or ~/.docker.
//
// One Sandbox per test run owns a Linux bridge, a run directory, the registries
// and every process it starts. Each Engine runs in its own network namespace,
// joined to the bridge by a veth pair, with its own data-root, exec-root, socket
// and pid file. Close stops only the processes the sandbox started, by PID, and
// removes the namespaces, links and firewall rule it added. A run killed before
// Close is swept by the next run (see sweepStale).
package sandbox
