// Command docker-credential-sandbox is a docker credential helper for the e2e
// tests. Installed under any name docker-credential-NAME, it keeps its state in
// $SWARMAUTH_SANDBOX_HELPER_DIR/NAME, where the test controls it:
//
//	creds.json  server URL -> {"Username", "Secret"}; `store` and `erase` edit it
//	calls.log   one line per call: "ACTION SERVER", appended
//	delay       a Go duration to sleep before answering (a slow helper)
//	fail        if present, fail every call with its text (a broken helper)
//	hang        if present, never answer (a hung helper)
//
// It speaks the docker-credential-helpers protocol on stdin and stdout.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type credential struct {
	ServerURL string `json:",omitempty"`
	Username  string
	Secret    string
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: docker-credential-NAME get|store|erase|list")
		os.Exit(2)
	}
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "docker-credential-")
	dir := filepath.Join(os.Getenv("SWARMAUTH_SANDBOX_HELPER_DIR"), name)
	if err := serve(dir, os.Args[1], os.Stdin, os.Stdout); err != nil {
		// Helpers report errors on stdout; docker shows that text.
		fmt.Fprintln(os.Stdout, err)
		os.Exit(1)
	}
}

func serve(dir, action string, in io.Reader, out io.Writer) error {
	input, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	server := strings.TrimSpace(string(input))
	if action == "store" {
		var c credential
		if err := json.Unmarshal(input, &c); err != nil {
			return err
		}
		server = c.ServerURL
	}
	if err := appendLine(filepath.Join(dir, "calls.log"), action+" "+server); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "hang")); err == nil {
		time.Sleep(24 * time.Hour) // until killed
	}
	if b, err := os.ReadFile(filepath.Join(dir, "delay")); err == nil {
		d, err := time.ParseDuration(strings.TrimSpace(string(b)))
		if err != nil {
			return err
		}
		time.Sleep(d)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "fail")); err == nil {
		return errors.New(strings.TrimSpace(string(b)))
	}

	creds := map[string]credential{}
	path := filepath.Join(dir, "creds.json")
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &creds); err != nil {
			return err
		}
	}
	switch action {
	case "get":
		c, ok := creds[server]
		if !ok {
			return errors.New("credentials not found in native keychain")
		}
		c.ServerURL = server
		return json.NewEncoder(out).Encode(c)
	case "store":
		var c credential
		_ = json.Unmarshal(input, &c)
		creds[server] = credential{Username: c.Username, Secret: c.Secret}
		return writeJSON(path, creds)
	case "erase":
		delete(creds, server)
		return writeJSON(path, creds)
	case "list":
		users := map[string]string{}
		for s, c := range creds {
			users[s] = c.Username
		}
		return json.NewEncoder(out).Encode(users)
	}
	return fmt.Errorf("unknown action %q", action)
}

func appendLine(path, line string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
