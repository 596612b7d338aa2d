package staged

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// indexFixture is a repository with a blob and a tree to point entries at.
type indexFixture struct {
	r    *repo
	blob [20]byte
	tree [20]byte
}

func newIndexFixture(t *testing.T) *indexFixture {
	r := newRepo(t)
	r.write("a", "A\n")
	r.write("d/x", "X\n")
	r.commitAll("init")
	fx := &indexFixture{r: r}
	hexTo(t, &fx.blob, r.git("rev-parse", "HEAD:a"))
	hexTo(t, &fx.tree, r.git("rev-parse", "HEAD:d"))
	return fx
}

func hexTo(t *testing.T, dst *[20]byte, s string) {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 20 {
		t.Fatalf("bad object id %q", s)
	}
	copy(dst[:], b)
}

func (fx *indexFixture) file(name string) ixEntry {
	return ixEntry{name: name, mode: 0o100644, hash: fx.blob}
}

// git runs git with the index file b and returns its output and whether
// it succeeded.
func (fx *indexFixture) git(t *testing.T, b []byte, args ...string) (string, bool) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := gittest.Run(fx.r.dir, []string{"GIT_INDEX_FILE=" + f}, "", args...)
	return out, err == nil
}

// edit changes the bytes of an index (without its checksum) and writes a
// new checksum, so only the change is under test.
func edit(b []byte, fn func(body []byte) []byte) []byte {
	return resum(fn(append([]byte(nil), b[:len(b)-20]...)))
}

// How git itself treats an index: "ls-files" means every git command
// refuses it, "fsck" that git fsck --cache reports it corrupt, "misreads"
// that git accepts it but reads a path other than the one the entry
// records.
func TestIndexRejectsWhatGitRejects(t *testing.T) {
	fx := newIndexFixture(t)
	a, b := fx.file("a"), fx.file("b")
	// Offsets in a version 2 index holding one entry "a", and in a
	// version 4 index holding "a" then "b".
	const nameAt, v4second = 12 + 62, 12 + 65 + 62
	cases := []struct {
		name, git, want string
		index           []byte
	}{
		{"bad signature", "ls-files", "bad signature", edit(buildIndex(2, []ixEntry{a}), func(x []byte) []byte { x[0] = 'X'; return x })},
		{"version 5", "ls-files", "unsupported index version 5", edit(buildIndex(2, []ixEntry{a}), func(x []byte) []byte { x[7] = 5; return x })},
		{"version 1", "ls-files", "unsupported index version 1", edit(buildIndex(2, []ixEntry{a}), func(x []byte) []byte { x[7] = 1; return x })},
		{"too short", "ls-files", "bad signature", []byte("DIRC\x00\x00\x00\x02")},
		{"checksum mismatch", "fsck", "checksum mismatch", func() []byte { x := buildIndex(2, []ixEntry{a}); x[20]++; return x }()},
		{"count beyond the data", "fsck", "claims 2 entries", edit(buildIndex(2, []ixEntry{a}), func(x []byte) []byte { x[11] = 2; return x })},
		{"entries out of order", "fsck", `entries out of order: "b" before "a"`, buildIndex(2, []ixEntry{b, a})},
		{"duplicate entry", "fsck", `more than one entry for "a"`, buildIndex(2, []ixEntry{a, a})},
		{"stage 0 and a conflict stage", "fsck", `more than one entry for "a"`, buildIndex(2, []ixEntry{a, {name: "a", mode: 0o100644, hash: fx.blob, stage: 2}})},
		{"conflict stages out of order", "fsck", "conflict stages of \"a\" out of order",
			buildIndex(2, []ixEntry{{name: "a", mode: 0o100644, hash: fx.blob, stage: 3}, {name: "a", mode: 0o100644, hash: fx.blob, stage: 1}})},
		{"v4 cut longer than the previous path", "ls-files", "cuts 2 bytes from the 1-byte path",
			edit(buildIndex(4, []ixEntry{a, b}), func(x []byte) []byte { x[v4second] = 2; return x })},
		{"unknown entry flag", "ls-files", "unknown index entry format 0x80000000", buildIndex(3, []ixEntry{{name: "a", mode: 0o100644, hash: fx.blob, ext: 0x8000}})},
		{"unknown required extension", "ls-files", `"abcd" extension`, buildIndex(2, []ixEntry{a}, ext("abcd", nil))},
		{"truncated cache tree", "fsck", `extension "TREE" is truncated`,
			edit(buildIndex(2, []ixEntry{a}, ext("TREE", []byte("\x001 0\n"))), func(x []byte) []byte { x[len(x)-8] = 99; return x })},
		{"path not NUL-terminated", "misreads", `path "a" not NUL-terminated`, edit(buildIndex(2, []ixEntry{a}), func(x []byte) []byte { x[nameAt+1] = 'x'; return x })},
		{"NUL inside a path", "misreads", "holds a NUL byte", edit(buildIndex(2, []ixEntry{fx.file("abc")}), func(x []byte) []byte { x[nameAt+1] = 0; return x })},
		{"v4 path running into the checksum", "misreads", "path not NUL-terminated", edit(buildIndex(4, []ixEntry{a}), func(x []byte) []byte { return x[:len(x)-1] })},
	}
	// For "misreads": the path the entry records.
	recorded := map[string]string{
		"path not NUL-terminated":           "a",
		"NUL inside a path":                 "a\x00c",
		"v4 path running into the checksum": "a",
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseIndex(c.index)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("parseIndex: error %v, want one containing %q", err, c.want)
			}
			ls, lsOK := fx.git(t, c.index, "ls-files", "-s", "-z")
			ls = strings.TrimSuffix(ls, "\x00")
			_, fsckOK := fx.git(t, c.index, "fsck", "--cache", "--no-dangling")
			switch c.git {
			case "ls-files":
				if lsOK {
					t.Errorf("git ls-files accepts it:\n%s", ls)
				}
			case "fsck":
				if fsckOK {
					t.Error("git fsck --cache accepts it")
				}
			case "misreads":
				if _, path, _ := strings.Cut(ls, "\t"); lsOK && path == recorded[c.name] {
					t.Errorf("git reads the path as recorded, so this is not corrupt:\n%s", ls)
				}
			}
		})
	}
}

// Indexes git reads without complaint parse, to the entries git lists.
func TestIndexAcceptsWhatGitAccepts(t *testing.T) {
	fx := newIndexFixture(t)
	a, ab := fx.file("a"), fx.file("ab")
	long := fx.file(strings.Repeat("n", 5000)) // flags cannot hold its length
	cases := []struct {
		name  string
		index []byte
	}{
		{"version 2", buildIndex(2, []ixEntry{a, ab, long})},
		{"version 3 with intent-to-add", buildIndex(3, []ixEntry{a, {name: "ab", mode: 0o100644, hash: fx.blob, ext: 0x2000}})},
		{"version 4", buildIndex(4, []ixEntry{a, ab, fx.file("b/c"), fx.file("b/d"), long})},
		{"version 2 with extended flags", buildIndex(2, []ixEntry{{name: "a", mode: 0o100644, hash: fx.blob, ext: 0x2000}})},
		{"conflict stages", buildIndex(2, []ixEntry{{name: "a", mode: 0o100644, hash: fx.blob, stage: 1}, {name: "a", mode: 0o100644, hash: fx.blob, stage: 1}, {name: "a", mode: 0o100644, hash: fx.blob, stage: 3}})},
		{"optional extension", buildIndex(2, []ixEntry{a}, ext("ZZZZ", []byte("anything")))},
		{"bytes too few for an extension", edit(buildIndex(2, []ixEntry{a}), func(x []byte) []byte { return append(x, 1, 2, 3) })},
		{"index.skipHash", func() []byte { x := buildIndex(2, []ixEntry{a, ab}); copy(x[len(x)-20:], make([]byte, 20)); return x }()},
		{"v4 first entry with a cut", edit(buildIndex(4, []ixEntry{a}), func(x []byte) []byte { x[12+62] = 7; return x })},
		{"empty", buildIndex(2, nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idx, err := parseIndex(c.index)
			if err != nil {
				t.Fatalf("parseIndex: %v", err)
			}
			out, ok := fx.git(t, c.index, "ls-files", "-s", "-z")
			out = strings.TrimPrefix(out, "ignoring ZZZZ extension\n") // git's notice
			if !ok {
				t.Fatalf("git ls-files refuses it:\n%s", out)
			}
			var ours []string
			for _, e := range idx.entries {
				ours = append(ours, fmt.Sprintf("%06o %s %d\t%s", uint32(e.mode), e.hash, e.stage, e.name))
			}
			gits := strings.Split(strings.TrimSuffix(out, "\x00"), "\x00")
			if out == "" {
				gits = nil
			}
			if strings.Join(ours, "\n") != strings.Join(gits, "\n") {
				t.Errorf("entries differ from git's:\nours %q\ngit  %q", ours, gits)
			}
		})
	}
}

func TestIndexSparseDirectoryEntry(t *testing.T) {
	fx := newIndexFixture(t)
	sparse := buildIndex(3, []ixEntry{fx.file("a"), {name: "d/", mode: 0o40000, hash: fx.tree, ext: 0x4000}}, ext("sdir", nil))
	idx, err := parseIndex(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.entries) != 2 || idx.entries[1].mode != filemode.Dir || idx.entries[1].name != "d/" {
		t.Errorf("entries = %+v", idx.entries)
	}
	if out, ok := fx.git(t, sparse, "ls-files", "-s"); !ok {
		t.Errorf("git ls-files refuses it:\n%s", out)
	}
}

// A path holding a key is named in an error with the key redacted.
func TestIndexErrorRedactsKeys(t *testing.T) {
	k := rulestest.APIKey()
	var h [20]byte
	bad := buildIndex(2, []ixEntry{{name: "z", mode: 0o100644, hash: h}, {name: "dir/" + k, mode: 0o100644, hash: h}})
	_, err := parseIndex(bad)
	if err == nil {
		t.Fatal("out-of-order index accepted")
	}
	if strings.Contains(err.Error(), k) || len(rules.FindAll([]byte(err.Error()))) > 0 {
		t.Errorf("error holds the key: %v", err)
	}
	if !strings.Contains(err.Error(), rules.Redact(k)) {
		t.Errorf("error does not name the path: %v", err)
	}
}

// growingV4 is a hostile version 4 index: every entry keeps the whole
// previous path and adds one byte, so n entries take 65n bytes and hold
// n²/2 bytes of paths.
func growingV4(n int) []byte {
	b := []byte("DIRC\x00\x00\x00\x04\x00\x00\x00\x00")
	binary.BigEndian.PutUint32(b[8:], uint32(n))
	for i := 0; i < n; i++ {
		var e [62]byte
		binary.BigEndian.PutUint32(e[24:], 0o100644)
		binary.BigEndian.PutUint16(e[60:], 0xfff)
		b = append(b, e[:]...)
		b = append(b, 0, 'a', 0) // cut nothing, add "a"
	}
	return resum(b)
}

// deepCacheTree is a hostile TREE extension: a chain of nested nodes with
// long names, whose full paths total the square of its size.
func deepCacheTree(depth, nameLen int) []byte {
	var b []byte
	name := strings.Repeat("d", nameLen)
	for i := 0; i < depth; i++ {
		b = append(b, name...)
		b = append(b, "\x00-1 1\n"...)
	}
	return b
}

// allocated returns the bytes fn allocates.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Memory stays linear in the index's size, however it is crafted. (Before
// the limit, the 1.3 MB growing index took 450 MB.)
func TestIndexMemoryLinear(t *testing.T) {
	hostile := growingV4(20_000)
	var err error
	n := allocated(func() { _, err = parseIndex(hostile) })
	if err == nil || !strings.Contains(err.Error(), "paths expand to more than 16 times") {
		t.Errorf("growing v4 index: error %v", err)
	}
	if limit := uint64(40 * len(hostile)); n > limit {
		t.Errorf("growing v4 index of %d bytes allocated %d bytes (limit %d)", len(hostile), n, limit)
	}

	var h [20]byte
	tree := deepCacheTree(4000, 1000)
	withTree := buildIndex(2, []ixEntry{{name: "a", mode: 0o100644, hash: h}}, ext("TREE", tree))
	var idx *gitIndex
	n = allocated(func() { idx, err = parseIndex(withTree) })
	if err != nil || len(idx.trees) != 0 {
		t.Errorf("deep cache tree: err %v, %d trees (want it ignored)", err, len(idx.trees))
	}
	if limit := uint64(40 * len(withTree)); n > limit {
		t.Errorf("deep cache tree of %d bytes allocated %d bytes (limit %d)", len(withTree), n, limit)
	}

	// A large real-looking index still parses: 20,000 paths of 100 bytes
	// in 200 directories.
	var ents []ixEntry
	for d := 0; d < 200; d++ {
		for f := 0; f < 100; f++ {
			ents = append(ents, ixEntry{name: fmt.Sprintf("%s/dir%03d/file%03d.txt", strings.Repeat("p", 80), d, f), mode: 0o100644})
		}
	}
	big := buildIndex(4, ents)
	if idx, err := parseIndex(big); err != nil || len(idx.entries) != len(ents) {
		t.Errorf("large index: err %v", err)
	}
}

// BenchmarkParseIndex10k decodes the index of a 10,000-file repository
// (checksum, order checks and cache tree included): the first step of
// every pre-commit hook run.
func BenchmarkParseIndex10k(b *testing.B) {
	r := buildLargeRepo(b, 10000)
	r.git("write-tree") // fill the cache tree, as git commit leaves it
	data, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := parseIndex(data); err != nil {
			b.Fatal(err)
		}
	}
}
