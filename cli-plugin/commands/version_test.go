package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/moby/moby/client"
	"github.com/swarmauth/swarmauth/internal/buildinfo"
	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
	"gotest.tools/v3/golden"
)

type fakeVersionClient struct {
	serverVersion func() (client.ServerVersionResult, error)
}

func (fakeVersionClient) ClientVersion() string { return "1.52" }

func (f fakeVersionClient) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return f.serverVersion()
}

var engine2010 = fakeVersionClient{serverVersion: func() (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Version: "20.10.24+dfsg1", APIVersion: "1.41", MinAPIVersion: "1.12"}, nil
}}

func withVersion(t *testing.T, v string) {
	old := buildinfo.Version
	buildinfo.Version = v
	t.Cleanup(func() { buildinfo.Version = old })
}

func TestVersionTable(t *testing.T) {
	withVersion(t, "v0.0.0-test")
	var out bytes.Buffer
	assert.NilError(t, writeVersion(context.Background(), &out, engine2010, "prod", ""))
	// The Go version differs between toolchains; the golden file has a marker.
	golden.Assert(t, strings.Replace(out.String(), runtime.Version(), "GOVERSION", 1), "version.golden")
}

func TestVersionJSON(t *testing.T) {
	withVersion(t, "v0.0.0-test")
	var out bytes.Buffer
	assert.NilError(t, writeVersion(context.Background(), &out, engine2010, "default", "json"))
	var got map[string]string
	assert.NilError(t, json.Unmarshal(out.Bytes(), &got))
	assert.DeepEqual(t, got, map[string]string{
		"Version":             "v0.0.0-test",
		"GoVersion":           runtime.Version(),
		"Context":             "default",
		"ClientAPIVersion":    "1.52",
		"EngineVersion":       "20.10.24+dfsg1",
		"EngineAPIVersion":    "1.41",
		"EngineMinAPIVersion": "1.12",
	})
}

func TestVersionTemplate(t *testing.T) {
	var out bytes.Buffer
	assert.NilError(t, writeVersion(context.Background(), &out, engine2010, "default", "{{.EngineAPIVersion}}"))
	assert.Check(t, is.Equal(out.String(), "1.41\n"))
}

func TestVersionBadTemplate(t *testing.T) {
	var out bytes.Buffer
	err := writeVersion(context.Background(), &out, engine2010, "default", "{{.Nope")
	assert.Check(t, is.ErrorContains(err, "template parsing error"))
	assert.Check(t, is.Equal(out.String(), ""))
}

// With no Engine, the plugin's own version still prints and the error says why.
func TestVersionEngineUnreachable(t *testing.T) {
	withVersion(t, "v0.0.0-test")
	down := fakeVersionClient{serverVersion: func() (client.ServerVersionResult, error) {
		return client.ServerVersionResult{}, errors.New("Cannot connect to the Docker daemon at unix:///nope.sock")
	}}
	var out bytes.Buffer
	err := writeVersion(context.Background(), &out, down, "default", "{{.Version}} {{.EngineAPIVersion}}")
	assert.Check(t, is.ErrorContains(err, "Cannot connect"))
	assert.Check(t, is.Equal(out.String(), "v0.0.0-test \n"))
}
