package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/docker/cli/cli/config/configfile"
	clitypes "github.com/docker/cli/cli/config/types"
	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
)

// Source says where a registry's credentials came from.
type Source struct {
	Kind   string // SourceFile, SourceCredsStore, SourceCredHelper or SourceEnv
	Helper string // the helper's name, for credsStore and credHelpers
}

// Where credentials can come from, in the CLI's order of precedence.
const (
	SourceEnv        = "env"        // DOCKER_AUTH_CONFIG
	SourceCredHelper = "credHelper" // credHelpers[registry]
	SourceCredsStore = "credsStore" // the default helper
	SourceFile       = "file"       // auths in config.json
)

func (s Source) String() string {
	if s.Helper != "" {
		return s.Kind + ":" + s.Helper
	}
	return s.Kind
}

// Credentials are one registry's credentials, ready for X-Registry-Auth.
// Encoded is empty when the store has none; it never holds an empty auth.
type Credentials struct {
	Registry string
	Source   Source
	Encoded  string
}

// Found reports whether the store had credentials for the registry.
func (c Credentials) Found() bool { return c.Encoded != "" }

// CredentialStore is the docker CLI's credential store, read the way the CLI
// reads it (credHelpers, then credsStore, then auths; Docker Hub under its
// historical key), with two differences that matter to a tool that runs
// unattended: each registry is asked once per Store, however many services use
// it, and a helper that does not answer within the time limit is killed.
type CredentialStore struct {
	cfg     *configfile.ConfigFile
	timeout time.Duration
	getenv  func(string) string
	// helperCommand makes the command for a helper; tests replace it.
	helperCommand func(ctx context.Context, name string, args ...string) *exec.Cmd
	// OnHelperCall, when set, is told of every helper call (for metrics).
	OnHelperCall func(helper string, took time.Duration, err error)

	once onceByKey[Credentials]
}

// NewCredentialStore reads credentials from cfg; helperTimeout bounds each
// helper call.
func NewCredentialStore(cfg *configfile.ConfigFile, helperTimeout time.Duration) *CredentialStore {
	return &CredentialStore{
		cfg:           cfg,
		timeout:       helperTimeout,
		getenv:        os.Getenv,
		helperCommand: exec.CommandContext,
	}
}

// Get returns the registry's credentials. Concurrent and later calls for the
// same registry share the first call's answer.
func (s *CredentialStore) Get(ctx context.Context, registryHost string) (Credentials, error) {
	return s.once.do(ctx, registryHost, func() (Credentials, error) { return s.fetch(ctx, registryHost) })
}

// configKey is where the CLI keeps a registry's credentials.
func configKey(registryHost string) string {
	if registryHost == dockerHub {
		return "https://index.docker.io/v1/"
	}
	return registryHost
}

func (s *CredentialStore) fetch(ctx context.Context, registryHost string) (Credentials, error) {
	key := configKey(registryHost)
	creds := Credentials{Registry: registryHost}
	var ac clitypes.AuthConfig
	var err error
	helper := s.cfg.CredentialHelpers[key]
	switch {
	case s.getenv(configfile.DockerEnvConfigKey) != "":
		// DOCKER_AUTH_CONFIG overrides the stores; the CLI resolves it.
		creds.Source = Source{Kind: SourceEnv}
		ac, err = s.cfg.GetAuthConfig(registryHost)
	case helper != "":
		creds.Source = Source{Kind: SourceCredHelper, Helper: helper}
		ac, err = s.fromHelper(ctx, helper, key)
	case s.cfg.CredentialsStore != "":
		creds.Source = Source{Kind: SourceCredsStore, Helper: s.cfg.CredentialsStore}
		ac, err = s.fromHelper(ctx, s.cfg.CredentialsStore, key)
	default:
		creds.Source = Source{Kind: SourceFile}
		ac, err = s.cfg.GetAuthConfig(registryHost)
	}
	if err != nil {
		return creds, err
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return creds, nil // nothing stored: never encode an empty auth
	}
	creds.Encoded, err = authconfig.Encode(registry.AuthConfig{
		Username:      ac.Username,
		Password:      ac.Password,
		Auth:          ac.Auth,
		ServerAddress: ac.ServerAddress,
		IdentityToken: ac.IdentityToken,
		RegistryToken: ac.RegistryToken,
	})
	return creds, err
}

// tokenUsername is the username helpers return with an identity token.
const tokenUsername = "<token>"

// fromHelper asks docker-credential-NAME for serverURL. Errors name the helper
// and say how it failed, never what it printed: its output may hold a secret.
func (s *CredentialStore) fromHelper(parent context.Context, name, serverURL string) (clitypes.AuthConfig, error) {
	ctx, cancel := context.WithTimeout(parent, s.timeout)
	defer cancel()
	prog := &helperProgram{ctx: ctx, name: "docker-credential-" + name, command: s.helperCommand}
	start := time.Now()
	c, err := client.Get(prog.run, serverURL)
	if s.OnHelperCall != nil {
		callErr := err
		if credentials.IsErrCredentialsNotFound(err) {
			callErr = nil
		}
		s.OnHelperCall(name, time.Since(start), callErr)
	}
	switch {
	case err == nil:
	case credentials.IsErrCredentialsNotFound(err):
		return clitypes.AuthConfig{}, nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil:
		return clitypes.AuthConfig{}, fmt.Errorf("credential helper %s did not answer within %s", prog.name, s.timeout)
	case parent.Err() != nil:
		return clitypes.AuthConfig{}, parent.Err()
	case prog.err != nil:
		return clitypes.AuthConfig{}, fmt.Errorf("credential helper %s failed: %w", prog.name, prog.err)
	default:
		return clitypes.AuthConfig{}, fmt.Errorf("credential helper %s returned malformed output", prog.name)
	}
	ac := clitypes.AuthConfig{ServerAddress: serverURL}
	if c.Username == tokenUsername {
		ac.IdentityToken = c.Secret
	} else {
		ac.Username, ac.Password = c.Username, c.Secret
	}
	return ac, nil
}

// helperProgram runs a helper under a context, so that a hung helper is killed,
// and keeps the process error apart from the output.
type helperProgram struct {
	ctx     context.Context
	name    string
	command func(ctx context.Context, name string, args ...string) *exec.Cmd
	args    []string
	input   io.Reader
	err     error
}

func (p *helperProgram) run(args ...string) client.Program {
	p.args = args
	return p
}

func (p *helperProgram) Input(in io.Reader) { p.input = in }

func (p *helperProgram) Output() ([]byte, error) {
	cmd := p.command(p.ctx, p.name, p.args...)
	var out bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = p.input, &out, nil
	// A helper's own children may keep stdout open after it is killed.
	cmd.WaitDelay = time.Second
	p.err = cmd.Run()
	return out.Bytes(), p.err
}
