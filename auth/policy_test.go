package auth

import (
	"context"
	"errors"
	"testing"

	"gotest.tools/v3/assert"
	is "gotest.tools/v3/assert/cmp"
)

type fakeCreds map[string]Credentials // registry -> credentials; "fail:" Encoded means error

func (f fakeCreds) Get(_ context.Context, host string) (Credentials, error) {
	c, ok := f[host]
	if !ok {
		return Credentials{Registry: host, Source: Source{Kind: SourceFile}}, nil
	}
	if c.Encoded == "fail" {
		return Credentials{Registry: host, Source: c.Source}, errors.New("credential helper docker-credential-x failed: exit status 1")
	}
	return c, nil
}

type fakeProbe map[string]Access // registry/repository -> access; missing: unreachable

func (f fakeProbe) Probe(_ context.Context, img Image) (Access, error) {
	a, ok := f[img.Registry+"/"+img.Repository]
	if !ok {
		return AccessUnknown, errors.New("cannot reach registry " + img.Registry)
	}
	return a, nil
}

func TestPolicyDecide(t *testing.T) {
	helper := Source{Kind: SourceCredHelper, Helper: "ecr-login"}
	creds := fakeCreds{
		"ecr.example":    {Registry: "ecr.example", Source: helper, Encoded: "ZWNy"},
		"docker.io":      {Registry: "docker.io", Source: Source{Kind: SourceFile}, Encoded: "aHVi"},
		"broken.example": {Registry: "broken.example", Source: Source{Kind: SourceCredHelper, Helper: "x"}, Encoded: "fail"},
	}
	probe := fakeProbe{
		"ecr.example/shop/api":      AccessPrivate,
		"docker.io/grafana/grafana": AccessPublic,
		"docker.io/acme/private":    AccessPrivate,
		"nocreds.example/app":       AccessPrivate,
		"broken.example/app":        AccessPrivate,
	}
	cases := []struct {
		mode  Mode
		clear bool
		image string
		want  Decision
	}{
		{ModeAuto, false, "ecr.example/shop/api:v1", Decision{Kind: Attach, Source: helper, Auth: "ZWNy", Access: AccessPrivate}},
		{ModeAuto, false, "nginx:1.27", Decision{Kind: Clear, Auth: EmptyAuth, Access: AccessPublic, Reason: "public image (Docker Hub official)"}},
		{ModeAuto, false, "grafana/grafana:11", Decision{Kind: Clear, Auth: EmptyAuth, Access: AccessPublic, Reason: "public image"}},
		{ModeAuto, false, "acme/private:1", Decision{Kind: Attach, Source: Source{Kind: SourceFile}, Auth: "aHVi", Access: AccessPrivate}},
		{ModeAuto, false, "nocreds.example/app:1", Decision{Kind: Skip, Source: Source{Kind: SourceFile}, Access: AccessPrivate, Reason: "no credentials for nocreds.example in the CLI's store"}},
		{ModeAuto, false, "down.example/app:1", Decision{Kind: Skip, Reason: "cannot tell whether the image is public (cannot reach registry down.example); stored credentials left as they are"}},
		{ModeAuto, false, "broken.example/app:1", Decision{Kind: Fail, Source: Source{Kind: SourceCredHelper, Helper: "x"}, Access: AccessPrivate, Reason: "credential helper docker-credential-x failed: exit status 1"}},
		{ModeAlways, false, "nginx:1.27", Decision{Kind: Attach, Source: Source{Kind: SourceFile}, Auth: "aHVi"}},
		{ModeAlways, false, "down.example/app:1", Decision{Kind: Skip, Source: Source{Kind: SourceFile}, Reason: "no credentials for down.example in the CLI's store"}},
		{ModeNever, false, "ecr.example/shop/api:v1", Decision{Kind: Skip, Reason: "registry auth is never"}},
		{ModeNever, true, "ecr.example/shop/api:v1", Decision{Kind: Clear, Auth: EmptyAuth, Reason: "--clear"}},
	}
	for _, tc := range cases {
		t.Run(string(tc.mode)+" "+tc.image, func(t *testing.T) {
			img, err := ParseImage(tc.image)
			assert.NilError(t, err)
			p := &Policy{Mode: tc.mode, Clear: tc.clear, Creds: creds, Probe: probe}
			assert.Check(t, is.DeepEqual(p.Decide(context.Background(), img), tc.want))
		})
	}
}

// The empty auth is sent only to clear on purpose: never for a registry whose
// store has nothing.
func TestPolicyNeverSendsEmptyAuthByAccident(t *testing.T) {
	img, _ := ParseImage("nocreds.example/app:1")
	for _, mode := range []Mode{ModeAuto, ModeAlways, ModeNever} {
		p := &Policy{Mode: mode, Creds: fakeCreds{}, Probe: fakeProbe{"nocreds.example/app": AccessPrivate}}
		d := p.Decide(context.Background(), img)
		assert.Check(t, d.Auth != EmptyAuth, mode)
		assert.Check(t, is.Equal(d.Kind, Skip), mode)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"auto", "always", "never", "AUTO"} {
		_, err := ParseMode(s)
		assert.Check(t, err, s)
	}
	_, err := ParseMode("sometimes")
	assert.Check(t, is.Error(err, `invalid --registry-auth "sometimes": must be auto, always or never`))
}
