package sandbox

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strings"
)

// network is the sandbox's underlay: a Linux bridge on the host with one veth
// per Engine, each Engine in its own network namespace. The host keeps the
// bridge's first address, which is where the registries listen.
type network struct {
	id     string // short run id, part of every name below
	bridge string
	prefix string // first three octets of the /24
	hostIP string
	next   int // last octet of the next host
}

func newNetwork(ctx context.Context, id string) (*network, error) {
	prefix, err := freeSubnet(ctx)
	if err != nil {
		return nil, err
	}
	n := &network{id: id, bridge: "sab" + id, prefix: prefix, hostIP: prefix + ".1", next: 2}
	mac := make([]byte, 5)
	_, _ = rand.Read(mac)
	steps := [][]string{
		{"ip", "link", "add", n.bridge, "type", "bridge"},
		// A bridge without a fixed address takes the lowest of its ports'
		// addresses, so it would change when a worker joins, and Engines
		// would lose the registry until their ARP entries expire.
		{"ip", "link", "set", n.bridge, "address", fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4])},
		{"ip", "addr", "add", n.hostIP + "/24", "dev", n.bridge},
		{"ip", "link", "set", n.bridge, "up"},
		// Once an Engine has run on the host, FORWARD defaults to DROP and
		// bridged frames go through iptables: let our bridge talk to itself.
		append([]string{"iptables", "-I"}, n.forwardRule()...),
	}
	for _, s := range steps {
		if err := run(ctx, s...); err != nil {
			n.close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("failed to create the sandbox network: %w", err)
		}
	}
	return n, nil
}

func (n *network) forwardRule() []string {
	return []string{"FORWARD", "-i", n.bridge, "-o", n.bridge, "-j", "ACCEPT"}
}

// freeSubnet picks a 10.213.X.0/24 that no interface on the host uses yet.
func freeSubnet(ctx context.Context) (string, error) {
	addrs, err := output(ctx, "ip", "-4", "-o", "addr", "show")
	if err != nil {
		return "", err
	}
	for range 64 {
		x, _ := rand.Int(rand.Reader, big.NewInt(250))
		prefix := fmt.Sprintf("10.213.%d", x.Int64()+1)
		if !strings.Contains(addrs, " "+prefix+".") {
			return prefix, nil
		}
	}
	return "", fmt.Errorf("no free 10.213.X.0/24 subnet for the sandbox network")
}

// host is one network namespace on the bridge.
type host struct {
	netns string // name under /var/run/netns
	veth  string // host side of the pair
	ip    string
}

func (h host) nsPath() string { return "/var/run/netns/" + h.netns }

// addHost creates a namespace with one interface on the bridge. It has no
// default route on purpose: an Engine then fails at once to reach the internet
// instead of waiting on DNS time-outs.
func (n *network) addHost(ctx context.Context, name string) (host, error) {
	h := host{
		netns: fmt.Sprintf("swarmauth-%s-%s", n.id, name),
		veth:  fmt.Sprintf("sav%s%d", n.id, n.next),
		ip:    fmt.Sprintf("%s.%d", n.prefix, n.next),
	}
	n.next++
	ns := "--net=" + h.nsPath()
	steps := [][]string{
		{"ip", "netns", "add", h.netns},
		{"ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.netns},
		{"ip", "link", "set", h.veth, "master", n.bridge, "up"},
		{"nsenter", ns, "ip", "addr", "add", h.ip + "/24", "dev", "eth0"},
		{"nsenter", ns, "ip", "link", "set", "eth0", "up"},
		{"nsenter", ns, "ip", "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := run(ctx, s...); err != nil {
			n.removeHost(context.WithoutCancel(ctx), h)
			return host{}, fmt.Errorf("failed to create network namespace %s: %w", h.netns, err)
		}
	}
	return h, nil
}

// removeHost deletes the namespace; its veth pair goes with it.
func (n *network) removeHost(ctx context.Context, h host) {
	_ = run(ctx, "ip", "netns", "del", h.netns)
	_ = run(ctx, "ip", "link", "del", h.veth) // already gone unless the namespace was not
}

func (n *network) close(ctx context.Context) {
	_ = run(ctx, append([]string{"iptables", "-D"}, n.forwardRule()...)...)
	_ = run(ctx, "ip", "link", "del", n.bridge)
}
