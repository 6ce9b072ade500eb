package commands

import (
	"strings"

	"github.com/docker/cli/cli-plugins/metadata"
	cliflags "github.com/docker/cli/cli/flags"
	"github.com/spf13/pflag"
)

// StandaloneArgs lets `docker-swarmauth [GLOBAL OPTIONS] COMMAND` run without the
// docker CLI (in a container, from systemd). The plugin framework expects the
// arguments docker passes, `[GLOBAL OPTIONS] swarmauth COMMAND`, so when docker
// did not start us, the plugin name is inserted after the global options.
func StandaloneArgs(args []string, getenv func(string) string) []string {
	if len(args) == 0 || getenv(metadata.ReexecEnvvar) != "" {
		return args
	}
	if len(args) > 1 && args[1] == metadata.MetadataSubcommandName {
		return args
	}
	at := firstCommandIndex(args[1:]) + 1
	out := make([]string, 0, len(args)+1)
	out = append(out, args[:at]...)
	out = append(out, PluginName)
	return append(out, args[at:]...)
}

// firstCommandIndex returns the index of the first argument that is neither one
// of docker's global options nor an option's value, parsing as pflag does.
func firstCommandIndex(args []string) int {
	flags := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	cliflags.NewClientOptions().InstallFlags(flags)
	takesValue := func(f *pflag.Flag) bool { return f != nil && f.NoOptDefVal == "" }
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-" || !strings.HasPrefix(a, "-"):
			return i
		case strings.HasPrefix(a, "--"):
			if !strings.Contains(a, "=") && takesValue(flags.Lookup(a[2:])) {
				i++
			}
		default:
			// A group of short options (-D, -H host, -Hhost, -DH host): the first
			// one that takes a value ends the group, with the rest or the next
			// argument as its value.
			for j := 1; j < len(a); j++ {
				if takesValue(flags.ShorthandLookup(a[j : j+1])) {
					if j == len(a)-1 {
						i++
					}
					break
				}
			}
		}
	}
	return len(args)
}
