package commands

import (
	"testing"

	"github.com/docker/cli/cli/command"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestMetadata(t *testing.T) {
	m := Metadata()
	assert.Check(t, is.Equal(m.SchemaVersion, "0.1.0"))
	assert.Check(t, m.Vendor != "")
	assert.Check(t, m.Version != "")
	assert.Check(t, m.ShortDescription != "")
	assert.Check(t, m.URL != "")
}

func TestRootRegistersTheMissionCommands(t *testing.T) {
	dockerCLI, err := command.NewDockerCli()
	assert.NilError(t, err)
	root := NewRootCommand(dockerCLI)
	for _, path := range [][]string{
		{"version"}, {"refresh"}, {"stack", "deploy"}, {"secret", "rotate"}, {"config", "rotate"},
	} {
		cmd, rest, err := root.Find(path)
		assert.NilError(t, err, path)
		assert.Check(t, is.Len(rest, 0), path)
		assert.Check(t, is.Equal(cmd.Name(), path[len(path)-1]))
	}
}
