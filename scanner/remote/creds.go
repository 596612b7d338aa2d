package remote

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Credential is a user name and a secret for HTTP basic authentication.
type Credential struct {
	User, Password string
	// From names where the credential came from ("GITHUB_TOKEN", "git
	// credential helper"), for messages; it never holds the secret.
	From string
}

// TokenVar is an environment variable holding a token, and the user name
// the host expects beside it ("x-access-token" for GitHub, "oauth2" for
// GitLab).
type TokenVar struct {
	Env, User string
}

// Credentials finds credentials for a repository whose server asked for
// them. It never prompts: a fleet audit runs unattended.
type Credentials struct {
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Hosts maps a host ("github.com", or "host:port") to the token
	// variables that apply to it, first match wins.
	Hosts map[string][]TokenVar
	// Helper, when set, asks git's credential helpers ("git credential
	// fill", terminal prompts disabled) if the git binary is installed.
	// They are only read: nothing is approved or rejected, so the user's
	// credential store is never changed by an audit.
	Helper bool
}

// AnyHostToken is the variable whose token is offered to every host that
// asks for credentials; XAISCAN_GIT_USER names its user (default
// x-access-token).
const AnyHostToken = "XAISCAN_GIT_TOKEN"

// AddHost makes the token in env apply to host.
func (c *Credentials) AddHost(host, env, user string) {
	host = strings.ToLower(host)
	if host == "" {
		return
	}
	if c.Hosts == nil {
		c.Hosts = map[string][]TokenVar{}
	}
	for _, tv := range c.Hosts[host] {
		if tv.Env == env {
			return
		}
	}
	c.Hosts[host] = append(c.Hosts[host], TokenVar{Env: env, User: user})
}

func (c *Credentials) getenv(k string) string {
	if c == nil || c.Getenv == nil {
		return os.Getenv(k)
	}
	return c.Getenv(k)
}

// Lookup returns the credential to offer e's server, in order: the
// XAISCAN_GIT_TOKEN token, a token for e's host, git's credential helpers.
// Credentials are only offered over https, or plain http to a loopback
// address: anything else would send them in clear text.
func (c *Credentials) Lookup(ctx context.Context, e Endpoint) (Credential, bool) {
	if c == nil || !e.isHTTP() || (e.Scheme == "http" && !e.IsLoopback()) {
		return Credential{}, false
	}
	if tok := c.getenv(AnyHostToken); tok != "" {
		user := c.getenv("XAISCAN_GIT_USER")
		if user == "" {
			user = "x-access-token"
		}
		return Credential{User: user, Password: tok, From: AnyHostToken}, true
	}
	for _, host := range []string{e.Host, e.Hostname()} {
		for _, tv := range c.Hosts[host] {
			if tok := c.getenv(tv.Env); tok != "" {
				return Credential{User: tv.User, Password: tok, From: tv.Env}, true
			}
		}
	}
	if c.Helper {
		if cred, ok := helperFill(ctx, e); ok {
			return cred, true
		}
	}
	return Credential{}, false
}

// helperTimeout bounds one `git credential fill`: a helper that waits for
// a person (a GUI prompt) must not hang the audit.
const helperTimeout = 30 * time.Second

// helperFill runs `git credential fill` for e, as git itself would before
// asking a person, with terminal prompts disabled.
func helperFill(ctx context.Context, e Endpoint) (Credential, bool) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return Credential{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gitBin, "credential", "fill")
	cmd.Stdin = strings.NewReader("protocol=" + e.Scheme + "\nhost=" + e.Host + "\npath=" + e.Path + "\n\n")
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	// stderr would hold git's "terminal prompts disabled"; the caller
	// reports the authentication failure itself.
	out, err := cmd.Output()
	if err != nil {
		return Credential{}, false
	}
	var cred Credential
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "username":
			cred.User = v
		case "password":
			cred.Password = v
		}
	}
	if cred.Password == "" {
		return Credential{}, false
	}
	cred.From = "git credential helper"
	return cred, true
}
