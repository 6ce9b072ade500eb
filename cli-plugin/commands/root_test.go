package commands

import (
	"testing"

	"github.com/docker/cli/cli"
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

// Until their issues land, the mission's commands fail loudly rather than
// pretend to work.
func TestStubsFailWithNotImplemented(t *testing.T) {
	dockerCLI, err := command.NewDockerCli()
	assert.NilError(t, err)
	for _, args := range [][]string{
		{"secret", "rotate", "db_password"}, {"config", "rotate", "nginx_conf"},
	} {
		root := NewRootCommand(dockerCLI)
		root.SetArgs(args)
		err := root.Execute()
		status, ok := err.(cli.StatusError)
		assert.Assert(t, ok, "%v: %T", args, err)
		assert.Check(t, is.Equal(status.StatusCode, 1), args)
		assert.Check(t, is.ErrorContains(err, "not implemented yet"), args)
	}
}
