package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func call(t *testing.T, dir, action, input string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := serve(dir, action, strings.NewReader(input), &out)
	return out.String(), err
}

func TestHelperProtocol(t *testing.T) {
	dir := t.TempDir()
	_, err := call(t, dir, "get", "reg.example:5000\n")
	assert.Check(t, is.ErrorContains(err, "credentials not found"))

	_, err = call(t, dir, "store", `{"ServerURL":"reg.example:5000","Username":"u","Secret":"s"}`)
	assert.NilError(t, err)
	out, err := call(t, dir, "get", "reg.example:5000\n")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(out, `{"ServerURL":"reg.example:5000","Username":"u","Secret":"s"}`+"\n"))

	out, err = call(t, dir, "list", "")
	assert.NilError(t, err)
	assert.Check(t, is.Equal(out, `{"reg.example:5000":"u"}`+"\n"))

	_, err = call(t, dir, "erase", "reg.example:5000")
	assert.NilError(t, err)
	_, err = call(t, dir, "get", "reg.example:5000")
	assert.Check(t, is.ErrorContains(err, "credentials not found"))

	calls, err := os.ReadFile(filepath.Join(dir, "calls.log"))
	assert.NilError(t, err)
	assert.Check(t, is.Equal(string(calls), "get reg.example:5000\nstore reg.example:5000\nget reg.example:5000\nlist \nerase reg.example:5000\nget reg.example:5000\n"))
}

func TestHelperFails(t *testing.T) {
	dir := t.TempDir()
	assert.NilError(t, os.WriteFile(filepath.Join(dir, "fail"), []byte("token service unavailable\n"), 0o600))
	_, err := call(t, dir, "get", "reg.example")
	assert.Check(t, is.Error(err, "token service unavailable"))
}
