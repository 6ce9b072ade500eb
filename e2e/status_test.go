package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/icmd"
)

// TestStatus: before a refresh a private service's credentials are stale by
// --stale-after and --check fails; after it they are fresh. The secret
// version in use, and a newer one of its lineage, are shown.
func TestStatus(t *testing.T) {
	ctx := context.Background()
	s := single(t)
	ref, err := s.PushImage(ctx, sb.Private, "status/app:v1")
	assert.NilError(t, err)
	cli := s.NewCLI(t)
	cli.WriteConfig(authsConfig(sb.Private))
	createSecret(t, s, cli, "st_pw", "v1")
	name := serviceName(t, s, "app")
	createService(t, s, cli, name, "--replicas", "0", "--no-resolve-image", "--secret", "st_pw", ref)
	newer := cli.Command("secret", "create", "--label", "swarmauth.object=st_pw", "--label", "swarmauth.version=2", "st_pw_v2", "-")
	newer.Stdin = strings.NewReader("v2")
	icmd.RunCmd(newer).Assert(t, icmd.Success)

	status := func(expected icmd.Expected, args ...string) map[string]any {
		t.Helper()
		res := cli.Run(append([]string{"swarmauth", "status", "--format", "json", "--stale-after", "1h"}, append(args, name)...)...)
		res.Assert(t, expected)
		var row map[string]any
		assert.NilError(t, json.Unmarshal([]byte(strings.TrimSpace(res.Stdout())), &row), res.Stdout())
		return row
	}

	row := status(icmd.Success)
	assert.Check(t, is.Equal(row["Policy"], "private: needs credentials"))
	assert.Check(t, is.Equal(row["Source"], "file"))
	assert.Check(t, is.Equal(row["Refreshed"], "never"))
	assert.Check(t, is.Equal(row["Stale"], true))
	assert.Check(t, is.Equal(row["Objects"], "secret st_pw (newer: st_pw_v2)"))
	status(icmd.Expected{ExitCode: 1, Err: "1 of 1 services have stale registry credentials"}, "--check")

	cli.Run("swarmauth", "refresh", name).Assert(t, icmd.Success)
	row = status(icmd.Success, "--check")
	assert.Check(t, is.Equal(row["Stale"], false))
	assert.Check(t, is.Equal(row["Holds"], "attached"))
	assert.Check(t, row["RefreshedAt"] != "")

	table := cli.Run("swarmauth", "status", name)
	table.Assert(t, icmd.Success)
	assert.Check(t, is.Regexp(`(?m)^SERVICE\s+REGISTRY\s+POLICY\s+SOURCE\s+REFRESHED\s+STALE\s+SECRETS/CONFIGS$`, table.Stdout()))
}
