package staged

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/scanner"
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
	for _, k := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"} {
		os.Unsetenv(k)
	}
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	os.Setenv("GIT_AUTHOR_NAME", "t")
	os.Setenv("GIT_AUTHOR_EMAIL", "t@e")
	os.Setenv("GIT_COMMITTER_NAME", "t")
	os.Setenv("GIT_COMMITTER_EMAIL", "t@e")
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
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

// run runs git in dir and returns its output and error.
func gitIn(dir string, stdin string, args ...string) (string, error) {
	full := append([]string{"-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false",
		"-c", "init.defaultBranch=main", "-c", "core.autocrlf=false"}, args...)
	cmd := exec.Command("git", full...)
	cmd.Dir = dir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
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
	p := filepath.Join(r.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
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
		fmt.Fprintf(&b, "skip %s %v; ", s.Path, s.Error)
	}
	fmt.Fprintf(&b, "files %d", res.Coverage.Files)
	return b.String()
}
