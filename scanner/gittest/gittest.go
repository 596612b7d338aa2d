// Package gittest helps tests build real git repositories with the git
// binary, isolated from the user's and the system's git configuration and
// from the environment of a hook the tests might themselves run under.
//
// It is test support: only _test.go files import it.
package gittest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Isolate makes git commands of this process ignore the user's and the
// system's configuration and any GIT_* location variables a surrounding
// hook set. Call it from TestMain, before the tests run.
func Isolate() {
	for _, k := range []string{"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY"} {
		os.Unsetenv(k)
	}
	os.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	os.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, k := range []string{"GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"} {
		os.Setenv(k, "t")
	}
	for _, k := range []string{"GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"} {
		os.Setenv(k, "t@e")
	}
}

// baseConfig is passed to every git command: deterministic, unsigned,
// no background maintenance.
var baseConfig = []string{
	"-c", "user.name=t", "-c", "user.email=t@e",
	"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false",
	"-c", "init.defaultBranch=main", "-c", "core.autocrlf=false",
	"-c", "gc.auto=0", "-c", "maintenance.auto=false",
}

// Run runs git with args in dir, with env added to this process's
// environment and stdin (if not empty) as its input, and returns its
// combined output.
func Run(dir string, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.Command("git", append(append([]string{}, baseConfig...), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Must runs git like Run and fails the test on error; it returns the
// trimmed output.
func Must(t testing.TB, dir string, env []string, args ...string) string {
	t.Helper()
	Require(t)
	out, err := Run(dir, env, "", args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// Require skips the test when the git binary, which builds the fixtures,
// is not installed (xaiscan itself never needs it).
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not available to build fixtures")
	}
}

// WriteFile writes content to the slash path rel under root, creating
// directories as needed.
func WriteFile(t testing.TB, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
