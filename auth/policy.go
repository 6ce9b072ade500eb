package auth

import (
	"context"
	"fmt"
	"strings"
)

// Mode is the --registry-auth policy.
type Mode string

const (
	// ModeAuto attaches credentials to private images and clears them from
	// public ones.
	ModeAuto Mode = "auto"
	// ModeAlways attaches credentials whenever the store has them.
	ModeAlways Mode = "always"
	// ModeNever attaches nothing (and, with Clear, removes what is stored).
	ModeNever Mode = "never"
)

// ParseMode validates a --registry-auth value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case ModeAuto, ModeAlways, ModeNever:
		return m, nil
	}
	return "", fmt.Errorf("invalid --registry-auth %q: must be auto, always or never", s)
}

// EmptyAuth is X-Registry-Auth for "no credentials": base64 of {}. It is not
// an empty header (which keeps what is stored): it replaces stored
// credentials with none. Only a Clear decision sends it.
const EmptyAuth = "e30="

// Kind is what a Decision does to a service's stored credentials.
type Kind string

const (
	Attach Kind = "attach" // store the registry's credentials
	Clear  Kind = "clear"  // store none (EmptyAuth)
	Skip   Kind = "skip"   // leave the service alone
	Fail   Kind = "fail"   // leave it alone, and report an error
)

// Decision is the policy's verdict for one image.
type Decision struct {
	Kind   Kind
	Reason string // why, for skip, clear and fail
	Source Source // where the credentials came from, when looked up
	Auth   string // X-Registry-Auth to send for Attach and Clear
	Access Access // what the anonymous probe found, under auto
}

// Credentials and anonymous access, as the policy needs them; CredentialStore
// and Prober implement these, tests pass fakes.
type (
	CredentialGetter interface {
		Get(ctx context.Context, registryHost string) (Credentials, error)
	}
	AccessProber interface {
		Probe(ctx context.Context, img Image) (Access, error)
	}
)

// Policy decides, per image, which credentials a service gets. refresh and
// stack deploy share it.
type Policy struct {
	Mode  Mode
	Clear bool // with ModeNever: remove stored credentials
	Creds CredentialGetter
	Probe AccessProber
}

// Decide returns what to do for a service running img.
func (p *Policy) Decide(ctx context.Context, img Image) Decision {
	switch p.Mode {
	case ModeNever:
		if p.Clear {
			return Decision{Kind: Clear, Auth: EmptyAuth, Reason: "--clear"}
		}
		return Decision{Kind: Skip, Reason: "registry auth is never"}
	case ModeAlways:
		return p.attach(ctx, img)
	}
	if img.Official() {
		return Decision{Kind: Clear, Auth: EmptyAuth, Access: AccessPublic, Reason: "public image (Docker Hub official)"}
	}
	access, err := p.Probe.Probe(ctx, img)
	switch access {
	case AccessPublic:
		return Decision{Kind: Clear, Auth: EmptyAuth, Access: access, Reason: "public image"}
	case AccessPrivate:
		d := p.attach(ctx, img)
		d.Access = access
		return d
	}
	return Decision{Kind: Skip, Access: access, Reason: fmt.Sprintf("cannot tell whether the image is public (%v); stored credentials left as they are", err)}
}

func (p *Policy) attach(ctx context.Context, img Image) Decision {
	creds, err := p.Creds.Get(ctx, img.Registry)
	if err != nil {
		return Decision{Kind: Fail, Source: creds.Source, Reason: err.Error()}
	}
	if !creds.Found() {
		return Decision{Kind: Skip, Source: creds.Source, Reason: "no credentials for " + img.Registry + " in the CLI's store"}
	}
	return Decision{Kind: Attach, Source: creds.Source, Auth: creds.Encoded}
}
