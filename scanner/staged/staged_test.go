package staged

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

type loc struct {
	path      string
	line, col int
	key       string
}

func locs(res scanner.Result) []loc {
	var out []loc
	for _, f := range res.Findings {
		out = append(out, loc{f.Path, f.Line, f.Column, f.Key})
	}
	return out
}

func wantFindings(t *testing.T, res scanner.Result, want ...loc) {
	t.Helper()
	got := locs(res)
	if len(got) != len(want) {
		t.Fatalf("got %d findings %v, want %d", len(got), redactAll(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d = %s:%d:%d, want %s:%d:%d (same key: %v)", i,
				got[i].path, got[i].line, got[i].col, want[i].path, want[i].line, want[i].col, got[i].key == want[i].key)
		}
	}
	for _, f := range res.Findings {
		if f.Source != scanner.SourceStaged {
			t.Errorf("source = %q", f.Source)
		}
	}
}

func redactAll(ls []loc) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.path+":"+strconv.Itoa(l.line))
	}
	return out
}

func TestNewFileBeforeFirstCommit(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	r.write("config/app.env", "A=1\nB=2\nXAI_API_KEY="+k+"\n")
	r.write("clean.txt", "nothing here\n")
	r.git("add", "-A")
	res := scan(t, r.dir)
	wantFindings(t, res, loc{"config/app.env", 3, 13, k})
	if res.Coverage.Files != 2 {
		t.Errorf("files = %d, want 2", res.Coverage.Files)
	}
}

func TestNewFileAfterCommitAndSubdirectory(t *testing.T) {
	r := newRepo(t)
	r.write("README", "hello\n")
	r.commitAll("init")
	k := rulestest.ManagementKey()
	r.write("deep/er/x.go", "package x\n\nconst k = \""+k+"\"\n")
	r.git("add", "deep")
	// Opening from a subdirectory finds the repository.
	res := scan(t, filepath.Join(r.dir, "deep"))
	wantFindings(t, res, loc{"deep/er/x.go", 3, 12, k})
	if res.Findings[0].Rule != "xai-management-key" {
		t.Errorf("rule = %s", res.Findings[0].Rule)
	}
	// Not staged: nothing.
	r.write("unstaged.txt", rulestest.APIKey()+"\n")
	wantFindings(t, scan(t, r.dir), loc{"deep/er/x.go", 3, 12, k})
}

func TestPartiallyStaged(t *testing.T) {
	r := newRepo(t)
	r.write("f.txt", "one\ntwo\nthree\n")
	r.commitAll("init")

	// Key only in the working tree: the staged version is clean.
	wk := rulestest.APIKey()
	r.write("f.txt", "one\ntwo changed\nthree\n")
	r.git("add", "f.txt")
	r.write("f.txt", "one\ntwo changed\nthree\nk="+wk+"\n")
	wantFindings(t, scan(t, r.dir))

	// Key only in the index: reported with the index's line number, even
	// though the working tree moved (and dropped) it.
	ik := rulestest.APIKey()
	r.write("f.txt", "one\ntwo\nthree\nfour\nk="+ik+"\n")
	r.git("add", "f.txt")
	r.write("f.txt", "zero\n\n\n\n\n\n\none\n")
	wantFindings(t, scan(t, r.dir), loc{"f.txt", 5, 3, ik})
}

func TestCommittedKeysNotReported(t *testing.T) {
	r := newRepo(t)
	old := rulestest.APIKey()
	r.write("a.env", "K="+old+"\n")
	r.write("b.env", "K="+old+"\n")
	r.commitAll("init")

	// Moved down, unchanged key: not new.
	r.write("a.env", "# header\n\n\nK="+old+"\n")
	r.git("add", "a.env")
	wantFindings(t, scan(t, r.dir))

	// A new key next to the committed one is reported, the old is not.
	nk := rulestest.APIKey()
	r.write("a.env", "# header\nN="+nk+"\nK="+old+"\n")
	r.git("add", "a.env")
	wantFindings(t, scan(t, r.dir), loc{"a.env", 2, 3, nk})

	// The committed key copied to a new path is what this commit adds
	// there: reported.
	r.git("reset", "-q")
	r.write("c.env", "K="+old+"\n")
	r.git("add", "c.env")
	wantFindings(t, scan(t, r.dir), loc{"c.env", 1, 3, old})
}

func TestDeletionAndRename(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	r.write("secret.env", "K="+k+"\n")
	r.write("other.env", "K="+k+"\n")
	r.commitAll("init")
	r.git("rm", "-q", "other.env")
	wantFindings(t, scan(t, r.dir))
	// A rename carries a committed key; it is not new.
	if err := os.Mkdir(filepath.Join(r.dir, "moved"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.git("mv", "secret.env", "moved/secret.env")
	wantFindings(t, scan(t, r.dir))
}

func TestMergeConflict(t *testing.T) {
	r := newRepo(t)
	r.write("f.txt", "base\n")
	r.commitAll("init")
	r.git("checkout", "-q", "-b", "side")
	theirs := rulestest.APIKey()
	r.write("f.txt", "side "+theirs+"\n")
	r.commitAll("side")
	r.git("checkout", "-q", "main")
	r.write("f.txt", "main change\n")
	r.commitAll("main")
	if out, err := gitIn(r.dir, "", "merge", "side"); err == nil {
		t.Fatalf("merge should conflict:\n%s", out)
	}
	// Unmerged: recorded, not an error, no findings.
	res := scan(t, r.dir)
	wantFindings(t, res)
	if len(res.Coverage.Skipped) != 1 || res.Coverage.Skipped[0].Path != "f.txt" || res.Coverage.Skipped[0].IsError() {
		t.Errorf("skipped = %+v", res.Coverage.Skipped)
	}
	// Resolved with the side's content: that key was committed on the
	// merged branch, it is not what the merge commit leaks.
	r.git("checkout", "--theirs", "f.txt")
	r.git("add", "f.txt")
	wantFindings(t, scan(t, r.dir))
	// A new key introduced while resolving is reported.
	nk := rulestest.APIKey()
	r.write("f.txt", "side "+theirs+"\nresolved "+nk+"\n")
	r.git("add", "f.txt")
	wantFindings(t, scan(t, r.dir), loc{"f.txt", 2, 10, nk})
}

func TestWorktree(t *testing.T) {
	r := newRepo(t)
	r.write("README", "hi\n")
	r.commitAll("init")
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", "-b", "feature", wt)
	k := rulestest.APIKey()
	if err := os.WriteFile(filepath.Join(wt, "new.txt"), []byte(k+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := gitIn(wt, "", "add", "new.txt"); err != nil {
		t.Fatal(out)
	}
	wantFindings(t, scan(t, wt), loc{"new.txt", 1, 1, k})
	// The main worktree's index is separate.
	wantFindings(t, scan(t, r.dir))
}

func TestSubmoduleIntentToAddAndMissingBlob(t *testing.T) {
	r := newRepo(t)
	r.write("README", "hi\n")
	r.commitAll("init")
	head := r.git("rev-parse", "HEAD")
	r.git("update-index", "--add", "--cacheinfo", "160000,"+head+",sub")
	r.write("later.txt", rulestest.APIKey()+"\n")
	r.git("add", "-N", "later.txt")
	res := scan(t, r.dir)
	wantFindings(t, res)
	if len(res.Coverage.Skipped) != 1 || res.Coverage.Skipped[0].Path != "sub" || res.Coverage.Partial() {
		t.Errorf("skipped = %+v", res.Coverage.Skipped)
	}

	r.git("update-index", "--add", "--info-only", "--cacheinfo", "100644,"+strings.Repeat("ab", 20)+",ghost.txt")
	res = scan(t, r.dir)
	if !res.Coverage.Partial() {
		t.Errorf("missing blob not reported as partial: %+v", res.Coverage.Skipped)
	}
}

func TestBareRepositoryAndNotARepository(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(dir); err == nil {
		t.Error("New on a plain directory: no error")
	}
	bare := t.TempDir()
	gittest.Must(t, bare, nil, "init", "-q", "--bare")
	if _, err := New(bare); err == nil {
		t.Error("New on a bare repository: no error")
	}
}

func TestGitIndexFileHonoured(t *testing.T) {
	r := newRepo(t)
	r.write("f.txt", "clean\n")
	r.commitAll("init")
	k := rulestest.APIKey()
	r.write("f.txt", "clean\n"+k+"\n")
	// Build a temporary index the way "git commit -a" does.
	tmp := filepath.Join(t.TempDir(), "index.tmp")
	cmd := exec.Command("git", "add", "f.txt")
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_INDEX_FILE="+tmp)
	if err := exec.Command("cp", filepath.Join(r.dir, ".git", "index"), tmp).Run(); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	wantFindings(t, scan(t, r.dir))
	t.Setenv("GIT_INDEX_FILE", tmp)
	wantFindings(t, scan(t, r.dir), loc{"f.txt", 2, 1, k})
}

// TestRealHook runs the staged scan from real pre-commit hooks, including
// "git commit -a" (a temporary index) and core.hooksPath.
func TestRealHook(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, hooksPath := range []string{"", "custom-hooks"} {
		t.Run("hooksPath="+hooksPath, func(t *testing.T) {
			r := newRepo(t)
			hooks := filepath.Join(r.dir, ".git", "hooks")
			if hooksPath != "" {
				r.git("config", "core.hooksPath", hooksPath)
				hooks = filepath.Join(r.dir, hooksPath)
			}
			if err := os.MkdirAll(hooks, 0o755); err != nil {
				t.Fatal(err)
			}
			hook := "#!/bin/sh\n" + helperEnv + "=1 exec '" + self + "'\n"
			if err := os.WriteFile(filepath.Join(hooks, "pre-commit"), []byte(hook), 0o755); err != nil {
				t.Fatal(err)
			}
			r.write("f.txt", "clean\n")
			r.git("add", "-A")
			r.git("commit", "-q", "-m", "clean commit passes")

			r.write("f.txt", "clean\n"+rulestest.APIKey()+"\n")
			if out, err := gitIn(r.dir, "", "commit", "-q", "-a", "-m", "leak"); err == nil {
				t.Fatalf("commit -a with a key was not blocked:\n%s", out)
			} else if !strings.Contains(out, "f.txt: xai-...") {
				t.Errorf("hook output: %s", out)
			}
			if out, err := gitIn(r.dir, "", "commit", "-q", "-m", "leak", "f.txt"); err == nil {
				t.Fatalf("commit PATH with a key was not blocked:\n%s", out)
			}
			// Partially staged: the key stays in the working tree only.
			r.write("g.txt", "ok\n")
			r.git("add", "g.txt")
			if out, err := gitIn(r.dir, "", "commit", "-q", "-m", "partial"); err != nil {
				t.Fatalf("clean staged content blocked:\n%s", out)
			}
		})
	}
}

func TestIndexVersion4AndNoCacheTree(t *testing.T) {
	r := newRepo(t)
	for i := 0; i < 30; i++ {
		r.write("dir/sub/file"+strconv.Itoa(i)+".txt", "content "+strconv.Itoa(i)+"\n")
	}
	k := rulestest.APIKey()
	r.write("dir/sub/file7.txt", "content 7\n")
	r.commitAll("init")
	r.git("update-index", "--index-version", "4")
	r.write("dir/sub/file7.txt", "content 7\nkey "+k+"\n")
	r.write("dir/new/file.txt", "no key\n")
	r.git("add", "-A")
	wantFindings(t, scan(t, r.dir), loc{"dir/sub/file7.txt", 2, 5, k})
	// Rebuild the index entry by entry: its cache tree is invalid
	// everywhere, so the walk reads HEAD's trees.
	r.git("rm", "-q", "-r", "--cached", ".")
	r.git("add", "-A")
	idx, err := readIndex(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := idx.trees[""]; ok {
		t.Log("note: git kept a valid root cache tree")
	}
	wantFindings(t, scan(t, r.dir), loc{"dir/sub/file7.txt", 2, 5, k})
}

func TestParseIndexRejectsGarbage(t *testing.T) {
	r := newRepo(t)
	r.write("a/b.txt", "x\n")
	r.write("c.txt", "y\n")
	r.commitAll("init")
	good, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parseIndex(good); err != nil {
		t.Fatalf("valid index: %v", err)
	}
	// Every truncation and many corruptions must fail or succeed
	// cleanly, never panic.
	for n := 0; n < len(good); n++ {
		parseIndex(good[:n])
		bad := append([]byte(nil), good...)
		bad[n] ^= 0xff
		parseIndex(bad)
	}
	for _, b := range [][]byte{nil, []byte("DIRC"), []byte("NOPE00000000000000000000000000000000")} {
		if _, err := parseIndex(b); err == nil {
			t.Errorf("parseIndex(%q): no error", b)
		}
	}
}

func TestRoot(t *testing.T) {
	r := newRepo(t)
	os.MkdirAll(filepath.Join(r.dir, "x", "y"), 0o755)
	src, err := New(filepath.Join(r.dir, "x", "y"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(r.dir)
	got, _ := filepath.EvalSymlinks(src.Root())
	if got != want {
		t.Errorf("Root() = %s, want %s", got, want)
	}
}

// A key compiled into a binary touches other strings; once committed, a
// rebuilt binary that still holds it adds nothing new.
func TestCommittedKeyInBinaryNotReported(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	bin := "\x7fELF\x02\x01\x00\x00strings" + k + "reflect.Value\x00"
	r.write("app", bin)
	r.git("add", "app")
	wantFindings(t, scan(t, r.dir), loc{"app", 1, 16, k})
	r.commitAll("build")

	r.write("app", bin+"more code\x00")
	r.git("add", "app")
	wantFindings(t, scan(t, r.dir))
}
