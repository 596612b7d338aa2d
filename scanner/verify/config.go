// Package verify asks xAI whether leaked keys still work.
//
// For an inference API key it calls GET {api}/v1/api-key with the key as a
// bearer token; for a management key, GET
// {mgmt}/auth/management-keys/validation. Each distinct key is checked once
// (results are cached by fingerprint), a bounded number at a time, with a
// per-request timeout and retries on 429 and 5xx that honour Retry-After.
// The answer is one of live, dead or unknown, classified exactly as DESIGN
// §5 says, plus what the response tells about the key's blast radius (its
// name and ACLs). Server answers are untrusted: live and dead are read
// only from an answer of the documented shape (a JSON object, within
// MaxBody, with the deciding fields present and well-typed); anything
// else is unknown with the reason, and every string echoed from an answer
// is cleaned (shortened, control characters escaped, keys redacted).
//
// Keys are sent only to the two configured endpoints, over HTTPS (plain
// HTTP only to a loopback address, for tests and local proxies), redirects
// are never followed, and no key ever appears in an error, a result detail
// or the audit trail.
package verify

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/xaiscan/xaiscan/scanner/audit"
)

// Endpoints and their environment overrides (DESIGN §5).
const (
	DefaultAPIBase  = "https://api.x.ai"
	DefaultMgmtBase = "https://management-api.x.ai"
	EnvAPIBase      = "XAI_API_BASE_URL"
	EnvMgmtBase     = "XAI_MANAGEMENT_API_BASE_URL"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultConcurrency = 4
	// DefaultTimeout bounds one HTTP attempt, body included.
	DefaultTimeout = 10 * time.Second
	// DefaultRetries is how many times a 429 or 5xx is retried.
	DefaultRetries = 3
	// DefaultBackoff is the first wait before a retry when the server sent
	// no Retry-After; it doubles on each retry.
	DefaultBackoff = time.Second
	// DefaultMaxWait caps one wait between attempts. A Retry-After longer
	// than this is not honoured by waiting: the key is left unknown, since
	// a scan should not stall for minutes on one rate-limited key.
	DefaultMaxWait = 30 * time.Second
	// DefaultUserAgent is sent when Config.UserAgent is empty; the CLI sets
	// "xaiscan/<version>".
	DefaultUserAgent = "xaiscan/dev"
)

// Config configures a Verifier (and the revoker, which shares its HTTP
// behaviour). Zero fields take the defaults above.
type Config struct {
	// APIBase is the inference API base URL, without a trailing /v1.
	APIBase string
	// MgmtBase is the Management API base URL.
	MgmtBase string
	// Concurrency is how many requests may be in flight at once.
	Concurrency int
	// Timeout bounds each HTTP attempt.
	Timeout time.Duration
	// Retries is how many times a 429 or 5xx response is retried: 0 means
	// DefaultRetries, a negative value means no retry. Timeouts and
	// connection errors are not retried: a hanging endpoint would otherwise
	// cost Timeout × attempts per key.
	Retries int
	// Backoff is the first wait before a retry without Retry-After.
	Backoff time.Duration
	// MaxWait caps one wait between attempts (see DefaultMaxWait).
	MaxWait time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// HTTPClient sends the requests; nil means a client on
	// http.DefaultTransport. Its CheckRedirect is always replaced: a
	// redirect could carry the key to another host, so none is followed.
	HTTPClient *http.Client
	// Audit receives one entry per key checked; nil means no trail.
	Audit *audit.Log
	// Now is the clock used to read HTTP-date Retry-After values; nil
	// means time.Now.
	Now func() time.Time
}

// ConfigFromEnv returns the default Config with the base URLs taken from
// XAI_API_BASE_URL and XAI_MANAGEMENT_API_BASE_URL when set. It does not
// validate them: New does, with CheckEndpoint.
func ConfigFromEnv() Config {
	cfg := Config{APIBase: DefaultAPIBase, MgmtBase: DefaultMgmtBase}
	if v := strings.TrimSpace(os.Getenv(EnvAPIBase)); v != "" {
		cfg.APIBase = v
	}
	if v := strings.TrimSpace(os.Getenv(EnvMgmtBase)); v != "" {
		cfg.MgmtBase = v
	}
	return cfg
}

// withDefaults returns cfg with every zero field set.
func (cfg Config) withDefaults() Config {
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	if cfg.MgmtBase == "" {
		cfg.MgmtBase = DefaultMgmtBase
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	cfg.MgmtBase = strings.TrimRight(cfg.MgmtBase, "/")
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Copy the caller's client so replacing CheckRedirect does not change
	// it for its other users.
	var client http.Client
	if cfg.HTTPClient != nil {
		client = *cfg.HTTPClient
	}
	client.CheckRedirect = noRedirects
	cfg.HTTPClient = &client
	return cfg
}

// noRedirects makes the client return a 3xx response as is. Go strips
// Authorization when a redirect leaves the host, but a redirect to another
// path or port of the same host could still reach something that is not
// the configured endpoint; xAI's endpoints do not redirect, so a 3xx is
// simply an unexpected answer (unknown).
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CheckEndpoint reports whether base may receive keys: an absolute https
// URL, or http to a loopback address (127.0.0.0/8, ::1, localhost) for
// tests and local proxies. It also refuses a query or fragment, which would
// break the endpoint paths appended to base.
func CheckEndpoint(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", base, err)
	}
	if u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("endpoint %q: want an absolute https:// URL such as %s", base, DefaultAPIBase)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("endpoint %q: must not have a query or fragment", base)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("endpoint %q: keys are only sent over https; plain http is allowed only to a loopback address (127.0.0.1, ::1, localhost)", base)
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errNoKey is the reason given for findings whose full key is not known
// (a JSON report written without --show-secrets).
var errNoKey = errors.New("the full key is not known (the report was written without --show-secrets)")
