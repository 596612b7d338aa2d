// Package remote clones repositories named by URL into temporary
// directories with go-git, so the history scanner can read them like any
// local repository; the git binary is never needed.
//
// A clone is mirror-like: every ref the server advertises (branches, tags,
// notes, refs/pull/* and the like) is fetched, since a key on a pull
// request's head is as exposed as one on main. Credentials come from the
// URL's user information, an environment token for the host, or git's
// credential helpers; they are handed to go-git as an auth method, never
// as part of a URL, so no error or report can repeat them (see Endpoint).
package remote

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
)

// Endpoint is a repository URL taken apart: what go-git is given, what
// reports show, and the credentials the URL carried, kept apart from both.
type Endpoint struct {
	// URL is what go-git clones: the URL without a password or token
	// (an ssh user name stays, it is not a secret).
	URL string
	// Label names the repository in reports and messages: URL with all
	// credentials stripped and key-shaped text redacted.
	Label string
	// Scheme is "https", "http", "ssh", "git" or "file"; scp-like
	// addresses (git@host:path) are "ssh".
	Scheme string
	// Host is the lower-cased host and, when given, ":port".
	Host string
	// Path is the repository path on the host, without a leading slash.
	Path string

	user, password string
}

// HasCredentials reports whether the URL carried a password or a token.
func (e Endpoint) HasCredentials() bool { return e.password != "" || (e.user != "" && e.isHTTP()) }

func (e Endpoint) isHTTP() bool { return e.Scheme == "http" || e.Scheme == "https" }

// String returns the label, so an Endpoint printed by mistake shows no
// credentials.
func (e Endpoint) String() string { return e.Label }

// schemes are the URL schemes go-git can clone from.
var schemes = map[string]bool{"https": true, "http": true, "ssh": true, "git": true, "file": true}

// IsURL reports whether s names a remote repository rather than a local
// path: scheme://..., or git's scp-like [user@]host:path, where a colon
// comes before any slash (as git decides; "C:\x" is a drive letter).
func IsURL(s string) bool {
	if i := strings.Index(s, "://"); i > 0 {
		return true
	}
	return isSCPLike(s)
}

func isSCPLike(s string) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 {
		return false
	}
	if slash := strings.IndexAny(s, `/\`); slash >= 0 && slash < colon {
		return false
	}
	host := s[:colon]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	// A single letter before the colon is a Windows drive, as in git.
	return len(host) > 1
}

// Parse takes a repository URL apart. It accepts https://, http://,
// ssh://, git://, file:// and scp-like addresses; anything else, and any
// URL holding control characters or spaces, is an error whose message
// shows the URL without its credentials.
func Parse(s string) (Endpoint, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == ' ' }) {
		return Endpoint{}, fmt.Errorf("repository URL %q holds spaces or control characters", stripUserinfo(s))
	}
	if !strings.Contains(s, "://") && isSCPLike(s) {
		return parseSCP(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("repository URL %q: cannot parse it", stripUserinfo(s))
	}
	scheme := strings.ToLower(u.Scheme)
	if !schemes[scheme] {
		return Endpoint{}, fmt.Errorf("repository URL %s: unsupported scheme %q (want https, http, ssh, git or file)", stripUserinfo(s), u.Scheme)
	}
	if scheme != "file" && u.Host == "" {
		return Endpoint{}, fmt.Errorf("repository URL %s: no host", stripUserinfo(s))
	}
	e := Endpoint{Scheme: scheme, Host: strings.ToLower(u.Host), Path: strings.TrimPrefix(u.Path, "/")}
	if u.User != nil {
		e.user = u.User.Username()
		e.password, _ = u.User.Password()
	}
	clean := *u
	clean.Scheme = scheme
	clean.User = nil
	if scheme == "ssh" && e.user != "" {
		// An ssh user name ("git") selects the account, it is no secret;
		// a password in an ssh URL is dropped like any other.
		clean.User = url.User(e.user)
	}
	e.URL = clean.String()
	e.Label = RedactKeys(e.URL)
	return e, nil
}

// parseSCP handles git's [user@]host:path form, which is ssh.
func parseSCP(s string) (Endpoint, error) {
	colon := strings.IndexByte(s, ':')
	userHost, path := s[:colon], s[colon+1:]
	e := Endpoint{Scheme: "ssh", Path: strings.TrimPrefix(path, "/")}
	host := userHost
	if at := strings.LastIndexByte(userHost, '@'); at >= 0 {
		e.user, host = userHost[:at], userHost[at+1:]
	}
	if host == "" || path == "" {
		return Endpoint{}, fmt.Errorf("repository address %q: want [user@]host:path", stripUserinfo(s))
	}
	e.Host = strings.ToLower(host)
	prefix := ""
	if e.user != "" {
		prefix = e.user + "@"
	}
	e.URL = prefix + host + ":" + path
	e.Label = RedactKeys(e.URL)
	return e, nil
}

// Hostname is Host without its port.
func (e Endpoint) Hostname() string {
	if h, _, err := net.SplitHostPort(e.Host); err == nil {
		return h
	}
	return strings.Trim(e.Host, "[]")
}

// IsLoopback reports whether the host is a loopback address or localhost.
func (e Endpoint) IsLoopback() bool { return IsLoopbackHost(e.Hostname()) }

// IsLoopbackHost reports whether host (no port) is localhost or a
// loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// stripUserinfo removes "user:password@" from a URL-like string without
// parsing it, for messages about URLs that could not be parsed.
func stripUserinfo(s string) string {
	rest := s
	prefix := ""
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	} else {
		return RedactKeys(s)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return RedactKeys(prefix + rest)
}

// RedactKeys replaces key-shaped text (DESIGN §4: a key in any name is
// redacted like a finding).
func RedactKeys(s string) string {
	if !strings.Contains(s, rules.Prefix) {
		return s
	}
	ms := rules.FindAll([]byte(s))
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(rules.Redact(s[m.Start:m.End]))
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}
