package sandbox

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// A run writes what it created to a state file, so that the next run can clean
// up after one that was killed before it could tear down (SIGKILL, a go test
// time-out).
const stateDir = "/var/run/swarmauth-e2e"

type runState struct {
	Owner  int      `json:"owner"` // PID of the test process
	Dir    string   `json:"dir"`
	Bridge string   `json:"bridge,omitempty"`
	Netns  []string `json:"netns,omitempty"`
}

func statePath(id string) string { return filepath.Join(stateDir, id+".json") }

func (sb *Sandbox) saveState() error {
	st := runState{Owner: os.Getpid(), Dir: sb.Dir}
	if sb.net != nil {
		st.Bridge = sb.net.bridge
	}
	sb.mu.Lock()
	for _, e := range sb.engines {
		st.Netns = append(st.Netns, e.host.netns)
	}
	sb.mu.Unlock()
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return err
	}
	tmp := statePath(sb.ID) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(sb.ID))
}

// sweepStale removes what earlier runs left behind when their test process no
// longer exists. A process counts as theirs only when its command line names
// that run's private directory, which nothing else can know.
func sweepStale(ctx context.Context) {
	files, _ := filepath.Glob(filepath.Join(stateDir, "*.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		var st runState
		if err != nil || json.Unmarshal(b, &st) != nil || st.Dir == "" {
			continue
		}
		if st.Owner > 0 && syscall.Kill(st.Owner, 0) == nil {
			continue // still running
		}
		for _, pid := range pidsMentioning(st.Dir) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, ns := range st.Netns {
			_ = run(ctx, "ip", "netns", "del", ns)
		}
		if st.Bridge != "" {
			n := &network{bridge: st.Bridge}
			n.close(ctx)
		}
		unmountUnder(st.Dir)
		_ = os.RemoveAll(st.Dir)
		_ = os.Remove(f)
	}
}

func pidsMentioning(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// unmountUnder lazily unmounts whatever is still mounted below dir, deepest
// first, so that the directory can be removed.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	slices.Sort(points)
	for _, p := range slices.Backward(points) {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
