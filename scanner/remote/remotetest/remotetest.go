// Package remotetest serves git repositories to tests over real smart
// HTTP on loopback: `git http-backend` run through net/http/cgi, the way a
// real server runs it. It can require basic authentication, count
// requests, and stall clones, so tests can cover credentials, failures and
// Ctrl-C during a clone.
//
// It is test support: only tests import it (the git binary it runs is a
// test dependency; xaiscan itself never runs git).
package remotetest

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Options configure a Server.
type Options struct {
	// User and Password, when set, are required (HTTP basic
	// authentication); a request without them gets 401.
	User, Password string
	// Stall makes every upload-pack request (the pack transfer) hang
	// until the client goes away or the server closes: a clone that
	// never finishes, for interruption tests.
	Stall bool
}

// Server is a smart-HTTP git server for the bare repositories under Root.
type Server struct {
	// URL is the server's base URL; a repository Root/NAME is at URL/NAME.
	URL string
	// Root holds the served repositories.
	Root string

	srv      *httptest.Server
	stop     chan struct{}
	once     sync.Once
	requests atomic.Int64
	denied   atomic.Int64
	stalled  atomic.Int64
	mu       sync.Mutex
	auths    []string
}

// Start serves root. The caller must Close the server.
func Start(root string, o Options) (*Server, error) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("remotetest: git binary not found: %w", err)
	}
	s := &Server{Root: root, stop: make(chan struct{})}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		// "Not a git repository" for a missing one is the test's point,
		// not noise for its log.
		Stderr: io.Discard,
		Env: []string{
			"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull, "HOME=" + root,
		},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if h := r.Header.Get("Authorization"); h != "" {
			s.mu.Lock()
			s.auths = append(s.auths, h)
			s.mu.Unlock()
		}
		if o.User != "" || o.Password != "" {
			u, p, ok := r.BasicAuth()
			if !ok || subtle.ConstantTimeCompare([]byte(u+"\x00"+p), []byte(o.User+"\x00"+o.Password)) != 1 {
				s.denied.Add(1)
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		if o.Stall && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			s.stalled.Add(1)
			select {
			case <-r.Context().Done():
			case <-s.stop:
			}
			return
		}
		backend.ServeHTTP(w, r)
	}))
	s.URL = s.srv.URL
	return s, nil
}

// New starts a server for a test and closes it when the test ends. It
// skips the test when the git binary is missing.
func New(t testing.TB, root string, o Options) *Server {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not available to serve repositories")
	}
	s, err := Start(root, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Close releases stalled requests and shuts the server down.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// Requests is how many HTTP requests the server received.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Denied is how many requests were refused for want of credentials.
func (s *Server) Denied() int64 { return s.denied.Load() }

// Stalled is how many pack transfers are or were held by Options.Stall.
func (s *Server) Stalled() int64 { return s.stalled.Load() }

// Authorizations returns the Authorization headers received, in order.
func (s *Server) Authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

// Keys are the fake keys a fixture repository holds, by where they are.
type Keys struct {
	// Main was committed on main and deleted again.
	Main string
	// Branch is only on the branch "feature".
	Branch string
	// Tag is only in the message of the annotated tag "v1".
	Tag string
	// Pull is only on refs/pull/1/head, a ref outside branches and tags
	// that hosts advertise for pull requests.
	Pull string
}

// All lists the keys.
func (k Keys) All() []string { return []string{k.Main, k.Branch, k.Tag, k.Pull} }

// MakeRepo builds the bare repository root/name with keys in places only
// a mirror clone reaches (see Keys), after extra filler commits, and
// returns its keys. newKey makes a fake key (rulestest.APIKey).
func MakeRepo(t testing.TB, root, name string, extra int, newKey func() string) Keys {
	t.Helper()
	k := Keys{Main: newKey(), Branch: newKey(), Tag: newKey(), Pull: newKey()}
	work := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		if out, err := run(work, args...); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(work+"/"+name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q", "-b", "main", ".")
	write("README", "fixture "+name+"\n")
	write("log.txt", "log\n")
	git("add", ".")
	git("commit", "-q", "-m", "init")
	for i := 0; i < extra; i++ {
		write("log.txt", fmt.Sprintf("line %d of %s\n", i, name))
		git("commit", "-q", "-a", "-m", fmt.Sprintf("filler %d", i))
	}
	write("app.env", "XAI_API_KEY="+k.Main+"\n")
	git("add", "app.env")
	git("commit", "-q", "-m", "add config")
	git("rm", "-q", "app.env")
	git("commit", "-q", "-m", "remove the key")
	git("tag", "-a", "v1", "-m", "release notes: "+k.Tag)
	git("checkout", "-q", "-b", "feature")
	write("feature.env", "KEY="+k.Branch+"\n")
	git("add", "feature.env")
	git("commit", "-q", "-m", "feature")
	git("checkout", "-q", "-b", "pr", "main")
	write("pr.env", "KEY="+k.Pull+"\n")
	git("add", "pr.env")
	git("commit", "-q", "-m", "pull request")
	git("update-ref", "refs/pull/1/head", "HEAD")
	git("checkout", "-q", "main")
	git("branch", "-q", "-D", "pr")
	if out, err := run(root, "clone", "-q", "--mirror", work, name); err != nil {
		t.Fatalf("git clone --mirror: %v\n%s", err, out)
	}
	return k
}

func run(dir string, args ...string) (string, error) {
	base := []string{"-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false",
		"-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main", "-c", "gc.auto=0"}
	cmd := exec.Command("git", append(base, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
