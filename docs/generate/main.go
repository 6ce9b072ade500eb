// Command generate writes the command reference in docs/reference from the
// cobra command tree, with docker's cli-docs-tool. Hand-written text outside
// the generated markers of each page is kept.
//
//	go run ./docs/generate [-source docs/reference] [-target DIR]
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	clidocstool "github.com/docker/cli-docs-tool"
	"github.com/docker/cli/cli/command"
	"github.com/spf13/cobra"
	"github.com/swarmauth/swarmauth/cli-plugin/commands"
)

func main() {
	source := flag.String("source", "docs/reference", "directory of the hand-written pages")
	target := flag.String("target", "", "directory to write the pages to (default: -source)")
	flag.Parse()
	if err := generate(*source, *target); err != nil {
		fmt.Fprintln(os.Stderr, "generate:", err)
		os.Exit(1)
	}
}

func generate(source, target string) error {
	log.SetOutput(io.Discard) // cli-docs-tool logs every page it writes
	dockerCLI, err := command.NewDockerCli()
	if err != nil {
		return err
	}
	// Pages read "docker swarmauth ...", as users type them.
	root := &cobra.Command{Use: "docker [OPTIONS] COMMAND [ARG...]", DisableAutoGenTag: true}
	plugin := commands.NewRootCommand(dockerCLI)
	root.AddCommand(plugin)
	tool, err := clidocstool.New(clidocstool.Options{Root: plugin, SourceDir: source, TargetDir: target, Plugin: true})
	if err != nil {
		return err
	}
	return tool.GenMarkdownTree(plugin)
}
