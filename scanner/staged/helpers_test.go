package staged

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// helperEnv makes the test binary act as a minimal "xaiscan staged" when a
// git hook runs it, so hooks are tested with real git commits.
const helperEnv = "XAISCAN_STAGED_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain())
	}
	// Tests must not depend on the user's git configuration, nor on the
	// environment of a hook the tests might themselves run under.
	gittest.Isolate()
	os.Exit(m.Run())
}

// helperMain scans the staged changes of the current directory and exits 1
// on findings, like "xaiscan staged".
func helperMain() int {
	src, err := New(".")
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 2
	}
	res, err := scanner.New(scanner.Options{}).Run(context.Background(), src)
	if err != nil || res.Coverage.Partial() {
		os.Stderr.WriteString("scan failed\n")
		return 2
	}
	for _, f := range res.Findings {
		os.Stderr.WriteString(f.Path + ": " + f.Secret + "\n")
	}
	if len(res.Findings) > 0 {
		return 1
	}
	return 0
}

type repo struct {
	t   testing.TB
	dir string
}

func newRepo(t testing.TB) *repo {
	t.Helper()
	gittest.Require(t)
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

// gitIn runs git in dir and returns its output and error.
func gitIn(dir string, stdin string, args ...string) (string, error) {
	return gittest.Run(dir, nil, stdin, args...)
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	out, err := gitIn(r.dir, "", args...)
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func (r *repo) write(path, content string) {
	r.t.Helper()
	gittest.WriteFile(r.t, r.dir, path, content)
}

func (r *repo) commitAll(msg string) {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "--no-verify", "-m", msg)
}

// scan runs the staged source of dir through the engine. It also runs it
// with the cache tree ignored (the full walk) and checks both agree.
func scan(t testing.TB, dir string) scanner.Result {
	t.Helper()
	res := scanWith(t, dir, false)
	full := scanWith(t, dir, true)
	if summary(res) != summary(full) {
		t.Errorf("cache-tree walk and full walk disagree:\n%s\n%s", summary(res), summary(full))
	}
	return res
}

func scanWith(t testing.TB, dir string, noCacheTree bool) scanner.Result {
	t.Helper()
	src, err := New(dir)
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	src.noCacheTree = noCacheTree
	res, err := scanner.New(scanner.Options{Workers: 2}).Run(context.Background(), src)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func summary(res scanner.Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		fmt.Fprintf(&b, "%s:%d:%d %s; ", f.Path, f.Line, f.Column, f.Fingerprint[:8])
	}
	for _, s := range res.Coverage.Skipped {
		fmt.Fprintf(&b, "skip %s %v; ", s.Path, s.IsError())
	}
	fmt.Fprintf(&b, "files %d", res.Coverage.Files)
	return b.String()
}
