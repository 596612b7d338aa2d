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
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
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
)

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
		if kc.Mode != Live {
			s.fail(w, r, kc.Mode, "")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"name": kc.Name, "acls": kc.ACLs, "teamId": "team-1"})
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
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "<html>hello</html>")
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "xaitest: unknown mode " + string(m)})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
