package gitsource

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"

	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// objectSeeds holds real objects written by git: a small repository's
// commits, tags, trees, pack index, pack entry headers, deltas and loose
// objects.
type objectSeeds struct {
	commits, tags, trees [][]byte
	idx, pack            []byte
	headers              [][]byte    // pack entry headers, each with the bytes after it
	deltas               [][2][]byte // base, delta
	loose                [][]byte    // loose object files
}

// The real objects are committed as seed corpora under
// testdata/fuzz/FuzzXxx/git-*: building them with git in every fuzzing
// process would take the few seconds CI gives each target. Regenerate
// them with:
//
//	XAISCAN_WRITE_FUZZ_SEEDS=1 go test -run TestWriteFuzzSeeds ./scanner/gitsource/
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("XAISCAN_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set XAISCAN_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz from a repository made with git")
	}
	gittest.Require(t)
	var s objectSeeds
	if err := buildObjectSeeds(t.TempDir(), &s); err != nil {
		t.Fatal(err)
	}
	one := func(bs [][]byte) [][]any {
		var out [][]any
		for _, b := range bs {
			out = append(out, []any{b})
		}
		return out
	}
	var headers, deltas [][]any
	for _, h := range s.headers {
		headers = append(headers, []any{h, int64(1 << 20)})
	}
	for _, d := range s.deltas {
		deltas = append(deltas, []any{d[0], d[1]})
	}
	for target, inputs := range map[string][][]any{
		"FuzzCommit": one(s.commits), "FuzzTag": one(s.tags), "FuzzTree": one(s.trees),
		"FuzzPackIndex": one([][]byte{s.idx}), "FuzzLooseObject": one(s.loose),
		"FuzzPackEntryHeader": headers, "FuzzDelta": deltas,
	} {
		writeSeeds(t, target, inputs)
	}
}

// writeSeeds replaces the git-* seeds of a fuzz target.
func writeSeeds(t *testing.T, target string, inputs [][]any) {
	dir := filepath.Join("testdata", "fuzz", target)
	old, _ := filepath.Glob(filepath.Join(dir, "git-*"))
	for _, p := range old {
		os.Remove(p)
	}
	os.MkdirAll(dir, 0o755)
	for i, in := range inputs {
		var b strings.Builder
		b.WriteString("go test fuzz v1\n")
		for _, v := range in {
			switch v := v.(type) {
			case []byte:
				fmt.Fprintf(&b, "[]byte(%q)\n", v)
			case int64:
				fmt.Fprintf(&b, "int64(%d)\n", v)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("git-%02d", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func buildObjectSeeds(dir string, s *objectSeeds) error {
	env := []string{"GIT_AUTHOR_DATE=@1700000000 +0100", "GIT_COMMITTER_DATE=@1700000000 +0100"}
	var gitErr error
	git := func(args ...string) string {
		out, err := gittest.Run(dir, env, "", args...)
		if err != nil && gitErr == nil {
			gitErr = fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(out)
	}
	write := func(name, content string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
	}
	git("init", "-q", "-b", "main")
	big := strings.Repeat("configuration line that repeats\n", 200)
	write("a.txt", big)
	write("dir/sub/b.txt", "b\n")
	git("add", "-A")
	git("commit", "-q", "-m", "first\n\nwith a body")
	write("a.txt", big+"one more line\n")
	git("update-index", "--add", "--cacheinfo", "160000,"+git("rev-parse", "HEAD")+",module")
	git("commit", "-q", "-am", "second")
	git("checkout", "-q", "-b", "side", "HEAD~1")
	write("c.txt", "c\n")
	git("add", "-A")
	git("commit", "-q", "-m", "side")
	git("checkout", "-q", "main")
	git("merge", "-q", "--no-edit", "side")
	git("tag", "-a", "-m", "release\n\nnotes", "v1")
	for _, h := range strings.Fields(git("rev-list", "--all")) {
		s.commits = append(s.commits, []byte(git("cat-file", "commit", h)+"\n"))
		s.trees = append(s.trees, catRaw(dir, env, "tree", h+"^{tree}"))
	}
	s.trees = append(s.trees, catRaw(dir, env, "tree", "HEAD:dir"))
	s.tags = append(s.tags, []byte(git("cat-file", "tag", "v1")+"\n"))
	loose, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "??", "*"))
	for _, p := range loose[:min(len(loose), 8)] {
		if b, err := os.ReadFile(p); err == nil {
			s.loose = append(s.loose, b)
		}
	}
	git("repack", "-adfq", "--depth=5")
	if gitErr != nil {
		return gitErr
	}
	return s.readPack(dir, env)
}

// catRaw returns an object's raw content (trees are binary).
func catRaw(dir string, env []string, typ, rev string) []byte {
	cmd := exec.Command("git", "cat-file", typ, rev)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out, _ := cmd.Output()
	return out
}

// readPack reads the pack git wrote, its entry headers and its deltas.
func (s *objectSeeds) readPack(dir string, env []string) error {
	idxs, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	if len(idxs) != 1 {
		return fmt.Errorf("want one pack, found %d", len(idxs))
	}
	var err error
	if s.idx, err = os.ReadFile(idxs[0]); err != nil {
		return err
	}
	if s.pack, err = os.ReadFile(strings.TrimSuffix(idxs[0], ".idx") + ".pack"); err != nil {
		return err
	}
	idx := idxfile.NewMemoryIndex()
	if err := decodeIdx(s.idx, idx); err != nil {
		return err
	}
	it, err := idx.EntriesByOffset()
	if err != nil {
		return err
	}
	hashAt := map[int64]plumbing.Hash{}
	var offs []int64
	for e, err := it.Next(); err == nil; e, err = it.Next() {
		hashAt[int64(e.Offset)] = e.Hash
		offs = append(offs, int64(e.Offset))
	}
	for _, off := range offs {
		s.headers = append(s.headers, s.pack[off:min(int(off)+32, len(s.pack))])
		h, err := parseHeader(s.pack[off:], off)
		if err != nil || h.kind != typOfsDelta {
			continue
		}
		delta, err := inflate(bytes.NewReader(s.pack[h.dataOff:]), h.size)
		if err != nil {
			return err
		}
		base := catRaw(dir, env, "blob", hashAt[h.baseOff].String())
		s.deltas = append(s.deltas, [2][]byte{base, delta})
	}
	return nil
}

// FuzzPackIndex: a pack index either fails to decode or decodes to an
// index that answers consistently (every listed object is found at its
// offset) and encodes back to the bytes it came from.
func FuzzPackIndex(f *testing.F) {
	f.Add([]byte("\xfftOc\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx := idxfile.NewMemoryIndex()
		if err := decodeIdx(b, idx); err != nil {
			return
		}
		n, err := idx.Count()
		if err != nil || n < 0 || uint64(n)*28 > uint64(len(b)) {
			t.Fatalf("count %d (%v) from %d bytes", n, err, len(b))
		}
		it, err := idx.Entries()
		if err != nil {
			t.Fatal(err)
		}
		seen := int64(0)
		for e, err := it.Next(); err == nil; e, err = it.Next() {
			seen++
			if off, err := idx.FindOffset(e.Hash); err != nil || uint64(off) != e.Offset {
				t.Fatalf("object %s listed at %d, found at %d (%v)", e.Hash, e.Offset, off, err)
			}
		}
		if seen != n {
			t.Fatalf("listed %d objects, count %d", seen, n)
		}
		var again bytes.Buffer
		if _, err := idxfile.NewEncoder(&again).Encode(idx); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(again.Bytes(), b) {
			t.Fatalf("re-encoded index differs (%d bytes, was %d)", again.Len(), len(b))
		}
	})
}

// appendPackHeader writes a pack entry header (the inverse of
// parseHeader): type and size, then the base of a delta.
func appendPackHeader(b []byte, h objHeader, off int64) []byte {
	c := byte(h.kind)<<4 | byte(h.size&15)
	for size := uint64(h.size) >> 4; size != 0; size >>= 7 {
		b = append(b, c|0x80)
		c = byte(size & 0x7f)
	}
	b = append(b, c)
	switch h.kind {
	case typOfsDelta:
		rel := uint64(off - h.baseOff)
		var buf [10]byte
		i := len(buf) - 1
		buf[i] = byte(rel & 0x7f)
		for rel >>= 7; rel != 0; rel >>= 7 {
			rel--
			i--
			buf[i] = 0x80 | byte(rel&0x7f)
		}
		b = append(b, buf[i:]...)
	case typRefDelta:
		b = append(b, h.baseHash[:]...)
	}
	return b
}

// FuzzPackEntryHeader: a parsed header stays within the bytes it was
// given, claims no more than maxObjectSize, points a delta at an earlier
// entry, and written out again parses to the same fields.
func FuzzPackEntryHeader(f *testing.F) {
	f.Add([]byte{0x95, 0x0a, 0x78, 0x9c}, int64(12))
	f.Add([]byte{0xe5, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, int64(100))
	f.Fuzz(func(t *testing.T, b []byte, off int64) {
		if off < 12 || off > 1<<40 {
			return
		}
		h, err := parseHeader(b, off)
		if err != nil {
			return
		}
		n := h.dataOff - off
		switch {
		case n <= 0 || n > int64(len(b)):
			t.Fatalf("header of %d bytes in %d", n, len(b))
		case h.size < 0 || h.size > maxObjectSize:
			t.Fatalf("size %d", h.size)
		case h.kind == typOfsDelta && (h.baseOff < 12 || h.baseOff >= off):
			t.Fatalf("delta at %d based at %d", off, h.baseOff)
		}
		again, err := parseHeader(appendPackHeader(nil, h, off), off)
		if err != nil {
			t.Fatalf("re-encoded header: %v", err)
		}
		again.dataOff, h.dataOff = 0, 0
		if again != h {
			t.Fatalf("re-encoded header %+v, was %+v", again, h)
		}
	})
}

// encodeDelta writes target as a delta against base: copies of the
// longest runs found at the same offset in base, inserts elsewhere. Not
// git's algorithm, but every opcode form git reads.
func encodeDelta(base, target []byte) []byte {
	d := appendDeltaSize(nil, len(base))
	d = appendDeltaSize(d, len(target))
	for i := 0; i < len(target); {
		n := 0
		for i+n < len(target) && i+n < len(base) && n < 0x10000 && base[i+n] == target[i+n] {
			n++
		}
		if n >= 4 {
			d = appendCopy(d, i, n)
			i += n
			continue
		}
		n = min(len(target)-i, 127)
		d = append(d, byte(n))
		d = append(d, target[i:i+n]...)
		i += n
	}
	return d
}

func appendDeltaSize(d []byte, n int) []byte {
	for n >= 0x80 {
		d = append(d, byte(n)|0x80)
		n >>= 7
	}
	return append(d, byte(n))
}

func appendCopy(d []byte, off, n int) []byte {
	op, at := byte(0x80), len(d)
	d = append(d, 0)
	for b := 0; b < 4; b++ {
		if v := byte(off >> (8 * b)); v != 0 {
			op |= 1 << b
			d = append(d, v)
		}
	}
	if n == 0x10000 {
		n = 0 // encoded as no size bytes
	}
	for b := 0; b < 3; b++ {
		if v := byte(n >> (8 * b)); v != 0 {
			op |= 0x10 << b
			d = append(d, v)
		}
	}
	d[at] = op
	return d
}

// FuzzDelta: applying a delta either fails or yields exactly the size the
// delta declares; and the fuzzer's second input, encoded as a delta
// against the first, applies back to itself.
func FuzzDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x90, 5})
	f.Add([]byte("abc"), []byte{3, 3, 3, 'x', 'y', 'z'})
	f.Add([]byte{}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		_, i, _ := deltaSize(delta, 0)
		// A declared size is allocated up front (to 64 MB): huge ones
		// would only slow the fuzzer down.
		if want, _, err := deltaSize(delta, i); err == nil && want <= 1<<20 {
			out, err := applyDelta(base, delta)
			if err == nil && int64(len(out)) != want {
				t.Fatalf("result of %d bytes, delta declares %d", len(out), want)
			}
		}
		target := delta
		got, err := applyDelta(base, encodeDelta(base, target))
		if err != nil || !bytes.Equal(got, target) {
			t.Fatalf("round trip: %v (%d bytes, want %d)", err, len(got), len(target))
		}
	})
}

// formatTree writes tree entries as git does.
func formatTree(es []treeEntry) []byte {
	var b []byte
	for _, e := range es {
		b = strconv.AppendUint(b, uint64(e.mode), 8)
		b = append(b, ' ')
		b = append(b, e.name...)
		b = append(b, 0)
		b = append(b, e.hash[:]...)
	}
	return b
}

// FuzzTree: a parsed tree's entries, written out again, parse to the same
// entries, and walkTree sees what parseTree returns.
func FuzzTree(f *testing.F) {
	f.Add([]byte("100644 a\x00aaaaaaaaaaaaaaaaaaaa40000 d\x00bbbbbbbbbbbbbbbbbbbb"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseTree(b)
		if err != nil {
			return
		}
		walked := 0
		walkTree(b, func(name []byte, mode uint32, h []byte) {
			if walked >= len(es) || string(name) != es[walked].name || mode != es[walked].mode || !bytes.Equal(h, es[walked].hash[:]) {
				t.Fatalf("walkTree and parseTree disagree at entry %d", walked)
			}
			walked++
		})
		again, err := parseTree(formatTree(es))
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-encoded tree: %v, %d entries (want %d)", err, len(again), len(es))
		}
		for i := range es {
			if again[i] != es[i] {
				t.Fatalf("entry %d: %+v, re-encoded %+v", i, es[i], again[i])
			}
		}
	})
}

// plainSignature reports whether name and email survive a round trip
// through a signature line.
func plainSignature(name, email string) bool {
	return !strings.ContainsAny(name+email, "<>\n") && name == strings.TrimSpace(name)
}

// FuzzCommit: a parsed commit has a tree; its message is the tail of the
// object; and a commit written from its fields parses to the same fields.
func FuzzCommit(f *testing.F) {
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@b> 1 +0000\n\nmsg"))
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ngpgsig -----BEGIN-----\n x\n -----END-----\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := plumbing.NewHash("0123456789012345678901234567890123456789")
		c, msg, err := parseCommit(h, b)
		if err != nil {
			return
		}
		if c.hash != h || !bytes.HasSuffix(b, msg) {
			t.Fatal("message is not the tail of the object")
		}
		_ = c.date()
		var w bytes.Buffer
		fmt.Fprintf(&w, "tree %s\n", c.tree)
		for _, p := range c.parents {
			fmt.Fprintf(&w, "parent %s\n", p)
		}
		if plainSignature(c.author, c.email) && c.when >= 0 {
			fmt.Fprintf(&w, "author %s <%s> %d +0000\n", c.author, c.email, c.when)
		}
		fmt.Fprintf(&w, "\n%s", msg)
		again, msg2, err := parseCommit(h, w.Bytes())
		if err != nil {
			t.Fatalf("re-encoded commit: %v", err)
		}
		if again.tree != c.tree || len(again.parents) != len(c.parents) || !bytes.Equal(msg2, msg) {
			t.Fatalf("re-encoded commit differs: %+v / %+v", again, c)
		}
		if plainSignature(c.author, c.email) && c.when >= 0 && (again.author != c.author || again.email != c.email || again.when != c.when) {
			t.Fatalf("author %q <%q> %d, re-encoded %q <%q> %d", c.author, c.email, c.when, again.author, again.email, again.when)
		}
	})
}

// FuzzTag: a parsed tag has a target; its message is the tail of the
// object; and a tag written from its fields parses to the same fields.
func FuzzTag(f *testing.F) {
	f.Add([]byte("object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v\n\nm"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, msg, err := parseTag(b)
		if err != nil {
			return
		}
		if !bytes.HasSuffix(b, msg) {
			t.Fatal("message is not the tail of the object")
		}
		var w bytes.Buffer
		fmt.Fprintf(&w, "object %s\ntype %s\n", tg.target, typeName(tg.targetType))
		if !strings.Contains(tg.name, "\n") {
			fmt.Fprintf(&w, "tag %s\n", tg.name)
		}
		fmt.Fprintf(&w, "\n%s", msg)
		again, msg2, err := parseTag(w.Bytes())
		if err != nil {
			t.Fatalf("re-encoded tag: %v", err)
		}
		if again.target != tg.target || !bytes.Equal(msg2, msg) || (tg.targetType != 0 && again.targetType != tg.targetType) {
			t.Fatalf("re-encoded tag differs: %+v / %+v", again, tg)
		}
	})
}

// FuzzLooseObject: a loose object file either fails to read or yields
// content of the size its header declares; and content stored as a loose
// object reads back unchanged.
func FuzzLooseObject(f *testing.F) {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write([]byte("blob 5\x00hello"))
	w.Close()
	f.Add(z.Bytes())
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "obj")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		// A declared size is allocated up front (to 64 MB): huge ones
		// would only slow the fuzzer down.
		if typ, size, err := looseType(p); err == nil && size <= 1<<20 {
			typ2, data, err := readLoose(p)
			if err == nil && (typ2 != typ || size != int64(len(data))) {
				t.Fatalf("looseType says %d/%d, readLoose %d/%d", typ, size, typ2, len(data))
			}
		}
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		fmt.Fprintf(w, "blob %d\x00", len(b))
		w.Write(b)
		w.Close()
		if err := os.WriteFile(p, z.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		typ, data, err := readLoose(p)
		if err != nil || typ != typBlob || !bytes.Equal(data, b) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// A pack index claiming more objects than it holds is refused before
// anything is allocated for them (go-git took 4 GB for this 1.5 KB one).
func TestPackIndexClaimingTooManyObjects(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git binary not available to build fixtures")
	}
	var s objectSeeds
	if err := buildObjectSeeds(t.TempDir(), &s); err != nil {
		t.Fatal(err)
	}
	if err := decodeIdx(s.idx, idxfile.NewMemoryIndex()); err != nil {
		t.Fatalf("git's own index: %v", err)
	}
	for _, n := range []uint32{0xffffffff, 1 << 24, 16} {
		bad := append([]byte(nil), s.idx...)
		binary.BigEndian.PutUint32(bad[8+255*4:], n)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := decodeIdx(bad, idxfile.NewMemoryIndex())
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("cannot hold the %d objects", n)) {
			t.Errorf("index claiming %d objects: %v", n, err)
		}
		if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
			t.Errorf("index claiming %d objects: allocated %d bytes", n, a)
		}
	}
}
