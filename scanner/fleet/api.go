package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/xaiscan/xaiscan/scanner/remote"
	"github.com/xaiscan/xaiscan/scanner/retryafter"
)

// Listed is a repository as a hosting API lists it.
type Listed struct {
	// Name is the full name ("org/repo", "group/sub/project").
	Name string
	// CloneURL is the https clone URL.
	CloneURL string
	// Fork and Archived are the host's flags.
	Fork, Archived bool
}

// API is what the GitHub and GitLab listers share: the base URL, the
// token, and the HTTP behaviour (retries, bounded rate-limit waits).
type API struct {
	// Base is the API root, e.g. https://api.github.com or
	// https://gitlab.example.com/api/v4.
	Base string
	// Token authenticates the requests; empty lists public repositories
	// only. It is sent only over https or to a loopback address.
	Token string
	// TokenName names the token's variable in messages ("GITHUB_TOKEN").
	TokenName string
	// Client makes the requests; nil means a client with a 60s timeout.
	Client *http.Client
	// MaxWait bounds one wait for a rate limit or a retry; a server that
	// asks for longer fails the listing at once. 0 means 60 seconds.
	MaxWait time.Duration
	// Retries bounds the retries of one request; 0 means 5.
	Retries int
	// MaxPages bounds a listing; 0 means 1000 pages.
	MaxPages int
}

// pager fetches the pages of a listing.
type pager struct {
	api    API
	base   *url.URL
	client *http.Client
	header func(http.Header)
	next   func(resp *http.Response, cur *url.URL) string
}

func (a API) newPager(header func(http.Header), next func(*http.Response, *url.URL) string) (*pager, error) {
	base, err := url.Parse(strings.TrimSuffix(a.Base, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, fmt.Errorf("API URL %q: want an http(s) URL", a.Base)
	}
	if a.Token != "" && base.Scheme == "http" && !remote.IsLoopbackHost(base.Hostname()) {
		return nil, fmt.Errorf("refusing to send %s over plain http to %s (use https)", a.TokenName, base.Host)
	}
	if a.MaxWait <= 0 {
		a.MaxWait = time.Minute
	}
	if a.Retries <= 0 {
		a.Retries = 5
	}
	if a.MaxPages <= 0 {
		a.MaxPages = 1000
	}
	c := a.Client
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	return &pager{api: a, base: base, client: c, header: header, next: next}, nil
}

// endpoint is base + path with query.
func (p *pager) endpoint(path string, q url.Values) *url.URL {
	u := *p.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	if strings.Contains(path, "%") {
		// Path segments escaped by the caller (GitLab's "group%2Fsub")
		// must reach the server as written.
		u.RawPath = strings.TrimSuffix(p.base.EscapedPath(), "/") + path
		u.Path, _ = url.PathUnescape(u.RawPath)
	}
	u.RawQuery = q.Encode()
	return &u
}

// each calls page with the body of every page, following p.next.
func (p *pager) each(ctx context.Context, first *url.URL, page func([]byte) error) error {
	u := first
	for n := 1; ; n++ {
		body, resp, err := p.get(ctx, u)
		if err != nil {
			return err
		}
		if err := page(body); err != nil {
			return fmt.Errorf("GET %s: %w", where(u), err)
		}
		next := p.next(resp, u)
		if next == "" {
			return nil
		}
		if n >= p.api.MaxPages {
			return fmt.Errorf("GET %s: more than %d pages; stopping", where(first), p.api.MaxPages)
		}
		nu, err := u.Parse(next)
		if err != nil {
			return fmt.Errorf("GET %s: bad next-page link: %w", where(u), err)
		}
		// The token goes to the API's own origin only, wherever a link
		// points.
		if nu.Scheme != p.base.Scheme || !strings.EqualFold(nu.Host, p.base.Host) {
			return fmt.Errorf("GET %s: next-page link leaves the API (%s://%s); refusing to follow it", where(u), nu.Scheme, nu.Host)
		}
		u = nu
	}
}

// where names a request in messages: the URL with only its page number
// kept from the query (the fixed parameters are noise, and their '&' is
// escaped in JSON reports).
func where(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	if p := u.Query().Get("page"); p != "" {
		c.RawQuery = "page=" + url.QueryEscape(p)
	}
	return c.String()
}

// transportErr strips the URL that net/http repeats in its errors: the
// caller names the request itself.
func transportErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// maxBody bounds one page's size.
const maxBody = 64 << 20

// get fetches u, waiting out rate limits and retrying transient failures
// within the bounds of p.api.
func (p *pager) get(ctx context.Context, u *url.URL) ([]byte, *http.Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, nil, err
		}
		p.header(req.Header)
		resp, err := p.client.Do(req)
		if err != nil {
			if ctx.Err() != nil || attempt >= p.api.Retries {
				return nil, nil, fmt.Errorf("GET %s: %w", where(u), transportErr(err))
			}
			if err := p.wait(ctx, u, backoff(attempt), "a failed request"); err != nil {
				return nil, nil, err
			}
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("GET %s: reading the response: %w", where(u), err)
		}
		if resp.StatusCode == http.StatusOK {
			return body, resp, nil
		}
		d, retry, why := p.retryAfter(resp, attempt)
		if !retry {
			return nil, resp, p.statusError(u, resp, body)
		}
		if attempt >= p.api.Retries {
			return nil, resp, fmt.Errorf("GET %s: %s, still after %d retries", where(u), why, p.api.Retries)
		}
		if err := p.wait(ctx, u, d, why); err != nil {
			return nil, resp, err
		}
	}
}

// retryAfter decides whether a failed response is worth retrying and how
// long to wait first: Retry-After (seconds or a date), else the
// rate-limit reset time (GitHub's X-RateLimit-Reset, GitLab's
// RateLimit-Reset), else an exponential backoff.
func (p *pager) retryAfter(resp *http.Response, attempt int) (time.Duration, bool, string) {
	h := resp.Header
	limited := resp.StatusCode == http.StatusTooManyRequests ||
		(resp.StatusCode == http.StatusForbidden && (h.Get("Retry-After") != "" ||
			h.Get("X-RateLimit-Remaining") == "0" || h.Get("RateLimit-Remaining") == "0"))
	switch {
	case limited:
		if d, ok := retryafter.Parse(h.Get("Retry-After"), time.Now()); ok {
			return d, true, "rate limited"
		}
		for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
			if sec, err := strconv.ParseInt(h.Get(k), 10, 64); err == nil {
				d := time.Until(time.Unix(sec, 0))
				return max(d, time.Second), true, "rate limited"
			}
		}
		return backoff(attempt), true, "rate limited"
	case resp.StatusCode >= 500:
		if d, ok := retryafter.Parse(h.Get("Retry-After"), time.Now()); ok {
			return d, true, resp.Status
		}
		return backoff(attempt), true, resp.Status
	}
	return 0, false, ""
}

func backoff(attempt int) time.Duration { return time.Second << min(attempt, 6) }

// wait sleeps d unless it exceeds the bound, in which case the listing
// fails now with a message saying what to do.
func (p *pager) wait(ctx context.Context, u *url.URL, d time.Duration, why string) error {
	if d > p.api.MaxWait {
		hint := ""
		if p.api.Token == "" && p.api.TokenName != "" {
			hint = "; set " + p.api.TokenName + " for a higher limit"
		}
		return fmt.Errorf("GET %s: %s: the server asks to wait %s, more than the %s xaiscan waits%s",
			where(u), why, d.Round(time.Second), p.api.MaxWait, hint)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// statusError describes a failed request with the API's own message.
func (p *pager) statusError(u *url.URL, resp *http.Response, body []byte) error {
	var msg struct {
		Message any    `json:"message"`
		Error   string `json:"error"`
	}
	detail := ""
	if json.Unmarshal(body, &msg) == nil {
		switch {
		case msg.Message != nil:
			detail = fmt.Sprint(msg.Message)
		case msg.Error != "":
			detail = msg.Error
		}
	}
	if detail != "" {
		detail = ": " + remote.RedactKeys(truncate(strings.Join(strings.Fields(detail), " "), 200))
	}
	hint := ""
	if (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound) && p.api.Token == "" && p.api.TokenName != "" {
		hint = " (private repositories need " + p.api.TokenName + ")"
	}
	return &StatusError{Code: resp.StatusCode, msg: fmt.Sprintf("GET %s: %s%s%s", where(u), resp.Status, detail, hint)}
}

// StatusError is an API request that failed with an HTTP status.
type StatusError struct {
	Code int
	msg  string
}

func (e *StatusError) Error() string { return e.msg }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// linkNext returns the rel="next" target of an RFC 8288 Link header.
func linkNext(h http.Header) string {
	for _, v := range h.Values("Link") {
		for len(v) > 0 {
			lt := strings.IndexByte(v, '<')
			gt := strings.IndexByte(v, '>')
			if lt < 0 || gt < lt {
				break
			}
			target := v[lt+1 : gt]
			rest := v[gt+1:]
			params := rest
			if i := strings.IndexByte(rest, '<'); i >= 0 {
				params = rest[:i]
			}
			for _, prm := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(prm), ",")), "=")
				if strings.EqualFold(k, "rel") && strings.Contains(" "+strings.Trim(val, `"`)+" ", " next ") {
					return target
				}
			}
			v = rest
		}
	}
	return ""
}
