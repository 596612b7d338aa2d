package staged

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// scanNamed runs a named-files check of paths (relative to the root) in
// the repository at dir, as "xaiscan staged -- PATH..." does.
func scanNamed(t *testing.T, dir string, known func(scanner.Finding) bool, paths ...string) scanner.Result {
	t.Helper()
	src, err := New(dir)
	if err != nil {
		t.Fatalf("New(%s): %v", dir, err)
	}
	src.Paths = paths
	src.Known = known
	res, err := scanner.New(scanner.Options{Workers: 2}).Run(context.Background(), src)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// skips renders coverage entries as "path kind" for comparison.
func skips(res scanner.Result) []string {
	var out []string
	for _, s := range res.Coverage.Skipped {
		out = append(out, s.Path+" "+s.Kind)
	}
	sort.Strings(out)
	return out
}

func hasNote(res scanner.Result, sub string) bool {
	for _, n := range res.Coverage.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

// The pre-commit framework's --all-files passes every tracked file with
// nothing staged: a key committed earlier must fail the check, where the
// plain staged scan (what the commit adds) rightly finds nothing.
func TestNamedFilesReportCommittedKeys(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	r.write("a.env", "A=1\nK="+k+"\n")
	r.write("b.txt", "clean\n")
	r.commitAll("leak past the hook")

	wantFindings(t, scan(t, r.dir))
	res := scanNamed(t, r.dir, nil, "a.env", "b.txt")
	wantFindings(t, res, loc{"a.env", 2, 3, k})
	if res.Coverage.Files != 2 || res.Coverage.Partial() {
		t.Errorf("coverage = %+v", res.Coverage)
	}
	if !hasNote(res, "1 finding is a key already committed") {
		t.Errorf("no note that the key was committed before: %q", res.Coverage.Notes)
	}
	// A normal commit that edits the file elsewhere: the committed key is
	// still in what is committed, so it is not silently passed.
	r.write("a.env", "A=2\nK="+k+"\n")
	r.git("add", "a.env")
	wantFindings(t, scan(t, r.dir))
	wantFindings(t, scanNamed(t, r.dir, nil, "a.env"), loc{"a.env", 2, 3, k})
	// A file without a key passes, and was read.
	res = scanNamed(t, r.dir, nil, "b.txt")
	wantFindings(t, res)
	if res.Coverage.Files != 1 || res.Coverage.Bytes != 6 {
		t.Errorf("b.txt not read: %+v", res.Coverage)
	}
}

// The count in the note leaves out what the caller suppresses as known,
// so it matches the report.
func TestNamedFilesNoteCountsOnlyReported(t *testing.T) {
	r := newRepo(t)
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	r.write("a.env", "K="+k1+"\n")
	r.write("b.env", "K="+k2+"\n")
	r.commitAll("init")
	res := scanNamed(t, r.dir, nil, "a.env", "b.env")
	if !hasNote(res, "2 findings are keys already committed") {
		t.Errorf("notes = %q", res.Coverage.Notes)
	}
	fp1 := rules.Fingerprint([]byte(k1))
	res = scanNamed(t, r.dir, func(f scanner.Finding) bool { return f.Fingerprint == fp1 }, "a.env", "b.env")
	if !hasNote(res, "1 finding is a key already committed") {
		t.Errorf("notes with one known key = %q", res.Coverage.Notes)
	}
	// A new key gets no such note.
	r.write("c.env", "K="+rulestest.APIKey()+"\n")
	r.git("add", "c.env")
	if res := scanNamed(t, r.dir, nil, "c.env"); len(res.Coverage.Notes) != 0 || len(res.Findings) != 1 {
		t.Errorf("new key: findings %d, notes %q", len(res.Findings), res.Coverage.Notes)
	}
}

// The staged version is read, not the working tree: partially staged
// files are checked as they will be committed, with its line numbers.
func TestNamedFilesReadTheIndex(t *testing.T) {
	r := newRepo(t)
	r.write("f.txt", "one\n")
	r.commitAll("init")
	k := rulestest.APIKey()
	r.write("f.txt", "one\ntwo\nk="+k+"\n")
	r.git("add", "f.txt")
	r.write("f.txt", "clean now\n")
	wantFindings(t, scanNamed(t, r.dir, nil, "f.txt"), loc{"f.txt", 3, 3, k})

	r.write("f.txt", "one\n")
	r.git("add", "f.txt")
	r.write("f.txt", "one\nk="+rulestest.APIKey()+"\n")
	wantFindings(t, scanNamed(t, r.dir, nil, "f.txt"))

	// A tracked file deleted from the working tree only is still in the
	// commit: its staged version is read.
	r.write("g.txt", "k="+k+"\n")
	r.git("add", "g.txt")
	if err := os.Remove(filepath.Join(r.dir, "g.txt")); err != nil {
		t.Fatal(err)
	}
	wantFindings(t, scanNamed(t, r.dir, nil, "g.txt"), loc{"g.txt", 1, 3, k})
}

// "" is the whole tree and a directory stands for the files under it.
func TestNamedFilesWholeTreeAndDirectories(t *testing.T) {
	r := newRepo(t)
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	r.write("top.env", "K="+k1+"\n")
	r.write("dir/sub/deep.env", "K="+k2+"\n")
	r.write("dir/clean.txt", "x\n")
	r.write("dirty/other.txt", "no\n") // shares a prefix with "dir", not a parent
	r.commitAll("init")
	res := scanNamed(t, r.dir, nil, "")
	wantFindings(t, res, loc{"dir/sub/deep.env", 1, 3, k2}, loc{"top.env", 1, 3, k1})
	if res.Coverage.Files != 4 {
		t.Errorf("files = %d, want 4", res.Coverage.Files)
	}
	res = scanNamed(t, r.dir, nil, "dir")
	wantFindings(t, res, loc{"dir/sub/deep.env", 1, 3, k2})
	if res.Coverage.Files != 2 {
		t.Errorf("dir: files = %d, want 2", res.Coverage.Files)
	}
	// Duplicates are read once.
	if res := scanNamed(t, r.dir, nil, "top.env", "top.env", "dir/sub/deep.env"); res.Coverage.Files != 2 || len(res.Findings) != 2 {
		t.Errorf("duplicates: %+v, %d findings", res.Coverage, len(res.Findings))
	}
}

// pre-commit splits a long file list over several runs of the hook; each
// run must be right about its own files, and together they find every key.
func TestNamedFilesSplitAcrossRuns(t *testing.T) {
	r := newRepo(t)
	var names []string
	want := map[string]bool{}
	for i := 0; i < 40; i++ {
		name := fmt.Sprintf("f%02d.txt", i)
		content := "clean\n"
		if i%7 == 3 {
			content = "k=" + rulestest.APIKey() + "\n"
			want[name] = true
		}
		r.write(name, content)
		names = append(names, name)
	}
	r.commitAll("init")
	all := map[string]bool{}
	for _, part := range [][]string{names[:13], names[13:27], names[27:]} {
		res := scanNamed(t, r.dir, nil, part...)
		if res.Coverage.Files != int64(len(part)) || res.Coverage.Partial() {
			t.Errorf("part %v: coverage %+v", part, res.Coverage)
		}
		for _, f := range res.Findings {
			if !contains(part, f.Path) {
				t.Errorf("part %v reported %s, outside its files", part, f.Path)
			}
			all[f.Path] = true
		}
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("findings over all parts = %v, want %v", all, want)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Named paths the index does not have: an untracked file is read from the
// working tree; an untracked directory and a name found nowhere are
// errors; a path only HEAD has (deleted) and an untracked symlink are
// listed as excluded.
func TestNamedFilesNotInTheIndex(t *testing.T) {
	r := newRepo(t)
	r.write("gone.txt", "x\n")
	r.write("kept.txt", "y\n")
	r.commitAll("init")
	r.git("rm", "-q", "gone.txt")
	k := rulestest.APIKey()
	r.write("new.env", "K="+k+"\n")
	r.write("newdir/f.txt", "z\n")
	if err := os.Symlink("kept.txt", filepath.Join(r.dir, "link")); err != nil {
		t.Fatal(err)
	}
	res := scanNamed(t, r.dir, nil, "new.env", "newdir", "gone.txt", "link", "typo.txt", "kept.txt")
	if len(res.Findings) != 1 || res.Findings[0].Path != "new.env" || res.Findings[0].Source != scanner.SourceFile || res.Findings[0].Line != 1 {
		t.Errorf("findings = %+v", locs(res))
	}
	want := []string{"gone.txt excluded", "link excluded", "newdir error", "typo.txt error"}
	if got := skips(res); !reflect.DeepEqual(got, want) {
		t.Errorf("skipped = %v, want %v", got, want)
	}
	if !res.Coverage.Partial() || res.Coverage.Files != 2 {
		t.Errorf("coverage = %+v", res.Coverage)
	}
	if !hasNote(res, "1 named file(s) not in the index (untracked) were read from the working tree") {
		t.Errorf("notes = %q", res.Coverage.Notes)
	}
	// A deleted path alone is a clean, complete result: nothing to read.
	if res := scanNamed(t, r.dir, nil, "gone.txt"); res.Coverage.Partial() || len(res.Findings) != 0 {
		t.Errorf("deleted only: %+v", res.Coverage)
	}
}

// Index entries that hold nothing to commit are listed, not read, and not
// errors: an unresolved conflict, a submodule, "git add -N".
func TestNamedFilesUnmergedSubmoduleIntentToAdd(t *testing.T) {
	r := newRepo(t)
	r.write("f.txt", "base\n")
	r.commitAll("init")
	head := r.git("rev-parse", "HEAD")
	r.git("checkout", "-q", "-b", "side")
	r.write("f.txt", "side\n")
	r.commitAll("side")
	r.git("checkout", "-q", "main")
	r.write("f.txt", "main\n")
	r.commitAll("main")
	if out, err := gitIn(r.dir, "", "merge", "side"); err == nil {
		t.Fatalf("merge should conflict:\n%s", out)
	}
	r.git("update-index", "--add", "--cacheinfo", "160000,"+head+",sub")
	r.write("later.txt", "k="+rulestest.APIKey()+"\n")
	r.git("add", "-N", "later.txt")
	res := scanNamed(t, r.dir, nil, "")
	wantFindings(t, res)
	want := []string{"f.txt excluded", "later.txt excluded", "sub excluded"}
	if got := skips(res); !reflect.DeepEqual(got, want) || res.Coverage.Partial() {
		t.Errorf("skipped = %v, want %v", got, want)
	}
}

// A missing staged blob is an error naming the path, as in the plain scan.
func TestNamedFilesMissingBlob(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commitAll("init")
	r.git("update-index", "--add", "--info-only", "--cacheinfo", "100644,"+strings.Repeat("ab", 20)+",ghost.txt")
	res := scanNamed(t, r.dir, nil, "ghost.txt", "a.txt")
	if got := skips(res); !reflect.DeepEqual(got, []string{"ghost.txt error"}) || res.Coverage.Files != 1 {
		t.Errorf("skipped = %v, coverage %+v", got, res.Coverage)
	}
}

// With a sparse index, the directories outside the cone are single tree
// entries; the files under them are read from their trees.
func TestNamedFilesSparseIndex(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	r.write("in/a.txt", "a\n")
	r.write("out/deep/b.env", "K="+k+"\n")
	r.write("out/c.txt", "c\n")
	r.commitAll("init")
	if out, err := gitIn(r.dir, "", "sparse-checkout", "set", "--cone", "--sparse-index", "in"); err != nil {
		t.Skipf("git cannot make a sparse index: %s", out)
	}
	// go-git refuses extensions.worktreeConfig, which sparse-checkout
	// turns on; the index stays sparse without it.
	gitIn(r.dir, "", "config", "--unset", "extensions.worktreeConfig")
	idx, err := readIndex(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	sparse := false
	for _, e := range idx.entries {
		sparse = sparse || strings.HasSuffix(e.name, "/")
	}
	if !sparse {
		t.Skip("git wrote a full index")
	}
	res := scanNamed(t, r.dir, nil, "")
	wantFindings(t, res, loc{"out/deep/b.env", 1, 3, k})
	if res.Coverage.Files != 3 || res.Coverage.Partial() {
		t.Errorf("coverage = %+v", res.Coverage)
	}
	res = scanNamed(t, r.dir, nil, "out/deep/b.env")
	wantFindings(t, res, loc{"out/deep/b.env", 1, 3, k})
	if res.Coverage.Files != 1 {
		t.Errorf("one file under a sparse directory: %+v", res.Coverage)
	}
}

// "git commit -a" runs the hook against a temporary index: the named
// files are read from it.
func TestNamedFilesGitIndexFile(t *testing.T) {
	r := newRepo(t)
	r.write("f.txt", "clean\n")
	r.commitAll("init")
	k := rulestest.APIKey()
	r.write("f.txt", "clean\n"+k+"\n")
	tmp := filepath.Join(t.TempDir(), "index.tmp")
	data, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := gittest.Run(r.dir, []string{"GIT_INDEX_FILE=" + tmp}, "", "add", "f.txt"); err != nil {
		t.Fatal(out)
	}
	wantFindings(t, scanNamed(t, r.dir, nil, "f.txt"))
	t.Setenv("GIT_INDEX_FILE", tmp)
	wantFindings(t, scanNamed(t, r.dir, nil, "f.txt"), loc{"f.txt", 2, 1, k})
}

func TestRepoPaths(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := RepoPaths(root, sub, []string{"x.txt", "../y.txt", "../../z/", ".", filepath.Join(root, "abs.txt"), "-dash"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a/b/x.txt", "a/y.txt", "z", "a/b", "abs.txt", "a/b/-dash"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RepoPaths = %q, want %q", got, want)
	}
	if got, err := RepoPaths(root, root, []string{"."}); err != nil || !reflect.DeepEqual(got, []string{""}) {
		t.Errorf("root itself = %q, %v", got, err)
	}
	for _, bad := range []string{"../../../outside", filepath.Dir(root), ""} {
		if _, err := RepoPaths(root, sub, []string{bad}); err == nil {
			t.Errorf("RepoPaths(%q): no error", bad)
		}
	}
	// A symlinked route to the same directory (macOS /tmp) is inside.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(root, link); err != nil {
		t.Skip(err)
	}
	if got, err := RepoPaths(root, filepath.Join(link, "a"), []string{"f"}); err != nil || !reflect.DeepEqual(got, []string{"a/f"}) {
		t.Errorf("through a symlink: %q, %v", got, err)
	}
}
