// Package xaitest runs fake xAI endpoints for tests: an inference API that
// answers GET /v1/api-key and a Management API that answers the
// management-key validation and DELETE /auth/api-keys/{id}, each key
// behaving as the test configures it (live, disabled, rate limited,
// hanging, ...). Every request is recorded so tests can count them and
// check their headers.
package xaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mode is how the fake answers for a key.
type Mode string

// Modes. Keys the fake does not know get 400, as xAI answers an invalid key.
const (
	Live         Mode = "live"         // 200, no blocking flag
	Disabled     Mode = "disabled"     // 200, api_key_disabled
	Blocked      Mode = "blocked"      // 200, api_key_blocked
	TeamBlocked  Mode = "team-blocked" // 200, team_blocked
	BadRequest   Mode = "400"          // 400
	Unauthorized Mode = "401"          // 401
	Forbidden    Mode = "403"          // 403
	RateLimited  Mode = "429"          // always 429 with RetryAfter
	ServerError  Mode = "500"          // always 500
	Hang         Mode = "hang"         // never answers (until the client gives up)
	Garbage      Mode = "garbage"      // 200 with a body that is not JSON
	Empty        Mode = "empty"        // 200 with {}
	Partial      Mode = "partial"      // 200 with one blocking flag only
	WrongTypes   Mode = "wrong-types"  // 200 with the flags as strings ("false")
	OtherKey     Mode = "other-key"    // 200, well formed, but for another key
	Huge         Mode = "huge"         // 200 with a JSON content type and 5 GB of spaces, streamed
)

// HugeSize is how much a Huge answer would send if the client read it all.
const HugeSize = 5 << 30

// Answer is a raw answer, for tests of what the client makes of answers
// xAI would never send.
type Answer struct {
	Status      int
	ContentType string // "" sends no Content-Type at all
	Body        string
	// Header is sent as is (Retry-After ...).
	Header map[string]string
}

// APIKey configures an inference key.
type APIKey struct {
	Mode Mode
	ID   string
	Name string
	ACLs []string
	// Fail429 makes the first Fail429 requests answer 429 (with
	// RetryAfter) before Mode applies; Fail500 the same with 500.
	Fail429, Fail500 int
	// RetryAfter is the Retry-After header sent with 429s ("" = none).
	RetryAfter string
	// Answer, if set, is sent instead of what Mode says.
	Answer *Answer
}

// MgmtKey configures a management key.
type MgmtKey struct {
	// Mode answers the validation endpoint: Live, Unauthorized,
	// Forbidden, ServerError, Hang ...
	Mode Mode
	Name string
	ACLs []string
	// DeleteStatus, if set, is the status every DELETE made with this
	// key answers (403, 500 ...) instead of deleting.
	DeleteStatus int
	// DeleteAnswer, if set, is what a DELETE answers after deleting: a
	// server that deletes but answers garbage.
	DeleteAnswer *Answer
	// Answer, if set, is sent to the validation request instead of what
	// Mode says.
	Answer *Answer
}

// Request is a request the fake received.
type Request struct {
	Server    string // "api" or "mgmt"
	Method    string
	Path      string
	Auth      string // the Authorization header, as sent
	UserAgent string
}

// Server is a pair of fake endpoints.
type Server struct {
	API, Mgmt *httptest.Server

	mu       sync.Mutex
	apiKeys  map[string]*APIKey
	mgmtKeys map[string]*MgmtKey
	seen     map[string]int // requests per key, for Fail429/Fail500
	deleted  []string
	requests []Request
	streamed int64 // bytes of Huge bodies written
	release  chan struct{}
}

// New starts the fake endpoints; they stop when the test ends.
func New(t testing.TB) *Server {
	s := &Server{
		apiKeys:  map[string]*APIKey{},
		mgmtKeys: map[string]*MgmtKey{},
		seen:     map[string]int{},
		release:  make(chan struct{}),
	}
	s.API = httptest.NewServer(http.HandlerFunc(s.serveAPI))
	s.Mgmt = httptest.NewServer(http.HandlerFunc(s.serveMgmt))
	// Cleanups run last-in first-out: release hanging handlers, then close.
	t.Cleanup(s.API.Close)
	t.Cleanup(s.Mgmt.Close)
	t.Cleanup(func() { close(s.release) })
	return s
}

// AddAPIKey makes key known to the inference API.
func (s *Server) AddAPIKey(key string, k APIKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKeys[key] = &k
}

// AddMgmtKey makes key known to the Management API.
func (s *Server) AddMgmtKey(key string, k MgmtKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mgmtKeys[key] = &k
}

// Requests returns every request received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests used token as bearer with the given
// method and path ("" matches any).
func (s *Server) Count(method, path, token string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && (path == "" || r.Path == path) && r.Auth == "Bearer "+token {
			n++
		}
	}
	return n
}

// WaitFor waits until at least n requests like Count's have arrived, or
// timeout passes, and reports whether they did. Tests use it to act (send
// a signal) while a request is in flight, without guessing with sleeps.
func (s *Server) WaitFor(method, path, token string, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for s.Count(method, path, token) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Streamed returns how many bytes of Huge bodies the fake managed to write
// before clients hung up.
func (s *Server) Streamed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamed
}

// Deleted returns the ids of the API keys deleted so far.
func (s *Server) Deleted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.deleted...)
}

func (s *Server) record(server string, r *http.Request) string {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Server: server, Method: r.Method, Path: r.URL.Path,
		Auth: r.Header.Get("Authorization"), UserAgent: r.Header.Get("User-Agent"),
	})
	s.seen[server+" "+token]++
	return token
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	token := s.record("api", r)
	if r.Method != http.MethodGet || r.URL.Path != "/v1/api-key" {
		http.NotFound(w, r)
		return
	}
	s.mu.Lock()
	k, ok := s.apiKeys[token]
	var kc APIKey
	if ok {
		kc = *k
	}
	n := s.seen["api "+token]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "Incorrect API key provided"})
		return
	}
	switch {
	case n <= kc.Fail429:
		s.rateLimit(w, kc.RetryAfter)
		return
	case n <= kc.Fail429+kc.Fail500:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal"})
		return
	case kc.Answer != nil:
		writeAnswer(w, *kc.Answer)
		return
	}
	info := map[string]any{
		"redacted_api_key": "xai-..." + token[len(token)-4:],
		"user_id":          "user-1", "name": kc.Name, "team_id": "team-1",
		"create_time": "2026-01-01T00:00:00Z", "modify_time": "2026-01-01T00:00:00Z",
		"modified_by": "user-1", "acls": kc.ACLs, "api_key_id": kc.ID,
		"team_blocked": false, "api_key_blocked": false, "api_key_disabled": false,
	}
	switch kc.Mode {
	case Live:
	case Disabled:
		info["api_key_disabled"] = true
	case Blocked:
		info["api_key_blocked"] = true
	case TeamBlocked:
		info["team_blocked"] = true
	case Partial:
		info = map[string]any{"api_key_blocked": false}
	case WrongTypes:
		info["team_blocked"], info["api_key_blocked"], info["api_key_disabled"] = "false", "false", 0
	case OtherKey:
		info["redacted_api_key"] = "xai-...0t4r"
		if strings.HasSuffix(token, "0t4r") {
			info["redacted_api_key"] = "xai-...1t4r"
		}
	default:
		s.fail(w, r, kc.Mode, kc.RetryAfter)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) serveMgmt(w http.ResponseWriter, r *http.Request) {
	token := s.record("mgmt", r)
	s.mu.Lock()
	k, ok := s.mgmtKeys[token]
	var kc MgmtKey
	if ok {
		kc = *k
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid management key"})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/auth/management-keys/validation":
		if kc.Answer != nil {
			writeAnswer(w, *kc.Answer)
			return
		}
		if kc.Mode != Live {
			s.fail(w, r, kc.Mode, "")
			return
		}
		// The shape of xAI's published example answer, plus ACLs.
		writeJSON(w, http.StatusOK, map[string]any{
			"apiKeyId": "mgmt-id-1", "teamId": "team-1", "scope": "SCOPE_TEAM", "scopeId": "team-1",
			"name": kc.Name, "acls": kc.ACLs,
		})
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/auth/api-keys/"):
		if kc.Mode != Live {
			s.fail(w, r, kc.Mode, "")
			return
		}
		if kc.DeleteStatus != 0 {
			writeJSON(w, kc.DeleteStatus, map[string]any{"error": "refused"})
			return
		}
		id := strings.TrimPrefix(r.URL.Path, "/auth/api-keys/")
		s.mu.Lock()
		var found bool
		for key, ak := range s.apiKeys {
			if ak.ID == id && id != "" {
				found = true
				delete(s.apiKeys, key)
				s.deleted = append(s.deleted, id)
			}
		}
		s.mu.Unlock()
		if !found {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "no such key"})
			return
		}
		if kc.DeleteAnswer != nil {
			writeAnswer(w, *kc.DeleteAnswer)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) rateLimit(w http.ResponseWriter, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "rate limited"})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, m Mode, retryAfter string) {
	switch m {
	case BadRequest:
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad request"})
	case Unauthorized:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
	case Forbidden:
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "forbidden"})
	case RateLimited:
		s.rateLimit(w, retryAfter)
	case ServerError:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "internal"})
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.release:
		}
	case Garbage:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<html>hello</html>")
	case Empty:
		writeJSON(w, http.StatusOK, map[string]any{})
	case Huge:
		s.stream(w, r)
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "xaitest: unknown mode " + string(m)})
	}
}

// stream answers 200 with a JSON content type and up to HugeSize bytes of
// spaces, counting what it manages to write before the client hangs up.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	chunk := []byte(strings.Repeat(" ", 64<<10))
	for sent := int64(0); sent < HugeSize && r.Context().Err() == nil; {
		n, err := w.Write(chunk)
		sent += int64(n)
		s.mu.Lock()
		s.streamed += int64(n)
		s.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func writeAnswer(w http.ResponseWriter, a Answer) {
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	} else {
		w.Header()["Content-Type"] = nil // no sniffing: send none
	}
	for k, v := range a.Header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, a.Body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
