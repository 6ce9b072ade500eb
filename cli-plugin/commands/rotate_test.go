package commands

import (
	"strings"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestGenerate(t *testing.T) {
	for charset, chars := range charsets {
		v, err := generate(64, charset)
		assert.NilError(t, err)
		assert.Check(t, is.Len(v, 64))
		for _, c := range string(v) {
			assert.Check(t, strings.ContainsRune(chars, c), "%s: %q", charset, c)
		}
	}
	a, _ := generate(32, "alnum")
	b, _ := generate(32, "alnum")
	assert.Check(t, string(a) != string(b))

	_, err := generate(32, "emoji")
	assert.Check(t, is.ErrorContains(err, `invalid --charset "emoji"`))
	_, err = generate(4, "hex")
	assert.Check(t, is.ErrorContains(err, "invalid --length 4"))
}
