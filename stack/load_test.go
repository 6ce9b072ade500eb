package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func files(t *testing.T, content map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "project")
	assert.NilError(t, os.MkdirAll(dir, 0o700))
	for name, c := range content {
		assert.NilError(t, os.WriteFile(filepath.Join(dir, name), []byte(c), 0o600))
	}
	return dir
}

func TestLoadMergesFilesEnvAndProfiles(t *testing.T) {
	dir := files(t, map[string]string{
		"compose.yml": `
name: from-file
services:
  web:
    image: registry.example/web:${TAG:-dev}
    environment:
      LEVEL: ${LEVEL}
  debug:
    image: busybox
    profiles: [debug]
`,
		"compose.prod.yml": `
services:
  web:
    deploy:
      replicas: 3
`,
		".env":     "TAG=1.2\nLEVEL=from-dotenv\n",
		"prod.env": "LEVEL=from-env-file\n",
	})
	p, warnings, err := Load(context.Background(), LoadOptions{
		Files: []string{filepath.Join(dir, "compose.yml"), filepath.Join(dir, "compose.prod.yml")},
		Name:  "shop",
	})
	assert.NilError(t, err)
	assert.Check(t, is.Len(warnings, 0))
	assert.Check(t, is.Equal(p.Name, "shop"), "the argument wins over name:")
	web := p.Services["web"]
	assert.Check(t, is.Equal(web.Image, "registry.example/web:1.2"))
	assert.Check(t, is.Equal(*web.Environment["LEVEL"], "from-dotenv"))
	assert.Check(t, is.Equal(*web.Deploy.Replicas, 3), "later files override earlier ones")
	_, hasDebug := p.Services["debug"]
	assert.Check(t, !hasDebug, "profiled services stay out unless enabled")

	p, _, err = Load(context.Background(), LoadOptions{
		Files:    []string{filepath.Join(dir, "compose.yml")},
		EnvFiles: []string{filepath.Join(dir, "prod.env")},
		Profiles: []string{"debug"},
	})
	assert.NilError(t, err)
	assert.Check(t, is.Equal(p.Name, "from-file"), "top-level name without an argument")
	assert.Check(t, is.Equal(*p.Services["web"].Environment["LEVEL"], "from-env-file"))
	_, hasDebug = p.Services["debug"]
	assert.Check(t, hasDebug)
}

func TestLoadNeedsAName(t *testing.T) {
	dir := files(t, map[string]string{"compose.yml": "services:\n  web:\n    image: nginx\n"})
	_, _, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yml")}})
	assert.Check(t, is.ErrorContains(err, "a stack name is required"))
}

func TestLoadExtensionAndWarnings(t *testing.T) {
	dir := files(t, map[string]string{"compose.yml": `
services:
  web:
    image: nginx
    container_name: web1
    privileged: true
    network_mode: host
    x-swarmauth:
      registry-auth: never
`})
	p, warnings, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yml")}, Name: "s"})
	assert.NilError(t, err)
	assert.Check(t, is.DeepEqual(warnings, []string{"Ignoring unsupported options: container_name, network_mode, privileged"}))
	res, err := Convert(p, "s")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(res.Services[0].RegistryAuth, "never"))
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	dir := files(t, map[string]string{"compose.yml": "services:\n  web:\n    image: nginx\n    x-swarmauth:\n      registry-auth: maybe\n"})
	_, _, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yml")}, Name: "s"})
	assert.Check(t, is.Error(err, `compose.yml: services.web.x-swarmauth.registry-auth: must be auto, always or never, not "maybe"`))

	_, _, err = Load(context.Background(), LoadOptions{Name: "s"})
	assert.Check(t, is.ErrorContains(err, "please specify a Compose file"))
}

func TestLoadIncludeExtendsAnchors(t *testing.T) {
	dir := files(t, map[string]string{
		"compose.yml": `
include:
  - db.yml
x-common: &common
  environment:
    REGION: eu
services:
  web:
    <<: *common
    extends:
      file: base.yml
      service: base
    image: registry.example/web:1
`,
		"base.yml": "services:\n  base:\n    image: ignored\n    user: \"1000\"\n    deploy:\n      replicas: 2\n",
		"db.yml":   "services:\n  db:\n    image: postgres:16\n",
	})
	p, _, err := Load(context.Background(), LoadOptions{Files: []string{filepath.Join(dir, "compose.yml")}, Name: "s"})
	assert.NilError(t, err)
	web := p.Services["web"]
	assert.Check(t, is.Equal(web.Image, "registry.example/web:1"))
	assert.Check(t, is.Equal(web.User, "1000"), "extends")
	assert.Check(t, is.Equal(*web.Deploy.Replicas, 2), "extends")
	assert.Check(t, is.Equal(*web.Environment["REGION"], "eu"), "anchors")
	assert.Check(t, is.Equal(p.Services["db"].Image, "postgres:16"), "include")
}
