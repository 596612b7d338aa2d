package gitsource

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// testRepo builds real repositories with the git binary. Dates advance a
// minute per commit so "oldest" is well defined, and nothing depends on the
// user's or the system's git configuration.
type testRepo struct {
	t    *testing.T
	dir  string
	home string
	tick int
}

func newRepo(t *testing.T) *testRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not available to build fixtures")
	}
	base := t.TempDir()
	r := &testRepo{t: t, dir: filepath.Join(base, "repo"), home: filepath.Join(base, "home")}
	os.MkdirAll(r.home, 0o755)
	r.gitIn(base, "init", "-q", "-b", "main", r.dir)
	return r
}

func (r *testRepo) env() []string {
	r.tick++
	date := fmt.Sprintf("@%d +0000", 1700000000+60*r.tick)
	return append(os.Environ(),
		"HOME="+r.home, "XDG_CONFIG_HOME="+r.home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com", "GIT_COMMITTER_DATE="+date,
	)
}

// gitIn runs git in dir and returns its trimmed output.
func (r *testRepo) gitIn(dir string, args ...string) string {
	r.t.Helper()
	return gittest.Must(r.t, dir, r.env(), append([]string{"-c", "user.name=Ada", "-c", "user.email=ada@example.com"}, args...)...)
}

func (r *testRepo) git(args ...string) string {
	r.t.Helper()
	return r.gitIn(r.dir, args...)
}

func (r *testRepo) write(path, content string) {
	r.t.Helper()
	gittest.WriteFile(r.t, r.dir, path, content)
}

// commit stages everything and commits; it returns the new commit's hash.
func (r *testRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// scan runs the real engine over the repository at path.
func scan(t *testing.T, path string, o Options) scanner.Result {
	t.Helper()
	src, err := New(path, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	res, err := scanner.New(scanner.Options{Workers: 4}).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// byKey groups findings by full key.
func byKey(res scanner.Result) map[string][]scanner.Finding {
	m := map[string][]scanner.Finding{}
	for _, f := range res.Findings {
		m[f.Key] = append(m[f.Key], f)
	}
	return m
}

// one returns the only finding of key, failing otherwise. Keys are never
// printed, only their redacted form.
func one(t *testing.T, m map[string][]scanner.Finding, key, what string) scanner.Finding {
	t.Helper()
	fs := m[key]
	if len(fs) != 1 {
		t.Fatalf("%s: want 1 finding of %s, got %d: %s", what, rules.Redact(key), len(fs), describe(fs))
	}
	return fs[0]
}

func describe(fs []scanner.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		reach, head := "-", "-"
		if f.Reachable != nil {
			reach = fmt.Sprint(*f.Reachable)
		}
		if f.AtHead != nil {
			head = fmt.Sprint(*f.AtHead)
		}
		fmt.Fprintf(&b, "\n  %s path=%q line=%d commit=%.10s reachable=%s at_head=%s obj=%.10s", f.Secret, f.Path, f.Line, f.Commit, reach, head, f.Object)
	}
	return b.String()
}

func isTrue(p *bool) bool  { return p != nil && *p }
func isFalse(p *bool) bool { return p != nil && !*p }

func noErrors(t *testing.T, res scanner.Result) {
	t.Helper()
	if res.Coverage.Partial() {
		t.Fatalf("unexpected skipped entries: %+v", res.Coverage.Skipped)
	}
}
