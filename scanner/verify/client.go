package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	neturl "net/url"
	"strings"
	"time"

	"github.com/xaiscan/xaiscan/scanner/retryafter"
)

// MaxBody bounds how much of a response is read: the answers we parse are
// a few hundred bytes, and a misbehaving endpoint (a captive portal, a
// broken proxy, a hostile server) must not exhaust memory or time. A
// longer body is not read on: its answer is Oversized, which decides
// nothing.
const MaxBody = 1 << 20

// Response is the outcome of Send: the last attempt's status and body.
type Response struct {
	// Status is the HTTP status of the last attempt.
	Status int
	// Body is the start (at most MaxBody bytes) of the last attempt's body.
	Body []byte
	// Oversized is set when the body was longer than MaxBody; Body then
	// holds only its start, and no answer may be read from it.
	Oversized bool
	// ContentType is the media type of the body, lowercased, without
	// parameters ("application/json"); empty when none was sent.
	ContentType string
	// Attempts is how many requests were sent.
	Attempts int
	// RetryAfter is the wait the server asked for on the last attempt, if
	// any; set when Send gave up because it exceeded Config.MaxWait.
	RetryAfter time.Duration
}

// Send performs one logical request, method url, with token as a bearer
// token, retrying 429 and 5xx responses (up to Config.Retries times, waiting
// Retry-After when given, else an exponential backoff with jitter). It
// returns the last response when retries run out. The error, when not nil,
// is a transport failure or timeout; it never contains the token. Requests
// are bounded by Config.Concurrency across all callers of this Verifier.
//
// url must be under Config.APIBase or Config.MgmtBase: Send refuses any
// other destination, so a bug elsewhere cannot send a key to a third party.
func (v *Verifier) Send(ctx context.Context, method, url, token string) (Response, error) {
	if !v.allowed(url) {
		return Response{}, fmt.Errorf("%s %s: not under the configured xAI endpoints", method, url)
	}
	var resp Response
	for attempt := 0; ; attempt++ {
		if err := v.acquire(ctx); err != nil {
			return resp, fmt.Errorf("%s %s: %w", method, url, err)
		}
		got, header, err := v.attempt(ctx, method, url, token)
		v.release()
		resp.Attempts++
		if err != nil {
			return resp, fmt.Errorf("%s %s: %w", method, url, err)
		}
		got.Attempts = resp.Attempts
		resp = got
		if !retryable(resp.Status) || attempt >= v.cfg.Retries {
			return resp, nil
		}
		wait := v.backoff(attempt)
		if ra, ok := retryafter.Parse(header.Get("Retry-After"), v.cfg.Now()); ok {
			if ra > v.cfg.MaxWait {
				resp.RetryAfter = ra
				return resp, nil
			}
			wait = ra
		}
		if err := sleep(ctx, wait); err != nil {
			return resp, fmt.Errorf("%s %s: %w", method, url, err)
		}
	}
}

// allowed reports whether url is under one of the configured bases (the
// base itself followed by "/" or nothing).
func (v *Verifier) allowed(url string) bool {
	for _, base := range []string{v.cfg.APIBase, v.cfg.MgmtBase} {
		if url == base || strings.HasPrefix(url, base+"/") {
			return true
		}
	}
	return false
}

func (v *Verifier) acquire(ctx context.Context) error {
	select {
	case v.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *Verifier) release() { <-v.sem }

// attempt sends one request under the per-request timeout, body included:
// a server that trickles an endless body is cut off by the same deadline
// as one that never answers, and one that sends a huge body fast is cut
// off after MaxBody bytes.
func (v *Verifier) attempt(parent context.Context, method, url, token string) (Response, http.Header, error) {
	ctx, cancel := context.WithTimeout(parent, v.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return Response{}, nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", v.cfg.UserAgent)
	req.Header.Set("Accept", "application/json")
	res, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return Response{}, nil, v.cleanErr(parent, err)
	}
	// Closing without draining drops the connection: the price of never
	// reading more than MaxBody+1 bytes of anything.
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxBody+1))
	if err != nil {
		return Response{}, nil, v.cleanErr(parent, fmt.Errorf("reading response: %w", err))
	}
	out := Response{Status: res.StatusCode, Body: body, ContentType: mediaType(res.Header.Get("Content-Type"))}
	if len(body) > MaxBody {
		out.Body, out.Oversized = body[:MaxBody], true
	}
	return out, res.Header, nil
}

// mediaType returns the lowercased media type of a Content-Type header
// value, or "" when there is none or it does not parse.
func mediaType(h string) string {
	if h == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(h)
	if err != nil {
		return ""
	}
	return mt
}

// ErrTimeout is wrapped by Send's error when an attempt timed out.
var ErrTimeout = errors.New("timed out")

// cleanErr turns a client error into a short one: the caller's own
// cancellation, a timeout, or the transport error without the *url.Error
// wrapping (which repeats method and URL, added once by Send; it never
// carries headers, so never the token).
func (v *Verifier) cleanErr(parent context.Context, err error) error {
	if parent.Err() != nil {
		return parent.Err()
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%w after %s", ErrTimeout, v.cfg.Timeout)
	}
	var ue *neturl.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// retryable reports whether a status is worth retrying: rate limiting
// and server errors. 501 Not Implemented will not change on retry.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || (status >= 500 && status != http.StatusNotImplemented)
}

// backoff returns the wait before retry number attempt+1 when the server
// gave no Retry-After: Backoff doubled per attempt, capped at MaxWait, with
// up to 50% jitter so parallel workers do not retry in lockstep.
func (v *Verifier) backoff(attempt int) time.Duration {
	d := v.cfg.Backoff
	for i := 0; i < attempt && d < v.cfg.MaxWait; i++ {
		d *= 2
	}
	d = min(d, v.cfg.MaxWait)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
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
