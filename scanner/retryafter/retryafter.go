// Package retryafter reads HTTP Retry-After headers (RFC 9110 §10.2.3),
// shared by every client xaiscan has (the xAI APIs, GitHub and GitLab),
// so they agree on what a server may ask of them.
package retryafter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Max bounds what a header can ask for: a hostile or broken server must
// not park a scan for years.
const Max = 24 * time.Hour

// Parse reads h as delay-seconds or an HTTP-date relative to now. It
// reports false for an empty, negative or unreadable value.
func Parse(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return min(time.Duration(min(n, int64(Max/time.Second)))*time.Second, Max), true
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(t.Sub(now), 0), Max), true
	}
	return 0, false
}
