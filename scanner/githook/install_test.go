package githook

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeXaiscan puts an "xaiscan" on a fresh PATH directory that logs its
// arguments (and, for pre-push, its stdin) to log and exits with
// $FAKE_EXIT. It returns the directory and the log path.
func fakeXaiscan(t *testing.T) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "log")
	script := "#!/bin/sh\nprintf 'xaiscan %s\\n' \"$*\" >>'" + log + "'\n" +
		"if [ \"$1\" = pre-push ]; then cat >>'" + log + "'; fi\nexit ${FAKE_EXIT:-0}\n"
	if err := os.WriteFile(filepath.Join(dir, "xaiscan"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, log
}

func readLog(t *testing.T, log string) string {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(log)
	return string(b)
}

func pathEnv(dir string) string {
	return "PATH=" + dir + string(os.PathListSeparator) + os.Getenv("PATH")
}

func TestInstallPlainIdempotent(t *testing.T) {
	dir := newRepo(t)
	hook, err := Install(dir, PreCommit, "/opt/xaiscan")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, ".git", "hooks", "pre-commit"); hook != want {
		t.Errorf("hook = %s, want %s", hook, want)
	}
	fi, err := os.Stat(hook)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("stat: %v %v", fi.Mode(), err)
	}
	if out, err := exec.Command("sh", "-n", hook).CombinedOutput(); err != nil {
		t.Errorf("sh -n: %v %s", err, out)
	}
	before, _ := os.ReadFile(hook)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(hook, old, old)
	hook2, err := Install(dir, PreCommit, "/opt/xaiscan")
	if err != nil || hook2 != hook {
		t.Fatalf("second install: %s %v", hook2, err)
	}
	after, _ := os.ReadFile(hook)
	fi2, _ := os.Stat(hook)
	if string(before) != string(after) || fi2.ModTime().Unix() != old.Unix() {
		t.Error("second install rewrote the hook")
	}
	if _, err := os.Lstat(ChainedPath(hook)); err == nil {
		t.Error("second install chained our own hook")
	}
	entries, _ := os.ReadDir(filepath.Dir(hook))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	// A different binary: our hook is updated in place, not chained.
	if _, err := Install(dir, PreCommit, "/elsewhere/xaiscan"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(hook); !strings.Contains(string(b), "/elsewhere/xaiscan") {
		t.Error("hook not updated")
	}
	if _, err := os.Lstat(ChainedPath(hook)); err == nil {
		t.Error("reinstall chained our own hook")
	}
	if _, err := Install(dir, "post-commit", ""); err == nil {
		t.Error("unknown kind accepted")
	}
}

func TestInstallHooksPathAndWorktree(t *testing.T) {
	dir := newRepo(t)
	commit(t, dir, "a", "1")
	git(t, dir, "config", "core.hooksPath", "team-hooks")
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	hook, err := Install(sub, PrePush, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "team-hooks", "pre-push"); hook != want {
		t.Errorf("hooksPath: hook = %s, want %s", hook, want)
	}
	git(t, dir, "config", "--unset", "core.hooksPath")
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, dir, "worktree", "add", "-q", "-b", "w", wt)
	hook, err = Install(wt, PreCommit, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, ".git", "hooks", "pre-commit"); hook != want {
		t.Errorf("worktree: hook = %s, want %s", hook, want)
	}
}

func TestPreCommitHookBlocksAndChains(t *testing.T) {
	fake, log := fakeXaiscan(t)
	dir := newRepo(t)
	commit(t, dir, "a", "1")
	hooks := filepath.Join(dir, ".git", "hooks")
	os.MkdirAll(hooks, 0o755)
	localLog := filepath.Join(t.TempDir(), "local")
	existing := "#!/bin/sh\necho local-ran >>'" + localLog + "'\nexit ${LOCAL_EXIT:-0}\n"
	if err := os.WriteFile(filepath.Join(hooks, "pre-commit"), []byte(existing), 0o755); err != nil {
		t.Fatal(err)
	}
	hook, err := Install(dir, PreCommit, "")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(ChainedPath(hook)); err != nil || string(b) != existing {
		t.Fatalf("existing hook not preserved: %v", err)
	}
	if _, err := Install(dir, PreCommit, ""); err != nil { // idempotent with a chain
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "b"), []byte("2"), 0o644)
	git(t, dir, "add", "b")

	// Scanner finds something: blocked, both ran.
	if out, err := gitErr(dir, []string{pathEnv(fake), "FAKE_EXIT=1"}, "commit", "-q", "-m", "x"); err == nil {
		t.Fatalf("commit not blocked: %s", out)
	}
	if got := readLog(t, log); got != "xaiscan staged\n" {
		t.Errorf("xaiscan log = %q", got)
	}
	if got := readLog(t, localLog); got != "local-ran\n" {
		t.Errorf("local hook log = %q", got)
	}
	// The chained hook fails: blocked, and xaiscan does not run.
	if out, err := gitErr(dir, []string{pathEnv(fake), "LOCAL_EXIT=3"}, "commit", "-q", "-m", "x"); err == nil {
		t.Fatalf("commit not blocked by the chained hook: %s", out)
	}
	if got := readLog(t, log); got != "" {
		t.Errorf("xaiscan ran after the chained hook failed: %q", got)
	}
	// Both pass: committed.
	if out, err := gitErr(dir, []string{pathEnv(fake)}, "commit", "-q", "-m", "x"); err != nil {
		t.Fatalf("clean commit blocked: %v %s", err, out)
	}
	if readLog(t, log) == "" || readLog(t, localLog) == "" {
		t.Error("hooks did not run")
	}
}

func TestHookFallbackBinaryAndMissing(t *testing.T) {
	fake, log := fakeXaiscan(t)
	dir := newRepo(t)
	commit(t, dir, "a", "1")
	// xaiscan not on PATH: the installing binary's path is used.
	if _, err := Install(dir, PreCommit, filepath.Join(fake, "xaiscan")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "b"), []byte("2"), 0o644)
	git(t, dir, "add", "b")
	if out, err := gitErr(dir, []string{"FAKE_EXIT=1"}, "commit", "-q", "-m", "x"); err == nil {
		t.Fatalf("commit not blocked: %s", out)
	}
	if got := readLog(t, log); got != "xaiscan staged\n" {
		t.Errorf("log = %q", got)
	}
	// Nowhere to be found: the hook fails closed, saying why.
	if _, err := Install(dir, PreCommit, filepath.Join(t.TempDir(), "gone")); err != nil {
		t.Fatal(err)
	}
	out, err := gitErr(dir, nil, "commit", "-q", "-m", "x")
	if err == nil || !strings.Contains(out, "xaiscan: not found") {
		t.Errorf("missing scanner: %v %s", err, out)
	}
}

func TestPrePushHookChainsStdin(t *testing.T) {
	fake, log := fakeXaiscan(t)
	remote := t.TempDir()
	git(t, remote, "init", "-q", "--bare")
	dir := newRepo(t)
	c1 := commit(t, dir, "a", "1")
	git(t, dir, "remote", "add", "origin", remote)
	hooks := filepath.Join(dir, ".git", "hooks")
	os.MkdirAll(hooks, 0o755)
	localLog := filepath.Join(t.TempDir(), "local")
	existing := "#!/bin/sh\necho \"local $*\" >>'" + localLog + "'\ncat >>'" + localLog + "'\nexit ${LOCAL_EXIT:-0}\n"
	os.WriteFile(filepath.Join(hooks, "pre-push"), []byte(existing), 0o755)
	if _, err := Install(dir, PrePush, ""); err != nil {
		t.Fatal(err)
	}
	line := "refs/heads/main " + c1 + " refs/heads/main " + z + "\n"
	tmpdir := t.TempDir()
	t.Setenv("TMPDIR", tmpdir)

	if out, err := gitErr(dir, []string{pathEnv(fake), "FAKE_EXIT=1"}, "push", "-q", "origin", "main"); err == nil {
		t.Fatalf("push not blocked: %s", out)
	}
	if got, want := readLog(t, log), "xaiscan pre-push origin "+remote+"\n"+line; got != want {
		t.Errorf("xaiscan got %q, want %q", got, want)
	}
	if got, want := readLog(t, localLog), "local origin "+remote+"\n"+line; got != want {
		t.Errorf("chained hook got %q, want %q", got, want)
	}
	if out, err := gitErr(dir, []string{pathEnv(fake), "LOCAL_EXIT=5"}, "push", "-q", "origin", "main"); err == nil {
		t.Fatalf("push not blocked by the chained hook: %s", out)
	}
	if got := readLog(t, log); got != "" {
		t.Errorf("xaiscan ran after the chained hook failed: %q", got)
	}
	if out, err := gitErr(dir, []string{pathEnv(fake)}, "push", "-q", "origin", "main"); err != nil {
		t.Fatalf("clean push blocked: %s", out)
	}
	if left, _ := os.ReadDir(tmpdir); len(left) > 0 {
		t.Errorf("the hook left %d temporary files", len(left))
	}
}
