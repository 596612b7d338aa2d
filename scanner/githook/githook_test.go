package githook

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/scanner/gittest"
)

func TestMain(m *testing.M) {
	gittest.Isolate()
	os.Exit(m.Run())
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Must(t, dir, nil, args...)
}

func gitErr(dir string, env []string, args ...string) (string, error) {
	return gittest.Run(dir, env, "", args...)
}

func newRepo(t *testing.T) string {
	dir := t.TempDir()
	git(t, dir, "init", "-q", "-b", "main")
	return dir
}

func commit(t *testing.T, dir, file, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", file)
	git(t, dir, "commit", "-q", "--no-verify", "-m", file)
	return git(t, dir, "rev-parse", "HEAD")
}

const (
	z  = "0000000000000000000000000000000000000000"
	s1 = "1111111111111111111111111111111111111111"
	s2 = "2222222222222222222222222222222222222222"
)

func TestParsePrePush(t *testing.T) {
	in := "refs/heads/new " + s1 + " refs/heads/new " + z + "\n" +
		"\n" +
		"refs/heads/main " + s2 + " refs/heads/main " + s1 + "\n" +
		"(delete) " + z + " refs/heads/old " + s2 + "\n"
	ups, err := ParsePrePush(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 3 {
		t.Fatalf("got %d updates", len(ups))
	}
	if !ups[0].IsNew() || ups[0].IsDelete() {
		t.Errorf("new branch: %+v", ups[0])
	}
	if ups[1].IsNew() || ups[1].IsDelete() {
		t.Errorf("update: %+v", ups[1])
	}
	if !ups[2].IsDelete() {
		t.Errorf("delete: %+v", ups[2])
	}
	inc, exc := Revisions(ups, []string{"refs/remotes/origin/main"})
	if !reflect.DeepEqual(inc, []string{s1, s2}) || !reflect.DeepEqual(exc, []string{"refs/remotes/origin/main"}) {
		t.Errorf("include %v exclude %v", inc, exc)
	}
	// Only a delete: nothing to scan.
	inc, exc = Revisions(ups[2:], []string{"x"})
	if inc != nil || exc != nil {
		t.Errorf("delete only: include %v exclude %v", inc, exc)
	}
	// Empty input: nothing pushed.
	if ups, err := ParsePrePush(strings.NewReader("")); err != nil || len(ups) != 0 {
		t.Errorf("empty: %v %v", ups, err)
	}
	for _, bad := range []string{"a b c\n", "refs/heads/x nothex refs/heads/x " + z + "\n", "a " + s1 + " b " + s1 + " extra\n"} {
		if _, err := ParsePrePush(strings.NewReader("\n" + bad)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("ParsePrePush(%q) error = %v, want line 2", bad, err)
		}
	}
}

func TestPushRevisions(t *testing.T) {
	remote := t.TempDir()
	git(t, remote, "init", "-q", "--bare")
	dir := newRepo(t)
	c1 := commit(t, dir, "a", "1")
	git(t, dir, "remote", "add", "origin", remote)
	git(t, dir, "push", "-q", "--no-verify", "origin", "main")
	c2 := commit(t, dir, "b", "2")

	// Update: exclude the remote sha (present locally) and tracking refs.
	inc, exc, err := PushRevisions(dir, "origin", []Update{{"refs/heads/main", c2, "refs/heads/main", c1}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inc, []string{c2}) || !reflect.DeepEqual(exc, []string{c1, "refs/remotes/origin/main"}) {
		t.Errorf("update: include %v exclude %v", inc, exc)
	}
	// New branch: exclude the remote's tracking refs.
	inc, exc, err = PushRevisions(dir, "origin", []Update{{"refs/heads/topic", c2, "refs/heads/topic", z}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inc, []string{c2}) || !reflect.DeepEqual(exc, []string{"refs/remotes/origin/main"}) {
		t.Errorf("new branch: include %v exclude %v", inc, exc)
	}
	// New branch to a remote given as a URL (no tracking refs): whole
	// history; an unknown remote sha is not excluded.
	inc, exc, err = PushRevisions(dir, remote, []Update{{"refs/heads/topic", c2, "refs/heads/topic", z}, {"refs/heads/main", c2, "refs/heads/main", s1}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(inc, []string{c2}) || len(exc) != 0 {
		t.Errorf("url remote: include %v exclude %v", inc, exc)
	}
	// Up to date: nothing.
	inc, _, _ = PushRevisions(dir, "origin", []Update{{"refs/heads/main", c1, "refs/heads/main", c1}})
	if len(inc) != 0 {
		t.Errorf("no-op push: include %v", inc)
	}
}

func TestPushFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if _, _, ok := PushFromEnv(env(nil)); ok {
		t.Error("empty environment is not pre-commit's")
	}
	ups, remote, ok := PushFromEnv(env(map[string]string{
		"PRE_COMMIT_FROM_REF": s1, "PRE_COMMIT_TO_REF": s2, "PRE_COMMIT_REMOTE_NAME": "origin",
		"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main", "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main",
	}))
	if !ok || remote != "origin" || len(ups) != 1 || ups[0].LocalSHA != s2 || ups[0].RemoteSHA != s1 {
		t.Fatalf("update: %+v %q %v", ups, remote, ok)
	}
	if inc, _ := Revisions(ups, nil); !reflect.DeepEqual(inc, []string{s2}) {
		t.Errorf("include %v", inc)
	}
	// Whole history (pre-commit's all_files): only the local ref is known.
	ups, _, ok = PushFromEnv(env(map[string]string{"PRE_COMMIT_REMOTE_NAME": "origin", "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main"}))
	if !ok || len(ups) != 1 || !ups[0].IsNew() {
		t.Fatalf("all files: %+v %v", ups, ok)
	}
	if inc, _ := Revisions(ups, nil); !reflect.DeepEqual(inc, []string{"refs/heads/main"}) {
		t.Errorf("include %v", inc)
	}
}

func TestReadPush(t *testing.T) {
	none := func(string) string { return "" }
	line := "refs/heads/main " + s2 + " refs/heads/main " + s1 + "\n"
	ups, remote, err := ReadPush(strings.NewReader(line), []string{"origin", "https://example.invalid/r.git"}, none)
	if err != nil || remote != "origin" || len(ups) != 1 || ups[0].LocalSHA != s2 {
		t.Fatalf("stdin: %+v %q %v", ups, remote, err)
	}
	env := func(k string) string {
		return map[string]string{"PRE_COMMIT_TO_REF": s1, "PRE_COMMIT_FROM_REF": s2, "PRE_COMMIT_REMOTE_NAME": "up"}[k]
	}
	ups, remote, err = ReadPush(strings.NewReader("garbage that is not read\n"), nil, env)
	if err != nil || remote != "up" || len(ups) != 1 || ups[0].LocalSHA != s1 {
		t.Fatalf("env: %+v %q %v", ups, remote, err)
	}
	if _, _, err := ReadPush(strings.NewReader("bad\n"), nil, none); err == nil {
		t.Error("bad stdin: no error")
	}
}
