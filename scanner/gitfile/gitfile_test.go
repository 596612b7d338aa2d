package gitfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// repackedPack repacks dir into one pack, without reusing deltas, and
// returns the pack's bytes and its .idx path.
func repackedPack(t *testing.T, dir string) ([]byte, string) {
	t.Helper()
	gittest.Must(t, dir, nil, "repack", "-adfq")
	idx, err := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	if err != nil || len(idx) != 1 {
		t.Fatalf("want one pack after repack, got %v (%v)", idx, err)
	}
	data, err := os.ReadFile(strings.TrimSuffix(idx[0], ".idx") + ".pack")
	if err != nil {
		t.Fatal(err)
	}
	return data, idx[0]
}

// packEntry is one line of `git verify-pack -v`.
type packEntry struct {
	id    string
	typ   string
	off   int64
	delta bool
}

func verifyPack(t *testing.T, dir, idx string) []packEntry {
	t.Helper()
	out := gittest.Must(t, dir, nil, "verify-pack", "-v", idx)
	var es []packEntry
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || len(f[0]) != 40 {
			continue
		}
		off, err := strconv.ParseInt(f[4], 10, 64)
		if err != nil {
			t.Fatalf("verify-pack line %q: %v", line, err)
		}
		es = append(es, packEntry{id: f[0], typ: f[1], off: off, delta: len(f) == 7})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].off < es[j].off })
	return es
}

// deltaTypes counts the entry types of a pack as go-git's scanner reads
// them: an independent check of what git wrote.
func deltaTypes(t *testing.T, pack []byte) map[plumbing.ObjectType]int {
	t.Helper()
	s := packfile.NewScanner(bytes.NewReader(pack))
	_, n, err := s.Header()
	if err != nil {
		t.Fatal(err)
	}
	out := map[plumbing.ObjectType]int{}
	for range n {
		h, err := s.NextObjectHeader()
		if err != nil {
			t.Fatal(err)
		}
		out[h.Type]++
		if _, _, err := s.NextObject(&bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func wantKey(t *testing.T, r *recorder, key, path string) {
	t.Helper()
	got, ok := r.keys()[key]
	switch {
	case !ok:
		t.Errorf("key %s not found; members: %v", key[:8], r.paths())
	case path != "" && got != path:
		t.Errorf("key %s found in %q, want %q", key[:8], got, path)
	}
}

func (r *recorder) paths() []string {
	var ps []string
	for _, m := range r.members {
		ps = append(ps, m.path)
	}
	return ps
}

// TestPackEveryObjectKind: a key in a blob, a commit message, a commit
// author, an annotated tag and a file name is found in a pack git wrote,
// each under its object's id.
func TestPackEveryObjectKind(t *testing.T) {
	dir := newRepo(t)
	kBlob, kMsg, kAuthor, kTag, kName := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.ManagementKey(), rulestest.APIKey()
	commitFile(t, dir, "app.env", "TOKEN="+kBlob+"\n", "add config")
	commitFile(t, dir, "dir/"+kName+".txt", "x\n", "rotate "+kMsg)
	gittest.Must(t, dir, []string{"GIT_AUTHOR_NAME=dev " + kAuthor}, "commit", "-q", "--allow-empty", "-m", "empty")
	gittest.Must(t, dir, nil, "tag", "-a", "v1", "-m", "release "+kTag)
	pack, _ := repackedPack(t, dir)

	r, err := decode(t, Decoder{}, pack, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if len(r.skips) != 0 {
		t.Errorf("healthy pack left coverage entries: %v", r.skips)
	}
	id := func(rev string) string { return gittest.Must(t, dir, nil, "rev-parse", rev) }
	wantKey(t, r, kBlob, "x.pack!"+id("HEAD:app.env"))
	wantKey(t, r, kMsg, "x.pack!"+id("HEAD~1")+" (commit)")
	wantKey(t, r, kAuthor, "x.pack!"+id("HEAD")+" (commit)")
	wantKey(t, r, kTag, "x.pack!"+id("v1")+" (tag)")
	wantKey(t, r, kName, "x.pack!"+id("HEAD:dir")+" (tree)")
	for _, m := range r.members {
		if m.encoding != EncodingPack {
			t.Errorf("member %s has encoding %q, want %q", m.path, m.encoding, EncodingPack)
		}
	}
}

// deltaRepo commits a large file, then an edit that removes a part and
// adds a key: the edited version is the smaller one, so git stores it as
// a delta against the first. It returns the key and the edited blob's id.
func deltaRepo(t *testing.T) (dir, key, id string) {
	dir = newRepo(t)
	key = rulestest.APIKey()
	big := filler(500)
	commitFile(t, dir, "conf.txt", big, "base")
	half := len(big) / 2
	commitFile(t, dir, "conf.txt", big[:half]+"key="+key+"\n"+big[half+3000:], "edit")
	return dir, key, gittest.Must(t, dir, nil, "rev-parse", "HEAD:conf.txt")
}

// TestKeyOnlyInOfsDelta: a key added by an edit, stored as an OFS_DELTA
// (what git repack writes), is found in the rebuilt object.
func TestKeyOnlyInOfsDelta(t *testing.T) {
	dir, key, id := deltaRepo(t)
	pack, idx := repackedPack(t, dir)
	isDelta := false
	for _, e := range verifyPack(t, dir, idx) {
		if e.id == id {
			isDelta = e.delta
		}
	}
	if !isDelta {
		t.Fatalf("fixture: git did not store blob %s as a delta", id)
	}
	if deltaTypes(t, pack)[plumbing.OFSDeltaObject] == 0 {
		t.Fatal("fixture: no OFS_DELTA in the repacked pack")
	}
	r, err := decode(t, Decoder{}, pack, 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	wantKey(t, r, key, "x.pack!"+id)
}

// TestKeyOnlyInRefDelta: the same through a REF_DELTA, what
// `git pack-objects --stdout` writes without --delta-base-offset.
func TestKeyOnlyInRefDelta(t *testing.T) {
	dir, key, id := deltaRepo(t)
	pack := gitOut(t, dir, "HEAD\n", "pack-objects", "-q", "--stdout", "--revs")
	if deltaTypes(t, pack)[plumbing.REFDeltaObject] == 0 {
		t.Fatal("fixture: no REF_DELTA in the pack")
	}
	r, err := decode(t, Decoder{}, pack, 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	wantKey(t, r, key, "x.pack!"+id)
}

// TestBundle: a bundle's objects are read (members encoded "git-bundle"),
// and a key in a ref name is found in the header member "!refs".
func TestBundle(t *testing.T) {
	dir, key, id := deltaRepo(t)
	kRef := rulestest.APIKey()
	gittest.Must(t, dir, nil, "branch", "leak/"+kRef)
	gittest.Must(t, dir, nil, "bundle", "create", "-q", "repo.bundle", "--all")
	data, err := os.ReadFile(filepath.Join(dir, "repo.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(t, Decoder{}, data, 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	wantKey(t, r, kRef, "x.pack!refs")
	wantKey(t, r, key, "x.pack!"+id)
	for _, m := range r.members {
		if m.encoding != EncodingBundle {
			t.Errorf("member %s has encoding %q, want %q", m.path, m.encoding, EncodingBundle)
		}
	}
}

// TestBundleSHA256: a v3 bundle of a SHA-256 repository: ids are 32 bytes
// (object names and REF_DELTA bases).
func TestBundleSHA256(t *testing.T) {
	gittest.Require(t)
	dir := t.TempDir()
	if out, err := gittest.Run(dir, nil, "", "init", "-q", "--object-format=sha256"); err != nil {
		t.Skipf("git cannot make a SHA-256 repository: %s", out)
	}
	key := rulestest.APIKey()
	big := filler(500)
	commitFile(t, dir, "conf.txt", big, "base")
	commitFile(t, dir, "conf.txt", big[:9000]+"key="+key+"\n"+big[12000:], "edit")
	id := gittest.Must(t, dir, nil, "rev-parse", "HEAD:conf.txt")
	gittest.Must(t, dir, nil, "bundle", "create", "-q", "repo.bundle", "--all")
	data, err := os.ReadFile(filepath.Join(dir, "repo.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, bundleV3) {
		t.Fatalf("fixture: want a v3 bundle, got %q", data[:16])
	}
	r, err := decode(t, Decoder{}, data, 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	wantKey(t, r, key, "x.pack!"+id)
}

// TestTruncatedPack: a pack cut in the middle of an object: every object
// before the cut is scanned, and the error matches scanner.ErrMalformed.
func TestTruncatedPack(t *testing.T) {
	dir := newRepo(t)
	keys := map[string]string{} // blob id -> key
	for i := range 6 {
		k := rulestest.APIKey()
		commitFile(t, dir, "f"+strconv.Itoa(i)+".env", "K="+k+"\n"+filler(20+i*13), "add")
		keys[gittest.Must(t, dir, nil, "rev-parse", "HEAD:f"+strconv.Itoa(i)+".env")] = k
	}
	pack, idx := repackedPack(t, dir)
	es := verifyPack(t, dir, idx)
	cutAt := es[len(es)/2].off + 7 // inside the middle object
	r, err := decode(t, Decoder{}, pack[:cutAt], 0)
	if !errors.Is(err, scanner.ErrMalformed) {
		t.Fatalf("Open of a cut pack: %v, want ErrMalformed", err)
	}
	found := r.keys()
	before := 0
	for i, e := range es {
		k, isKeyBlob := keys[e.id]
		if !isKeyBlob || i+1 >= len(es) || es[i+1].off > cutAt {
			continue
		}
		before++
		if _, ok := found[k]; !ok {
			t.Errorf("key of blob %s (before the cut) not found", e.id)
		}
	}
	if before == 0 {
		t.Fatal("fixture: no key blob lies before the cut")
	}
}

// TestThinPack: a thin pack's delta against a base not in the pack cannot
// be rebuilt: a note (no tool could rebuild it from this file) names it,
// the bytes the delta inserts are scanned, and the key in them is found.
func TestThinPack(t *testing.T) {
	dir, key, _ := deltaRepo(t)
	pack := gitOut(t, dir, "HEAD\n^HEAD~1\n", "pack-objects", "-q", "--stdout", "--revs", "--thin")
	if deltaTypes(t, pack)[plumbing.REFDeltaObject] == 0 {
		t.Fatal("fixture: no REF_DELTA in the thin pack")
	}
	r, err := decode(t, Decoder{}, pack, 0)
	if err != nil {
		t.Fatalf("Open of a thin pack: %v", err)
	}
	if es := r.errors(); len(es) != 0 {
		t.Errorf("thin pack gave coverage errors: %v", es)
	}
	notes := r.notes()
	if len(notes) == 0 || !strings.Contains(notes[0].Reason, "thin pack") {
		t.Errorf("want a note about the thin pack, got %v", r.skips)
	}
	got := r.keys()[key]
	if !strings.HasSuffix(got, "(inserted bytes)") {
		t.Errorf("key found in %q, want the delta's inserted bytes", got)
	}
}

// TestBundleWithPrerequisites: an incremental bundle is thin too.
func TestBundleWithPrerequisites(t *testing.T) {
	dir, key, _ := deltaRepo(t)
	gittest.Must(t, dir, nil, "bundle", "create", "-q", "inc.bundle", "HEAD~1..main")
	data, err := os.ReadFile(filepath.Join(dir, "inc.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(t, Decoder{}, data, 0)
	if err != nil || len(r.errors()) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	if _, ok := r.keys()[key]; !ok {
		t.Errorf("key not found; members %v", r.paths())
	}
}

// editedRepo commits 8 small files (under 1 KiB each), each edited 6
// times with a new key per version, so git stores most versions as
// deltas, chains of them. It returns the keys by the id of the blob that
// holds them.
func editedRepo(t *testing.T) (dir string, keys map[string]string) {
	dir = newRepo(t)
	keys = map[string]string{}
	for v := range 6 {
		for f := range 8 {
			name := "conf" + strconv.Itoa(f) + ".txt"
			k := rulestest.APIKey()
			lines := strings.Split(filler(14+f), "\n")
			lines[(v*3+f)%len(lines)] = "key=" + k
			gittest.WriteFile(t, dir, name, strings.Join(lines, "\n"))
			gittest.Must(t, dir, nil, "add", name)
			gittest.Must(t, dir, nil, "commit", "-q", "-m", "edit "+name)
			keys[gittest.Must(t, dir, nil, "rev-parse", "HEAD:"+name)] = k
		}
	}
	return dir, keys
}

// wantAllRebuilt checks that every key is found in its own rebuilt blob
// (not only in a delta's inserted bytes) and the pack left no coverage
// entry.
func wantAllRebuilt(t *testing.T, r *recorder, err error, keys map[string]string) {
	t.Helper()
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	for id, k := range keys {
		wantKey(t, r, k, "x.pack!"+id)
	}
}

// TestTinyCacheRealRepo: packs git wrote (OFS_DELTA from repack, REF_DELTA
// from pack-objects without --delta-base-offset), read with 1 KiB for
// delta bases, far less than their chains need: every base dropped from
// memory is inflated again from the pack, every object is rebuilt, every
// key found, and the scan is not partial.
func TestTinyCacheRealRepo(t *testing.T) {
	dir, keys := editedRepo(t)
	ofs, _ := repackedPack(t, dir)
	ref := gitOut(t, dir, "HEAD\n", "pack-objects", "-q", "--stdout", "--revs")
	for _, c := range []struct {
		name string
		pack []byte
		typ  plumbing.ObjectType
	}{{"ofs", ofs, plumbing.OFSDeltaObject}, {"ref", ref, plumbing.REFDeltaObject}} {
		t.Run(c.name, func(t *testing.T) {
			if n := deltaTypes(t, c.pack)[c.typ]; n < 20 {
				t.Fatalf("fixture: only %d %v entries", n, c.typ)
			}
			r, err := decode(t, Decoder{MaxHeld: 1 << 10}, c.pack, 0)
			wantAllRebuilt(t, r, err, keys)
		})
	}
}

// TestSpoolToFile: a pack larger than MaxMemSpool is kept in a temporary
// file in os.TempDir() to rebuild bases from; the file is removed after
// use.
func TestSpoolToFile(t *testing.T) {
	dir, keys := editedRepo(t)
	pack, _ := repackedPack(t, dir)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r, err := decode(t, Decoder{MaxHeld: 1 << 10, MaxMemSpool: 4 << 10}, pack, 0)
	wantAllRebuilt(t, r, err, keys)
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestTinyCacheBundle: the same through a bundle, whose pack starts after
// its header: offsets in the kept bytes are the pack's.
func TestTinyCacheBundle(t *testing.T) {
	dir, keys := editedRepo(t)
	gittest.Must(t, dir, nil, "bundle", "create", "-q", "repo.bundle", "--all")
	data, err := os.ReadFile(filepath.Join(dir, "repo.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := decode(t, Decoder{MaxHeld: 1 << 10}, data, 0)
	wantAllRebuilt(t, r, err, keys)
}
