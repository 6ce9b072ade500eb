package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// helperDirEnv tells the sandbox credential helper where its state lives.
const helperDirEnv = "SWARMAUTH_SANDBOX_HELPER_DIR"

// Helper is a credential helper program installed for one CLI as
// docker-credential-NAME. The test sets what it answers and how it behaves,
// and reads how often it was called.
type Helper struct {
	Name string
	dir  string
	t    TB
}

func (c *CLI) helperRoot() string { return filepath.Join(c.Dir, "helpers") }

// HelperRoot is the directory the CLI's helpers keep their state in (one
// directory per helper name); a container running a helper can mount it and
// set SWARMAUTH_SANDBOX_HELPER_DIR to it.
func (c *CLI) HelperRoot() string { return c.helperRoot() }

// InstallHelper puts docker-credential-NAME on the CLI's PATH.
func (c *CLI) InstallHelper(name string) *Helper {
	c.t.Helper()
	h := &Helper{Name: name, dir: filepath.Join(c.helperRoot(), name), t: c.t}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	if err := copyFile(c.sb.HelperBinary, filepath.Join(c.Bin, "docker-credential-"+name)); err != nil {
		c.t.Fatal(err)
	}
	return h
}

// SetCredential makes the helper answer server with these credentials, as a
// helper does after it has fetched a new short-lived token.
func (h *Helper) SetCredential(server, user, secret string) {
	h.t.Helper()
	path := filepath.Join(h.dir, "creds.json")
	creds := map[string]map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &creds)
	}
	creds[server] = map[string]string{"Username": user, "Secret": secret}
	b, _ := json.Marshal(creds)
	h.write("creds.json", string(b))
}

// SetDelay makes every call take d.
func (h *Helper) SetDelay(d time.Duration) { h.write("delay", d.String()) }

// SetFailing makes every call fail with msg; "" heals it.
func (h *Helper) SetFailing(msg string) { h.toggle("fail", msg) }

// SetHanging makes every call block until the caller gives up.
func (h *Helper) SetHanging(on bool) {
	msg := ""
	if on {
		msg = "hang"
	}
	h.toggle("hang", msg)
}

// Calls returns one "ACTION SERVER" line per call so far.
func (h *Helper) Calls() []string {
	b, err := os.ReadFile(filepath.Join(h.dir, "calls.log"))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (h *Helper) toggle(file, content string) {
	if content == "" {
		_ = os.Remove(filepath.Join(h.dir, file))
		return
	}
	h.write(file, content)
}

func (h *Helper) write(file, content string) {
	h.t.Helper()
	tmp := filepath.Join(h.dir, file+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(h.dir, file)); err != nil {
		h.t.Fatal(err)
	}
}
