package commands

import (
	"fmt"
	"strings"

	"github.com/docker/cli/cli/streams"
	"github.com/swarmauth/swarmauth/internal/cluster"
)

// newProgress shows services converging: on a terminal a block of lines
// redrawn in place, as docker's service progress does; otherwise one line per
// change, for logs.
func newProgress(out *streams.Out) func([]cluster.ServiceState) {
	drawn := 0
	last := map[string]string{}
	return func(states []cluster.ServiceState) {
		lines := make([]string, 0, len(states))
		for _, s := range states {
			if s.Name == "" {
				continue
			}
			status := s.Progress
			switch {
			case s.Failed:
				status = "failed: " + s.Message
			case s.Done:
				status = "converged (" + s.Progress + ")"
			}
			lines = append(lines, fmt.Sprintf("%-32s %s", s.Name, status))
		}
		if out.IsTerminal() {
			if drawn > 0 {
				_, _ = fmt.Fprintf(out, "\033[%dA", drawn)
			}
			for _, l := range lines {
				_, _ = fmt.Fprintf(out, "\033[2K%s\n", l)
			}
			drawn = len(lines)
			return
		}
		for _, l := range lines {
			name, _, _ := strings.Cut(l, " ")
			if last[name] != l {
				last[name] = l
				_, _ = fmt.Fprintln(out, l)
			}
		}
	}
}
