// Package buildinfo holds what the build stamps into the binary.
package buildinfo

import "runtime/debug"

// Version is set at build time with
// -ldflags "-X github.com/swarmauth/swarmauth/internal/buildinfo.Version=v1.2.3".
var Version = ""

// PluginVersion is the version to report: the stamped one, else the module
// version Go recorded (for `go install ...@vX`), else "dev".
func PluginVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
