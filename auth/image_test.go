package auth

import (
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

func TestParseImage(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		ref      string
		want     Image
		official bool
	}{
		{"nginx", Image{Registry: "docker.io", Repository: "library/nginx", Reference: "latest"}, true},
		{"nginx:1.27@" + dgst, Image{Registry: "docker.io", Repository: "library/nginx", Reference: dgst}, true},
		{"docker.io/library/redis:7", Image{Registry: "docker.io", Repository: "library/redis", Reference: "7"}, true},
		{"grafana/grafana:11", Image{Registry: "docker.io", Repository: "grafana/grafana", Reference: "11"}, false},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v3", Image{Registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", Repository: "shop/api", Reference: "v3"}, false},
		{"localhost:5000/app", Image{Registry: "localhost:5000", Repository: "app", Reference: "latest"}, false},
		{"registry.gitlab.com/group/sub/project/img@" + dgst, Image{Registry: "registry.gitlab.com", Repository: "group/sub/project/img", Reference: dgst}, false},
	}
	for _, tc := range cases {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := ParseImage(tc.ref)
			assert.NilError(t, err)
			tc.want.Ref = tc.ref
			assert.Check(t, is.DeepEqual(got, tc.want))
			assert.Check(t, is.Equal(got.Official(), tc.official))
		})
	}
}

func TestParseImageInvalid(t *testing.T) {
	_, err := ParseImage("Not A Reference")
	assert.Check(t, is.ErrorContains(err, `invalid image reference "Not A Reference"`))
}

func TestNormalizeRegistry(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io":                     "docker.io",
		"index.docker.io":               "docker.io",
		"https://index.docker.io/v1/":   "docker.io",
		"registry-1.docker.io":          "docker.io",
		"Registry.GitLab.com":           "registry.gitlab.com",
		"https://myregistry.azurecr.io": "myregistry.azurecr.io",
		"10.0.0.5:5000":                 "10.0.0.5:5000",
		"http://10.0.0.5:5000/v2/":      "10.0.0.5:5000",
	} {
		assert.Check(t, is.Equal(NormalizeRegistry(in), want), in)
	}
}
