package commands

import (
	"testing"

	"gotest.tools/v3/assert"
)

func TestStandaloneArgs(t *testing.T) {
	noEnv := func(string) string { return "" }
	cases := []struct {
		name string
		in   []string
		want []string
	}{
		{"no arguments", []string{"docker-swarmauth"}, []string{"docker-swarmauth", "swarmauth"}},
		{"command", []string{"x", "version"}, []string{"x", "swarmauth", "version"}},
		{"command flags stay after it", []string{"x", "refresh", "-q", "web"}, []string{"x", "swarmauth", "refresh", "-q", "web"}},
		{"long option with value", []string{"x", "--context", "prod", "version"}, []string{"x", "--context", "prod", "swarmauth", "version"}},
		{"long option with =", []string{"x", "--context=prod", "version"}, []string{"x", "--context=prod", "swarmauth", "version"}},
		{"short option with value", []string{"x", "-H", "tcp://h:2376", "version"}, []string{"x", "-H", "tcp://h:2376", "swarmauth", "version"}},
		{"short option value attached", []string{"x", "-Htcp://h", "version"}, []string{"x", "-Htcp://h", "swarmauth", "version"}},
		{"boolean options", []string{"x", "-D", "--tlsverify", "version"}, []string{"x", "-D", "--tlsverify", "swarmauth", "version"}},
		{"grouped short options", []string{"x", "-DH", "unix:///s", "version"}, []string{"x", "-DH", "unix:///s", "swarmauth", "version"}},
		{"value that looks like a command", []string{"x", "-c", "version", "version"}, []string{"x", "-c", "version", "swarmauth", "version"}},
		{"help", []string{"x", "--help"}, []string{"x", "--help", "swarmauth"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.DeepEqual(t, StandaloneArgs(tc.in, noEnv), tc.want)
		})
	}
}

func TestStandaloneArgsLeavesPluginInvocationsAlone(t *testing.T) {
	fromDocker := func(k string) string {
		if k == "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND" {
			return "docker"
		}
		return ""
	}
	args := []string{"docker-swarmauth", "--context", "prod", "swarmauth", "version"}
	assert.DeepEqual(t, StandaloneArgs(args, fromDocker), args)

	meta := []string{"docker-swarmauth", "docker-cli-plugin-metadata"}
	assert.DeepEqual(t, StandaloneArgs(meta, func(string) string { return "" }), meta)
}
