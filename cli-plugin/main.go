// Command docker-swarmauth is the swarmauth Docker CLI plugin. Installed in a
// cli-plugins directory it runs as `docker swarmauth`; run directly, it takes the
// same global flags, commands and flags.
package main

import (
	"os"

	"github.com/docker/cli/cli-plugins/plugin"
	"github.com/swarmauth/swarmauth/cli-plugin/commands"
)

func main() {
	os.Args = commands.StandaloneArgs(os.Args, os.Getenv)
	plugin.Run(commands.NewRootCommand, commands.Metadata())
}
