package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHost is a fake hosting API: it serves pages of repositories and
// records what it was asked.
type fakeHost struct {
	mu       sync.Mutex
	requests []*http.Request
	srv      *httptest.Server
}

func (f *fakeHost) record(r *http.Request) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	return len(f.requests)
}

func (f *fakeHost) seen() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.requests...)
}

func newFake(t *testing.T, h func(f *fakeHost, w http.ResponseWriter, r *http.Request)) *fakeHost {
	f := &fakeHost{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(f, w, r) }))
	t.Cleanup(f.srv.Close)
	return f
}

func githubPage(page int) []map[string]any {
	var out []map[string]any
	for i := 0; i < 3; i++ {
		n := fmt.Sprintf("r%d-%d", page, i)
		out = append(out, map[string]any{
			"full_name": "acme/" + n, "clone_url": "https://git.example.com/acme/" + n + ".git",
			"fork": i == 1, "archived": i == 2,
		})
	}
	return out
}

// TestGitHubPaginationAndRateLimits: four pages through Link headers, a
// 429 with Retry-After and a 403 primary rate limit with
// X-RateLimit-Reset both waited out, the token sent on every request.
func TestGitHubPaginationAndRateLimits(t *testing.T) {
	limited := map[string]bool{}
	f := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if r.URL.Path != "/api/v3/orgs/acme/repos" {
			http.NotFound(w, r)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page == 0 {
			page = 1
		}
		switch {
		case page == 2 && !limited["429"]:
			limited["429"] = true
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"message":"slow down"}`, http.StatusTooManyRequests)
			return
		case page == 3 && !limited["403"]:
			limited["403"] = true
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10))
			http.Error(w, `{"message":"API rate limit exceeded"}`, http.StatusForbidden)
			return
		}
		if page < 4 {
			next := fmt.Sprintf("%s/api/v3/orgs/acme/repos?page=%d&per_page=100", f.srv.URL, page+1)
			w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s/api/v3/orgs/acme/repos?page=4>; rel="last"`, next, f.srv.URL))
		}
		json.NewEncoder(w).Encode(githubPage(page))
	})
	ls, err := GitHubRepos(context.Background(), API{Base: f.srv.URL + "/api/v3", Token: "gh-tok", TokenName: "GITHUB_TOKEN"}, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 12 {
		t.Fatalf("listed %d repositories, want 12 over 4 pages", len(ls))
	}
	if !limited["429"] || !limited["403"] {
		t.Fatalf("rate limits not exercised: %v", limited)
	}
	if ls[1].Name != "acme/r1-1" || !ls[1].Fork || !ls[2].Archived || ls[0].Fork || ls[0].Archived {
		t.Errorf("flags not read: %+v", ls[:3])
	}
	for _, r := range f.seen() {
		if r.Header.Get("Authorization") != "Bearer gh-tok" {
			t.Errorf("request %s without the token", r.URL)
		}
		if q := r.URL.Query(); q.Get("per_page") != "100" {
			t.Errorf("request %s: per_page not 100", r.URL)
		}
	}
	if n := len(f.seen()); n != 6 {
		t.Errorf("%d requests, want 6 (4 pages + 2 retries)", n)
	}
}

// TestGitHubUserFallback: a name that is no organisation is tried as a
// user account.
func TestGitHubUserFallback(t *testing.T) {
	f := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if r.URL.Path == "/users/ada/repos" {
			json.NewEncoder(w).Encode(githubPage(1))
			return
		}
		http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
	})
	ls, err := GitHubRepos(context.Background(), API{Base: f.srv.URL}, "ada")
	if err != nil || len(ls) != 3 {
		t.Fatalf("user fallback: %d repos, %v", len(ls), err)
	}
	_, err = GitHubRepos(context.Background(), API{Base: f.srv.URL, TokenName: "GITHUB_TOKEN"}, "nobody")
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "GITHUB_TOKEN") {
		t.Errorf("unknown organisation: %v, want a 404 that mentions GITHUB_TOKEN", err)
	}
}

// TestRateLimitBounded: a server asking for a wait beyond the bound fails
// the listing at once, saying why, instead of hanging the audit.
func TestRateLimitBounded(t *testing.T) {
	f := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		f.record(r)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	start := time.Now()
	_, err := GitHubRepos(context.Background(), API{Base: f.srv.URL, TokenName: "GITHUB_TOKEN", MaxWait: 5 * time.Second}, "acme")
	if err == nil || !strings.Contains(err.Error(), "rate limited") || !strings.Contains(err.Error(), "1h0m0s") || !strings.Contains(err.Error(), "set GITHUB_TOKEN") {
		t.Errorf("err = %v, want a rate-limit error naming the wait and the token", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("the listing waited although the wait exceeds the bound")
	}
	if len(f.seen()) != 1 {
		t.Errorf("%d requests, want 1", len(f.seen()))
	}
}

// TestServerErrorsRetried: a 502 is retried; a 401 is not.
func TestServerErrorsRetried(t *testing.T) {
	f := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		if f.record(r) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(githubPage(1))
	})
	if ls, err := GitHubRepos(context.Background(), API{Base: f.srv.URL}, "acme"); err != nil || len(ls) != 3 {
		t.Errorf("after a 502: %d repos, %v", len(ls), err)
	}
	g := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		f.record(r)
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
	})
	_, err := GitHubRepos(context.Background(), API{Base: g.srv.URL, Token: "bad-token-value"}, "acme")
	if err == nil || !strings.Contains(err.Error(), "Bad credentials") || strings.Contains(err.Error(), "bad-token-value") {
		t.Errorf("401: %v", err)
	}
	if len(g.seen()) != 1 {
		t.Errorf("a 401 was retried: %d requests", len(g.seen()))
	}
}

// TestNextLinkStaysOnTheAPI: a Link header pointing elsewhere is not
// followed, so the token never leaves the API's origin.
func TestNextLinkStaysOnTheAPI(t *testing.T) {
	f := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		f.record(r)
		w.Header().Set("Link", `<https://evil.example/steal?page=2>; rel="next"`)
		json.NewEncoder(w).Encode(githubPage(1))
	})
	_, err := GitHubRepos(context.Background(), API{Base: f.srv.URL, Token: "t"}, "acme")
	if err == nil || !strings.Contains(err.Error(), "refusing to follow") {
		t.Errorf("err = %v, want a refusal to follow the link", err)
	}
}

func TestTokenNotOverPlainHTTP(t *testing.T) {
	_, err := GitHubRepos(context.Background(), API{Base: "http://ghe.example.com/api/v3", Token: "t", TokenName: "GITHUB_TOKEN"}, "acme")
	if err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("err = %v, want a refusal to send the token in clear", err)
	}
}

// TestGitLabPaginationSubgroupsForks: a group path with a subgroup is
// escaped as one segment, subgroups are included, shared projects are
// not, pages follow X-Next-Page, and a rate limit is waited out.
func TestGitLabPaginationSubgroupsForks(t *testing.T) {
	limited := false
	f := newFake(t, func(f *fakeHost, w http.ResponseWriter, r *http.Request) {
		f.record(r)
		if r.URL.EscapedPath() != "/api/v4/groups/team%2Fplatform/projects" {
			http.Error(w, `{"message":"404 Group Not Found"}`, http.StatusNotFound)
			return
		}
		q := r.URL.Query()
		if q.Get("include_subgroups") != "true" || q.Get("with_shared") != "false" {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		page, _ := strconv.Atoi(q.Get("page"))
		if page == 0 {
			page = 1
		}
		if page == 2 && !limited {
			limited = true
			w.Header().Set("Retry-After", "1")
			w.Header().Set("RateLimit-Remaining", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		next := ""
		if page < 3 {
			next = strconv.Itoa(page + 1)
		}
		w.Header().Set("X-Next-Page", next)
		var out []map[string]any
		for i := 0; i < 2; i++ {
			p := map[string]any{
				"path_with_namespace": fmt.Sprintf("team/platform/sub%d/p%d", page, i),
				"http_url_to_repo":    fmt.Sprintf("https://gitlab.example.com/team/platform/sub%d/p%d.git", page, i),
				"archived":            page == 3,
			}
			if i == 1 {
				p["forked_from_project"] = map[string]any{"id": 7}
			}
			out = append(out, p)
		}
		json.NewEncoder(w).Encode(out)
	})
	ls, err := GitLabProjects(context.Background(), API{Base: f.srv.URL + "/api/v4/", Token: "gl-tok"}, "team/platform")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 6 || !limited {
		t.Fatalf("listed %d projects (limited %v), want 6 over 3 pages", len(ls), limited)
	}
	if ls[0].Fork || !ls[1].Fork || !ls[5].Archived || ls[0].Archived || ls[4].Name != "team/platform/sub3/p0" {
		t.Errorf("flags or names not read: %+v", ls)
	}
	for _, r := range f.seen() {
		if r.Header.Get("Authorization") != "Bearer gl-tok" {
			t.Errorf("request %s without the token", r.URL)
		}
	}
	if _, err := GitLabProjects(context.Background(), API{Base: f.srv.URL + "/api/v4"}, "nope"); err == nil || !strings.Contains(err.Error(), "Group Not Found") {
		t.Errorf("unknown group: %v", err)
	}
}

func TestLinkNext(t *testing.T) {
	for h, want := range map[string]string{
		`<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"`: "https://a/x?page=2",
		`<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next"`: "https://a/x?page=3",
		`<https://a/x?page=1>; rel="first"`:                                  "",
		`<https://a/x?a=1,2>; rel="next"`:                                    "https://a/x?a=1,2",
		``:                                                                   "",
	} {
		hd := http.Header{}
		if h != "" {
			hd.Set("Link", h)
		}
		if got := linkNext(hd); got != want {
			t.Errorf("linkNext(%q) = %q, want %q", h, got, want)
		}
	}
}
