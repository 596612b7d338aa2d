package gitsource

import (
	"bufio"
	"context"
	"errors"
	"fmt"
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

// helperEnv makes the test binary scan the repository it names and print
// its coverage, so a test can scan as another user (permissions do not
// stop root).
const helperEnv = "XAISCAN_GITSOURCE_TEST_SCAN"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		os.Exit(helperScan(dir))
	}
	os.Exit(m.Run())
}

// helperScan prints one line per coverage entry ("kind<TAB>path<TAB>reason")
// and one "finding<TAB>path" line per finding.
func helperScan(dir string) int {
	src, err := New(dir, Options{})
	if err != nil {
		fmt.Println("open\t\t" + err.Error())
		return 0
	}
	res, err := scanner.New(scanner.Options{Workers: 2}).Run(context.Background(), src)
	if err != nil {
		fmt.Println("run\t\t" + err.Error())
	}
	for _, s := range res.Coverage.Skipped {
		fmt.Printf("%s\t%s\t%s\n", s.Kind, s.Path, s.Reason)
	}
	for _, f := range res.Findings {
		fmt.Printf("finding\t%s\n", f.Path)
	}
	return 0
}

// scanAsNobody scans dir in a child process running as uid/gid 65534, so
// file permissions apply even when the tests run as root (CI does). It
// skips the test where the process cannot change its credentials.
func scanAsNobody(t *testing.T, dir string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Skip("cannot find the test binary:", err)
	}
	// The child must be able to reach the binary and the repository.
	bin := filepath.Join(t.TempDir(), "gitsource.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
		os.Chmod(d, 0o755)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	if os.Getuid() == 0 {
		runAsNobody(cmd)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run a scan as an unprivileged user here: %v\n%s", err, out)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// openForAll makes the repository readable by any user, up to /.
func openForAll(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.Chmod(p, 0o755)
		}
		return os.Chmod(p, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o005)
		}
	}
}

// errorEntry returns the first coverage error whose path is path, failing
// the test if there is none.
func errorEntry(t *testing.T, res scanner.Result, path string) scanner.Skipped {
	t.Helper()
	for _, s := range res.Coverage.Skipped {
		if s.Path == path && s.IsError() {
			return s
		}
	}
	t.Fatalf("no coverage error for %q in %+v", path, res.Coverage.Skipped)
	return scanner.Skipped{}
}

func TestIntegrityAlternates(t *testing.T) {
	r := newRepo(t)
	key := rulestest.APIKey()
	r.write("a.env", "k="+key+"\n")
	r.commit("a")
	clone := filepath.Join(t.TempDir(), "clone")
	r.gitIn(filepath.Dir(clone), "clone", "-q", "--shared", r.dir, clone)

	// A healthy alternate lends its objects: no error, the key is found.
	res := scan(t, clone, Options{})
	noErrors(t, res)
	one(t, byKey(res), key, "through the alternate")

	// An alternate that does not exist is an error naming it; the rest of
	// the store is still read.
	alt := filepath.Join(clone, ".git", "objects", "info", "alternates")
	gone := filepath.Join(t.TempDir(), "gone", "objects")
	f, _ := os.OpenFile(alt, os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintln(f, gone)
	f.Close()
	res = scan(t, clone, Options{})
	e := errorEntry(t, res, "objects/info/alternates")
	if !strings.Contains(e.Reason, gone) || !strings.Contains(e.Reason, "does not exist") {
		t.Errorf("alternate: %q", e.Reason)
	}
	one(t, byKey(res), key, "the other alternate still counts")

	// The only alternate gone: the clone's refs name objects nowhere.
	os.WriteFile(alt, []byte(gone+"\n"), 0o644)
	res = scan(t, clone, Options{})
	errorEntry(t, res, "objects/info/alternates")
	e = errorEntry(t, res, "refs/heads/main")
	if !strings.Contains(e.Reason, "not in the object store") {
		t.Errorf("ref: %q", e.Reason)
	}

	// A file where a directory should be.
	os.WriteFile(alt, []byte(alt+"\n"), 0o644)
	e = errorEntry(t, scan(t, clone, Options{}), "objects/info/alternates")
	if !strings.Contains(e.Reason, "not a directory") {
		t.Errorf("alternate file: %q", e.Reason)
	}
}

func TestIntegrityDeletedPacks(t *testing.T) {
	r := newRepo(t)
	r.write("a.env", "k="+rulestest.APIKey()+"\n")
	r.commit("a")
	r.git("gc", "-q")
	packs, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack"))
	if len(packs) != 1 {
		t.Fatalf("packs: %v", packs)
	}
	if err := os.Remove(packs[0]); err != nil {
		t.Fatal(err)
	}
	res := scan(t, r.dir, Options{})
	if !res.Coverage.Partial() || len(res.Findings) != 0 {
		t.Fatalf("deleted pack: %+v", res.Coverage)
	}
	if e := errorEntry(t, res, "objects"); !strings.Contains(e.Reason, "holds no objects") {
		t.Errorf("empty store: %q", e.Reason)
	}
	idx := relPack(strings.TrimSuffix(packs[0], ".pack") + ".idx")
	if e := errorEntry(t, res, idx); !strings.Contains(e.Reason, "without its pack") || !strings.Contains(e.Reason, "in no other pack") {
		t.Errorf("orphan index: %q", e.Reason)
	}
	errorEntry(t, res, "refs/heads/main")

	// A leftover index whose objects are all in another pack is harmless.
	r2 := newRepo(t)
	r2.write("a.txt", "a\n")
	r2.commit("a")
	r2.git("gc", "-q")
	old := packOf(t, r2)
	leftover, _ := os.ReadFile(old)
	r2.git("repack", "-a", "-d", "-f", "-q", "--depth=0", "--window=0")
	r2.write("b.txt", "b\n")
	r2.commit("b")
	r2.git("repack", "-a", "-d", "-q")
	os.WriteFile(filepath.Join(filepath.Dir(old), "pack-"+strings.Repeat("0", 40)+".idx"), leftover, 0o644)
	res2 := scan(t, r2.dir, Options{})
	noErrors(t, res2)
	if !strings.Contains(fmt.Sprint(res2.Coverage.Skipped), "leftover") {
		t.Errorf("leftover index: %+v", res2.Coverage.Skipped)
	}

	// The index gone too: the refs still say what is missing.
	os.Remove(strings.TrimSuffix(packs[0], ".pack") + ".idx")
	res = scan(t, r.dir, Options{})
	errorEntry(t, res, "refs/heads/main")
	errorEntry(t, res, "objects")
}

func TestIntegrityMissingPackIndex(t *testing.T) {
	r := newRepo(t)
	r.write("a.env", "k="+rulestest.APIKey()+"\n")
	r.commit("a")
	r.git("gc", "-q")
	idx := packOf(t, r)
	os.Remove(idx)
	res := scan(t, r.dir, Options{})
	e := errorEntry(t, res, relPack(strings.TrimSuffix(idx, ".idx")+".pack"))
	if !strings.Contains(e.Reason, "index") || !strings.Contains(e.Reason, "missing") {
		t.Errorf("missing index: %q", e.Reason)
	}
}

func TestIntegrityMissingTip(t *testing.T) {
	r := newRepo(t)
	kOld, kSide := rulestest.APIKey(), rulestest.APIKey()
	r.write("old.env", "k="+kOld+"\n")
	first := r.commit("first")
	r.write("b.txt", "b\n")
	tip := r.commit("main's tip, to be lost")
	r.git("checkout", "-q", "-b", "side")
	r.write("side.env", "k="+kSide+"\n")
	side := r.commit("side work")
	r.git("checkout", "-q", "main")
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", tip[:2], tip[2:])); err != nil {
		t.Fatal(err)
	}
	res := scan(t, r.dir, Options{})
	e := errorEntry(t, res, "refs/heads/main")
	if !strings.Contains(e.Reason, tip) {
		t.Errorf("missing tip: %q", e.Reason)
	}
	m := byKey(res)
	// The side branch still counts as a ref: its key is reachable.
	if f := one(t, m, kSide, "side"); f.Commit != side || !isTrue(f.Reachable) {
		t.Errorf("side: %s", describe([]scanner.Finding{f}))
	}
	// The key below the lost tip is attributed to the commit that really
	// introduced it, not to the side commit whose lost parent made it look
	// new; whether a ref reaches it is unknown, not "unreachable".
	f := one(t, m, kOld, "below the lost tip")
	if f.Commit != first || f.Path != "old.env" {
		t.Errorf("old key: %s", describe([]scanner.Finding{f}))
	}
	if f.Reachable != nil && !*f.Reachable {
		t.Errorf("old key: reachable=false claimed although a tip is missing")
	}
	if f.AtHead != nil {
		t.Errorf("old key: at_head claimed although HEAD's commit is missing")
	}
}

func TestIntegrityHead(t *testing.T) {
	t.Run("unborn", func(t *testing.T) {
		// A fresh repository, and an orphan branch: no commit yet is fine.
		r := newRepo(t)
		res := scan(t, r.dir, Options{})
		noErrors(t, res)
		r.commit("one")
		r.git("checkout", "-q", "--orphan", "fresh")
		noErrors(t, scan(t, r.dir, Options{}))
	})
	t.Run("detached at a missing commit", func(t *testing.T) {
		r := newRepo(t)
		r.commit("one")
		ghost := strings.Repeat("ab", 20)
		os.WriteFile(filepath.Join(r.dir, ".git", "HEAD"), []byte(ghost+"\n"), 0o644)
		if e := errorEntry(t, scan(t, r.dir, Options{}), "HEAD"); !strings.Contains(e.Reason, ghost) {
			t.Errorf("HEAD: %q", e.Reason)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		r := newRepo(t)
		r.commit("one")
		os.WriteFile(filepath.Join(r.dir, ".git", "HEAD"), []byte("not a ref\n"), 0o644)
		if e := errorEntry(t, scan(t, r.dir, Options{}), "HEAD"); !strings.Contains(e.Reason, "not a ref") {
			t.Errorf("HEAD: %q", e.Reason)
		}
	})
	t.Run("branch lost", func(t *testing.T) {
		// packed-refs deleted: HEAD's branch is gone though its reflog
		// says it existed.
		r := newRepo(t)
		c := r.commit("one")
		r.git("pack-refs", "--all")
		os.Remove(filepath.Join(r.dir, ".git", "packed-refs"))
		e := errorEntry(t, scan(t, r.dir, Options{}), "HEAD")
		if !strings.Contains(e.Reason, "refs/heads/main") || !strings.Contains(e.Reason, c) {
			t.Errorf("lost branch: %q", e.Reason)
		}
	})
	t.Run("symlink HEAD", func(t *testing.T) {
		// The old form of a symbolic HEAD (a link to refs/heads/main)
		// names the branch: it is not a detached HEAD.
		r := newRepo(t)
		key := rulestest.APIKey()
		r.write("a.env", "k="+key+"\n")
		r.commit("one")
		head := filepath.Join(r.dir, ".git", "HEAD")
		os.Remove(head)
		if err := os.Symlink("refs/heads/main", head); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
		res := scan(t, r.dir, Options{})
		noErrors(t, res)
		f := one(t, byKey(res), key, "a.env")
		if strings.Join(f.Refs, " ") != "refs/heads/main" {
			t.Errorf("refs %q, want only refs/heads/main (HEAD is that branch, not detached)", f.Refs)
		}
	})
	t.Run("broken loose ref", func(t *testing.T) {
		r := newRepo(t)
		r.commit("one")
		os.WriteFile(filepath.Join(r.dir, ".git", "refs", "heads", "empty"), nil, 0o644)
		if e := errorEntry(t, scan(t, r.dir, Options{}), "refs/heads/empty"); !strings.Contains(e.Reason, "empty") {
			t.Errorf("empty ref: %q", e.Reason)
		}
	})
}

func TestIntegrityUnreadableRefs(t *testing.T) {
	r := newRepo(t)
	key := rulestest.APIKey()
	r.write("a.env", "k="+key+"\n")
	r.commit("a")
	r.git("branch", "feature")
	r.git("pack-refs", "--all")
	r.git("branch", "loose")
	openForAll(t, r.dir)
	if lines := scanAsNobody(t, r.dir); strings.Contains(strings.Join(lines, "\n"), "error\t") {
		t.Fatalf("the readable repository already has errors: %q", lines)
	}

	os.Chmod(filepath.Join(r.dir, ".git", "packed-refs"), 0)
	os.Chmod(filepath.Join(r.dir, ".git", "refs", "heads", "loose"), 0)
	lines := scanAsNobody(t, r.dir)
	all := strings.Join(lines, "\n")
	for _, want := range []string{"error\tpacked-refs\tcannot read", "error\trefs/heads/loose\tcannot read", "finding\ta.env"} {
		if !strings.Contains(all, want) {
			t.Errorf("want %q in:\n%s", want, all)
		}
	}
	// Which branch HEAD names is unknown, not lost.
	if strings.Contains(all, "error\tHEAD") {
		t.Errorf("an unreadable packed-refs is not a lost HEAD:\n%s", all)
	}
}

// verifyPack returns, for each object of the repository's one pack, its
// offset, its size in the pack and (for deltas) its base.
func verifyPack(t *testing.T, r *testRepo) map[string][3]string {
	t.Helper()
	out := r.git("verify-pack", "-v", packOf(t, r))
	m := map[string][3]string{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 && len(f[0]) == 40 {
			base := ""
			if len(f) == 7 {
				base = f[6]
			}
			m[f[0]] = [3]string{f[4], f[3], base}
		}
	}
	return m
}

// flipChecksum corrupts the last byte of a pack entry: its zlib stream's
// Adler-32 checksum.
func flipChecksum(t *testing.T, r *testRepo, entry [3]string) {
	t.Helper()
	off, _ := strconv.ParseInt(entry[0], 10, 64)
	size, _ := strconv.ParseInt(entry[1], 10, 64)
	pack := strings.TrimSuffix(packOf(t, r), ".idx") + ".pack"
	b, err := os.ReadFile(pack)
	if err != nil {
		t.Fatal(err)
	}
	b[off+size-1] ^= 0xff
	os.Chmod(pack, 0o644)
	if err := os.WriteFile(pack, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedObjectsAreScanned(t *testing.T) {
	filler := strings.Repeat("padding after the key, so a cut stream keeps it\n", 200)
	t.Run("loose, checksum off", func(t *testing.T) {
		r := newRepo(t)
		key := rulestest.APIKey()
		r.write("a.env", "k="+key+"\n")
		r.commit("a")
		blob := r.git("rev-parse", "HEAD:a.env")
		p := filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])
		b, _ := os.ReadFile(p)
		b[len(b)-1] ^= 0xff
		os.Chmod(p, 0o644)
		os.WriteFile(p, b, 0o644)
		res := scan(t, r.dir, Options{})
		if e := errorEntry(t, res, blob); !strings.Contains(e.Reason, "checksum") || !strings.Contains(e.Reason, "scanned") {
			t.Errorf("damage: %q", e.Reason)
		}
		if f := one(t, byKey(res), key, "checksum off"); f.Path != "a.env" {
			t.Errorf("%s", describe([]scanner.Finding{f}))
		}
	})
	t.Run("loose, stream cut", func(t *testing.T) {
		r := newRepo(t)
		key := rulestest.APIKey()
		r.write("a.env", "k="+key+"\n"+filler)
		r.commit("a")
		blob := r.git("rev-parse", "HEAD:a.env")
		p := filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])
		b, _ := os.ReadFile(p)
		os.Chmod(p, 0o644)
		os.WriteFile(p, b[:len(b)-12], 0o644) // the checksum and the end of the filler
		res := scan(t, r.dir, Options{})
		errorEntry(t, res, blob)
		one(t, byKey(res), key, "cut stream")
	})
	t.Run("packed, streamed blob", func(t *testing.T) {
		r := newRepo(t)
		key := rulestest.APIKey()
		r.write("a.env", "k="+key+"\n"+filler)
		r.commit("a")
		blob := r.git("rev-parse", "HEAD:a.env")
		r.git("gc", "-q")
		flipChecksum(t, r, verifyPack(t, r)[blob])
		res := scan(t, r.dir, Options{})
		if e := errorEntry(t, res, blob); !strings.Contains(e.Reason, "checksum") {
			t.Errorf("damage: %q", e.Reason)
		}
		one(t, byKey(res), key, "packed, checksum off")
		// A range scan reads the blob whole, by random access.
		res = scan(t, r.dir, Options{Include: []string{"HEAD"}})
		errorEntry(t, res, blob)
		one(t, byKey(res), key, "range, checksum off")
	})
	t.Run("packed, delta base", func(t *testing.T) {
		r := newRepo(t)
		key := rulestest.APIKey()
		body := strings.Repeat("a line that both versions of the file share\n", 300)
		r.write("a.env", "k="+key+"\n"+body)
		r.commit("a")
		r.write("a.env", "k="+key+"\n"+body+"one more line\n")
		r.commit("b")
		r.git("gc", "-q", "--aggressive")
		objs := verifyPack(t, r)
		base := objs[r.git("rev-parse", "HEAD:a.env")][2] + objs[r.git("rev-parse", "HEAD~1:a.env")][2]
		if len(base) != 40 {
			t.Skip("git did not store one version as a delta of the other")
		}
		flipChecksum(t, r, objs[base])
		res := scan(t, r.dir, Options{})
		errorEntry(t, res, base)
		if len(byKey(res)[key]) == 0 {
			t.Errorf("the damaged delta base's key was dropped: %s %+v", describe(res.Findings), res.Coverage.Skipped)
		}
	})
}

func TestMissingObjectNamedByPathAndCommit(t *testing.T) {
	r := newRepo(t)
	r.write("dir/sub/lost.env", "lost\n")
	r.write("gone/x.txt", "x\n")
	r.write("kept.txt", "kept\n")
	c := r.commit("files")
	r.write("later.txt", "later\n")
	r.commit("later")
	lost := r.git("rev-parse", "HEAD:dir/sub/lost.env")
	tree := r.git("rev-parse", "HEAD:gone")
	for _, h := range []string{lost, tree} {
		if err := os.Remove(filepath.Join(r.dir, ".git", "objects", h[:2], h[2:])); err != nil {
			t.Fatal(err)
		}
	}
	res := scan(t, r.dir, Options{})
	if e := errorEntry(t, res, lost); !strings.Contains(e.Reason, "blob for dir/sub/lost.env at commit "+c) {
		t.Errorf("blob: %q", e.Reason)
	}
	if e := errorEntry(t, res, tree); !strings.Contains(e.Reason, "tree for gone at commit "+c) {
		t.Errorf("tree: %q", e.Reason)
	}
	res = scan(t, r.dir, Options{Include: []string{"HEAD"}})
	if e := errorEntry(t, res, lost); !strings.Contains(e.Reason, "dir/sub/lost.env") || !strings.Contains(e.Reason, c) {
		t.Errorf("range: %q", e.Reason)
	}

	// A tree no commit holds: only the tree and the entry name are known.
	r2 := newRepo(t)
	r2.commit("init")
	p := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(p, []byte("dangling\n"), 0o644)
	blob := r2.git("hash-object", "-w", p)
	tr := strings.TrimSpace(mktree(t, r2, "100644 blob "+blob+"\tfile.txt\n"))
	os.Remove(filepath.Join(r2.dir, ".git", "objects", blob[:2], blob[2:]))
	e := errorEntry(t, scan(t, r2.dir, Options{}), blob)
	if !strings.Contains(e.Reason, `"file.txt" in tree `+tr) {
		t.Errorf("dangling tree entry: %q", e.Reason)
	}
}

// mktree runs git mktree with the given input and returns the tree id.
func mktree(t *testing.T, r *testRepo, input string) string {
	t.Helper()
	cmd := exec.Command("git", "mktree")
	cmd.Dir = r.dir
	cmd.Env = r.env()
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestStagedOnlyKeyIsStaged(t *testing.T) {
	r := newRepo(t)
	kStaged, kBoth := rulestest.APIKey(), rulestest.APIKey()
	r.write("committed.env", "k="+kBoth+"\n")
	c := r.commit("committed")
	r.write("conf/new.env", "k="+kStaged+"\n")
	r.write("copy.env", "k="+kBoth+"\n")
	r.git("add", "conf/new.env", "copy.env")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	m := byKey(res)
	f := one(t, m, kStaged, "staged only")
	if f.Source != scanner.SourceStaged || f.Path != "conf/new.env" || f.Commit != "" || f.Reachable != nil || f.AtHead != nil {
		t.Errorf("staged: source=%s %s", f.Source, describe([]scanner.Finding{f}))
	}
	// The same content is committed elsewhere: history reports it.
	if f := one(t, m, kBoth, "staged and committed"); f.Source != scanner.SourceGit || f.Commit != c || f.Path != "committed.env" {
		t.Errorf("committed: source=%s %s", f.Source, describe([]scanner.Finding{f}))
	}

	// An index that cannot be decoded costs the attribution, not the key.
	os.WriteFile(filepath.Join(r.dir, ".git", "index"), []byte("garbage"), 0o644)
	res = scan(t, r.dir, Options{})
	if f := one(t, byKey(res), kStaged, "bad index"); f.Source != scanner.SourceGit || !isFalse(f.Reachable) {
		t.Errorf("bad index: %s", describe([]scanner.Finding{f}))
	}
	if !strings.Contains(strings.Join(res.Coverage.Notes, "\n"), "index could not be read") {
		t.Errorf("notes: %q", res.Coverage.Notes)
	}
}

func TestShallowRanges(t *testing.T) {
	r := newRepo(t)
	for i := 0; i < 4; i++ {
		r.write("f.txt", fmt.Sprintf("version %d\n", i))
		r.commit(fmt.Sprintf("c%d", i))
	}
	sh := filepath.Join(t.TempDir(), "shallow")
	r.gitIn(filepath.Dir(sh), "clone", "-q", "--depth", "2", "file://"+r.dir, sh)

	// A range whose commits are all present is not affected.
	noErrors(t, scan(t, sh, Options{Include: []string{"HEAD"}, Exclude: []string{"HEAD~1"}}))
	// --branch walks into the cut: an error, or with AcceptShallow a note.
	res := scan(t, sh, Options{Include: []string{"main"}})
	if e := errorEntry(t, res, "shallow"); !strings.Contains(e.Reason, "git fetch --unshallow") {
		t.Errorf("branch in a shallow clone: %q", e.Reason)
	}
	res = scan(t, sh, Options{Include: []string{"main"}, AcceptShallow: true})
	noErrors(t, res)
	if len(res.Coverage.Notes) == 0 {
		t.Error("want a note about the accepted cut")
	}

	// A shallow clone that holds the whole history (the cut falls on the
	// root commit) is not truncated.
	one := newRepo(t)
	one.commit("only")
	sh1 := filepath.Join(t.TempDir(), "whole")
	one.gitIn(filepath.Dir(sh1), "clone", "-q", "--depth", "1", "file://"+one.dir, sh1)
	if _, err := os.Stat(filepath.Join(sh1, ".git", "shallow")); err != nil {
		t.Skip("git wrote no shallow file for a complete history")
	}
	noErrors(t, scan(t, sh1, Options{}))
}

func TestSHA256Unsupported(t *testing.T) {
	gittest.Require(t)
	dir := filepath.Join(t.TempDir(), "s")
	if _, err := exec.Command("git", "init", "-q", "--object-format=sha256", dir).CombinedOutput(); err != nil {
		t.Skipf("git cannot create SHA-256 repositories: %v", err)
	}
	_, err := New(dir, Options{})
	var ue *UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("want an UnsupportedError naming SHA-256, got %v", err)
	}
}

func TestSparseCheckoutRepositoryOpens(t *testing.T) {
	// git sparse-checkout sets extensions.worktreeConfig, which go-git's
	// own check rejects; the history is read all the same.
	r := newRepo(t)
	key := rulestest.APIKey()
	r.write("a/k.env", "k="+key+"\n")
	r.write("b/x.txt", "x\n")
	r.commit("a")
	r.git("config", "core.repositoryformatversion", "1")
	r.git("config", "extensions.worktreeConfig", "true")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	one(t, byKey(res), key, "worktreeConfig repository")
}
