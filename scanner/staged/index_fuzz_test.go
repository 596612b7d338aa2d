package staged

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// The indexes git writes for a small repository (every version, with a
// cache tree and an intent-to-add entry) are committed as seed corpora
// under testdata/fuzz/FuzzIndex/git-*: building them with git in every
// fuzzing process would take the few seconds CI gives the target.
// Regenerate them with:
//
//	XAISCAN_WRITE_FUZZ_SEEDS=1 go test -run TestWriteIndexFuzzSeeds ./scanner/staged/
func TestWriteIndexFuzzSeeds(t *testing.T) {
	if os.Getenv("XAISCAN_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set XAISCAN_WRITE_FUZZ_SEEDS=1 to rewrite testdata/fuzz from a repository made with git")
	}
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.write("dir/sub/b.txt", "b\n")
	r.write("dir/c.txt", "c\n")
	r.commitAll("init")
	r.git("write-tree")
	r.write("new.txt", "n\n")
	r.git("add", "-N", "new.txt")
	dir := filepath.Join("testdata", "fuzz", "FuzzIndex")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"2", "3", "4"} {
		r.git("update-index", "--index-version", v)
		b, err := os.ReadFile(filepath.Join(r.dir, ".git", "index"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseIndex(b); err != nil {
			t.Fatalf("git's index version %s: %v", v, err)
		}
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, "git-v"+v), []byte(seed), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzIndex feeds the index parser arbitrary bytes, and each input again
// with a correct checksum so the structure is exercised past it. A parsed
// index must hold what parseIndex promises: entries in git's order, paths
// without NUL, paths within the expansion budget, and the same entries
// when written again; an error never holds a key.
func FuzzIndex(f *testing.F) {
	var h [20]byte
	f.Add(buildIndex(2, nil))
	f.Add(buildIndex(4, []ixEntry{{name: "a/b", mode: 0o100644, hash: h}, {name: "a/c", mode: 0o100644, hash: h, ext: 0x2000}}))
	f.Add(buildIndex(3, []ixEntry{{name: "x", stage: 1}, {name: "x", stage: 2}}, ext("TREE", []byte("\x001 1\n"+strings.Repeat("t", 20)+"x\x001 0\n"+strings.Repeat("u", 20)))))
	// A key in a path, out of order so that the error names it.
	f.Add(buildIndex(2, []ixEntry{{name: "z"}, {name: "d/" + rulestest.APIKey()}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkIndex(t, b)
		if len(b) >= 32 {
			checkIndex(t, resum(b[:len(b)-20]))
		}
	})
}

func checkIndex(t *testing.T, b []byte) {
	idx, err := parseIndex(b)
	if err != nil {
		if len(rules.FindAll([]byte(err.Error()))) > 0 {
			t.Fatalf("error holds a key: %v", err)
		}
		return
	}
	version := uint32(b[7])
	total := 0
	ents := make([]ixEntry, len(idx.entries))
	for i, e := range idx.entries {
		total += len(e.name)
		if strings.IndexByte(e.name, 0) >= 0 {
			t.Fatalf("path %q holds a NUL", e.name)
		}
		if i > 0 {
			if err := checkOrder(idx.entries[i-1], e); err != nil {
				t.Fatalf("accepted entries out of order: %v", err)
			}
		}
		ents[i] = ixEntry{name: e.name, mode: uint32(e.mode), hash: e.hash, stage: e.stage}
		if e.intentToAdd {
			ents[i].ext = 0x2000
		}
	}
	if total > maxPathExpansion*len(b) {
		t.Fatalf("%d bytes of paths from %d bytes", total, len(b))
	}
	// Written again (in the version it came in), it reads the same.
	again, err := parseIndex(buildIndex(version, ents))
	if err != nil {
		t.Fatalf("rewritten index: %v", err)
	}
	if len(again.entries) != len(idx.entries) {
		t.Fatalf("rewritten index has %d entries, want %d", len(again.entries), len(idx.entries))
	}
	for i := range again.entries {
		if again.entries[i] != idx.entries[i] {
			t.Fatalf("entry %d: %+v, rewritten %+v", i, idx.entries[i], again.entries[i])
		}
	}
}
