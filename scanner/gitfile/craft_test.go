package gitfile

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// TestOpens: recognition is by content, from the first bytes only.
func TestOpens(t *testing.T) {
	var b packBuilder
	b.blob([]byte("x"))
	for _, c := range []struct {
		head string
		want bool
	}{
		{string(b.pack(-1)), true},
		{"PACK\x00\x00\x00\x03\x00\x00\x00\x00", true},
		{"# v2 git bundle\nabc", true},
		{"# v3 git bundle\n@object-format=sha256\n", true},
		{"PACK\x00\x00\x00\x04\x00\x00\x00\x00", false},
		{"PACKAGE=1\nNAME=x\n", false},
		{"PACK\x00\x00\x00\x02", false}, // too short for a count
		{"# v2 git bundles are nice\n", false},
		{"", false},
	} {
		if got := (Decoder{}).Opens(scanner.Item{}, []byte(c.head)); got != c.want {
			t.Errorf("Opens(%q) = %v, want %v", c.head, got, c.want)
		}
	}
}

// TestHugeDeclaredCount: a header declaring 2^32-1 objects allocates
// nothing for them; the objects present are scanned, then the early end
// is damage.
func TestHugeDeclaredCount(t *testing.T) {
	key := rulestest.APIKey()
	var b packBuilder
	b.blob([]byte("K=" + key + "\n"))
	r, err := decode(t, Decoder{}, b.pack(1<<32-1), 0)
	if !errors.Is(err, scanner.ErrMalformed) {
		t.Fatalf("Open: %v, want ErrMalformed", err)
	}
	if !strings.Contains(err.Error(), "of 4294967295") {
		t.Errorf("error %q does not say how far the pack was read", err)
	}
	wantKey(t, r, key, "")
}

// TestRefDeltaBaseLater: a REF_DELTA may come before its base (index-pack
// accepts it): it waits and is rebuilt when the base is met.
func TestRefDeltaBaseLater(t *testing.T) {
	key := rulestest.APIKey()
	base := []byte(strings.Repeat("base text line\n", 40))
	var b packBuilder
	add := []byte("K=" + key + "\n")
	b.refDelta(blobID(base), deltaOf(uint64(len(base)), uint64(len(base)+len(add)), cp(0, uint32(len(base))), ins(add)))
	b.blob(base)
	r, err := decode(t, Decoder{}, b.pack(-1), 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	rebuilt := append(append([]byte{}, base...), add...)
	wantKey(t, r, key, "x.pack!"+hexID(blobID(rebuilt)))
}

// evictedPack is a pack whose delta's base is pushed out of a 300-byte
// memory cap by the object between them; the key is in what the delta
// inserts. It returns the pack and the rebuilt object's id.
func evictedPack(key string) ([]byte, string) {
	a := bytes.Repeat([]byte("a"), 200)
	var b packBuilder
	offA := b.blob(a)
	b.blob(bytes.Repeat([]byte("b"), 200))
	add := []byte("K=" + key + "\n")
	b.ofsDelta(offA, deltaOf(200, uint64(100+len(add)), cp(0, 100), ins(add)))
	return b.pack(-1), hexID(blobID(append(a[:100:100], add...)))
}

// TestEvictedBase: a base pushed out of the memory cap is inflated again
// from the pack's bytes, as git's index-pack does: the object is rebuilt
// whole, the key found under its id, and nothing is lost.
func TestEvictedBase(t *testing.T) {
	key := rulestest.APIKey()
	pack, id := evictedPack(key)
	r, err := decode(t, Decoder{MaxHeld: 300}, pack, 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	wantKey(t, r, key, "x.pack!"+id)
}

// TestSpoolCap: past MaxSpool the pack's bytes are no longer kept, so a
// base dropped from memory cannot be rebuilt: an error that says why, and
// the bytes the delta inserts are still scanned.
func TestSpoolCap(t *testing.T) {
	key := rulestest.APIKey()
	pack, _ := evictedPack(key)
	r, err := decode(t, Decoder{MaxHeld: 300, MaxSpool: 64}, pack, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	es := r.errors()
	if len(es) != 1 || !strings.Contains(es[0].Reason, "larger than the 64 bytes kept") || !strings.HasPrefix(es[0].Path, "x.pack!@") {
		t.Errorf("want one error naming the delta and the spool cap, got %v", r.skips)
	}
	if got := r.keys()[key]; !strings.HasSuffix(got, "(inserted bytes)") {
		t.Errorf("key found in %q, want the inserted bytes", got)
	}
}

// TestReworkCap: the bytes inflated again to rebuild dropped bases are
// capped per pack (a pack built to miss the cache costs bounded time);
// past the cap a miss is an error.
func TestReworkCap(t *testing.T) {
	key := rulestest.APIKey()
	pack, _ := evictedPack(key)
	r, err := decode(t, Decoder{MaxHeld: 300, MaxRework: 100}, pack, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if es := r.errors(); len(es) != 1 || !strings.Contains(es[0].Reason, "the cap") {
		t.Errorf("want one error about the rework cap, got %v", r.skips)
	}
	if _, ok := r.keys()[key]; !ok {
		t.Error("key in the inserted bytes not found")
	}
}

// TestLongChainEvicted: a chain of 300 deltas, each on the one before,
// read with memory for about one object, and bases requested out of
// order (every delta after the first skips one back): every object is
// rebuilt through its chain and every key found.
func TestLongChainEvicted(t *testing.T) {
	const n = 300
	keys := make([]string, n)
	var b packBuilder
	base := bytes.Repeat([]byte("chain base line\n"), 10)
	offs := []int64{b.blob(base)}
	sizes := []int{len(base)}
	for i := range n {
		keys[i] = rulestest.APIKey()
		add := []byte("K=" + keys[i] + "\n")
		on := max(0, len(offs)-2) // two back: its base is never the last built
		d := deltaOf(uint64(sizes[on]), uint64(len(base)+len(add)), cp(0, uint32(len(base))), ins(add))
		offs = append(offs, b.ofsDelta(offs[on], d))
		sizes = append(sizes, len(base)+len(add))
	}
	r, err := decode(t, Decoder{MaxHeld: 300}, b.pack(-1), 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	found := r.keys()
	for i, k := range keys {
		if p, ok := found[k]; !ok || strings.HasSuffix(p, "(inserted bytes)") {
			t.Errorf("key %d found in %q, want its rebuilt object", i, p)
		}
	}
}

// TestDeltaChainBomb: deltas that double their base, then many that copy
// a cap-sized object whole: nothing over the cap is built, and the
// engine's budget stops the read soon.
func TestDeltaChainBomb(t *testing.T) {
	const capBytes = 1 << 20
	r, err := decode(t, Decoder{MaxHeld: 3 * capBytes}, bombPack(capBytes), 8<<20)
	if !errors.Is(err, errBudget) {
		t.Fatalf("Open: %v, want the budget's error", err)
	}
	if r.read > 8<<20+capBytes {
		t.Errorf("read %d bytes after the budget of %d was spent", r.read, 8<<20)
	}
	if len(r.errors()) == 0 || !strings.Contains(r.errors()[0].Reason, "over the memory cap") {
		t.Errorf("want an error for the delta over the cap, got %v", r.skips)
	}
}

// bombPack is a base of 64 KiB, deltas doubling it up to capBytes, one
// delta declaring four times that, then 200 deltas each rebuilding the
// cap-sized object whole: a 30 KB pack that would expand to 200 MiB.
func bombPack(capBytes uint32) []byte {
	var b packBuilder
	size := uint32(64 << 10)
	prev := b.blob(bytes.Repeat([]byte("z"), int(size)))
	for size < capBytes {
		prev = b.ofsDelta(prev, deltaOf(uint64(size), uint64(2*size), cp(0, size), cp(0, size)))
		size *= 2
	}
	b.ofsDelta(prev, deltaOf(uint64(size), uint64(4*size), cp(0, size), cp(0, size), cp(0, size), cp(0, size)))
	for range 200 {
		b.ofsDelta(prev, deltaOf(uint64(size), uint64(size), cp(0, size)))
	}
	return b.pack(-1)
}

// TestCorruptDelta: a delta that copies beyond its base is damage; the
// objects after it are still read, and the damage is returned at the end.
func TestCorruptDelta(t *testing.T) {
	key := rulestest.APIKey()
	var b packBuilder
	base := b.blob(bytes.Repeat([]byte("q"), 100))
	b.ofsDelta(base, deltaOf(100, 50, cp(80, 50)))
	b.blob([]byte("K=" + key + "\n"))
	r, err := decode(t, Decoder{}, b.pack(-1), 0)
	if !errors.Is(err, scanner.ErrMalformed) || !strings.Contains(err.Error(), "copy beyond the base") {
		t.Fatalf("Open: %v, want ErrMalformed about the delta", err)
	}
	wantKey(t, r, key, "")
}

// TestBadBaseOffset: an OFS_DELTA pointing where no object starts.
func TestBadBaseOffset(t *testing.T) {
	key := rulestest.APIKey()
	var b packBuilder
	base := b.blob(bytes.Repeat([]byte("q"), 100))
	add := []byte("K=" + key + "\n")
	b.ofsDelta(base+1, deltaOf(100, uint64(len(add)), ins(add)))
	r, err := decode(t, Decoder{}, b.pack(-1), 0)
	if !errors.Is(err, scanner.ErrMalformed) || !strings.Contains(err.Error(), "no object starts") {
		t.Fatalf("Open: %v, want ErrMalformed about the base offset", err)
	}
	wantKey(t, r, key, "")
}

// TestCorruptZlib: a damaged object stream ends the read as damage after
// the objects before it were scanned.
func TestCorruptZlib(t *testing.T) {
	key := rulestest.APIKey()
	var b packBuilder
	b.blob([]byte("K=" + key + "\n"))
	off := b.blob(bytes.Repeat([]byte("some text "), 50))
	pack := b.pack(-1)
	for i := off + 6; i < off+12; i++ {
		pack[i] ^= 0xff
	}
	r, err := decode(t, Decoder{}, pack, 0)
	if !errors.Is(err, scanner.ErrMalformed) {
		t.Fatalf("Open: %v, want ErrMalformed", err)
	}
	wantKey(t, r, key, "")
}

// TestLargeObjectStreamed: an object over the cap is streamed to the
// engine (named by its offset), not held.
func TestLargeObjectStreamed(t *testing.T) {
	key := rulestest.APIKey()
	var b packBuilder
	data := append(bytes.Repeat([]byte("x\n"), 4096), "K="+key+"\n"...)
	off := b.blob(data)
	r, err := decode(t, Decoder{MaxHeld: 1024}, b.pack(-1), 0)
	if err != nil || len(r.skips) != 0 {
		t.Fatalf("Open: %v, coverage %v", err, r.skips)
	}
	wantKey(t, r, key, "x.pack!@"+itoa(off))
}

// TestBundleTruncatedHeader: a bundle cut inside its header: the refs read
// are scanned, then damage.
func TestBundleTruncatedHeader(t *testing.T) {
	key := rulestest.APIKey()
	data := []byte("# v2 git bundle\n" + strings.Repeat("0", 40) + " refs/heads/" + key + "\n" + strings.Repeat("1", 40))
	r, err := decode(t, Decoder{}, data, 0)
	if !errors.Is(err, scanner.ErrMalformed) {
		t.Fatalf("Open: %v, want ErrMalformed", err)
	}
	wantKey(t, r, key, "x.pack!refs")
}

func hexID(id []byte) string { return hex.EncodeToString(id) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
