// Package gitfile is the scanner.Decoder for git packs and bundles that lie
// in a tree as plain files: a .pack committed by accident, a repo.bundle
// backup, a pack inside a tarball. A key inside one of their objects is
// zlib-compressed, often only as part of a delta, so the raw bytes never
// show it; this decoder reads the objects out.
//
// Recognition is by content only: "PACK" with version 2 or 3, or a bundle's
// first line "# v2 git bundle" / "# v3 git bundle". The pack is read as a
// stream, object by object, without an .idx. Members handed to the engine:
//
//   - every blob as "<outer>!<object id>", every commit and tag, whole
//     (headers and message), as "<outer>!<id> (commit)" / "(tag)", and the
//     entry names of every tree, one per line, as "<outer>!<id> (tree)";
//   - for a bundle, its header after the signature (prerequisites with
//     their subjects, ref names) as "<outer>!refs";
//   - an object too large to hold in memory is streamed to the engine and
//     named by its offset, "<outer>!@<offset>", since its id is only known
//     once it has been read.
//
// Members' Encoding is "git-pack" for a pack and "git-bundle" for a bundle.
//
// Deltas (OFS_DELTA, REF_DELTA) are rebuilt against objects earlier in the
// same pack (and REF_DELTA bases met later), as git's index-pack does:
// every object of a healthy pack is rebuilt, whatever memory holds.
// Decoded objects are kept as bases up to Decoder.MaxHeld bytes, least
// recently used first out, and the pack's own compressed bytes are kept
// as they pass (in memory up to MaxMemSpool, then in a temporary file in
// os.TempDir(), removed after use, up to MaxSpool), with each entry's
// offset, type and base. A base no longer held is inflated again from its
// offset, down its chain of deltas (iteratively, at most 4096 deep) and
// back up: a cache miss costs time, not coverage, and that time is capped
// per pack by MaxRework. A delta waiting for a REF_DELTA base not met yet
// is kept as its offset only. What still cannot be rebuilt is named:
// a delta whose base is not in the file at all (a thin pack, a bundle with
// prerequisites) is a note, because no tool can rebuild it from this
// file; one whose base or result exceeds MaxHeld, or whose base lies past
// MaxSpool or MaxRework, is a coverage error. Either way the bytes the
// delta itself inserts are scanned, as "<outer>!@<offset> (inserted
// bytes)": a key added by an edit is found even without its base.
//
// Damage (a truncated or corrupt pack or bundle) ends the read with an
// error matching scanner.ErrMalformed after every object before it was
// scanned. Bounds: nothing is allocated from a declared count or size; a
// delta's declared result size is checked against MaxHeld before it is
// built, and each delta is validated before it is applied, so a chain of
// deltas that multiply their base costs at most MaxHeld per object and is
// charged, byte for byte, to the engine's decoded-bytes budget.
package gitfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"

	"github.com/xaiscan/xaiscan/scanner"
)

// DefaultMaxHeld is the memory the decoder may use for delta bases when
// Decoder.MaxHeld is zero. Git itself does not deltify files above
// core.bigFileThreshold (512 MiB), but most bases are small: 64 MiB keeps
// ordinary repositories' packs fully resolvable.
const DefaultMaxHeld = 64 << 20

// Encodings set on members.
const (
	EncodingPack   = "git-pack"
	EncodingBundle = "git-bundle"
)

// Decoder reads git packs and bundles. The zero value is ready to use.
type Decoder struct {
	scanner.NoSpans
	// MaxHeld caps the bytes of decoded objects kept in memory per pack
	// as delta bases (a base dropped from it is inflated again from the
	// spool); it is also the largest object rebuilt from a delta. Zero
	// means DefaultMaxHeld.
	MaxHeld int64
	// MaxMemSpool is how much of the pack's own (compressed) bytes is
	// kept in memory for inflating objects again (16 MiB: a bigger pack
	// is rarely found in a tree, and a temporary file costs less than
	// holding it); beyond it they go to a
	// temporary file in os.TempDir(), removed after use, up to MaxSpool
	// bytes. Zero means DefaultMaxMemSpool and DefaultMaxSpool.
	MaxMemSpool int64
	MaxSpool    int64
	// MaxRework caps, per pack, the bytes inflated and rebuilt again to
	// recover bases dropped from memory: the time a hostile pack built to
	// miss the cache can cost. Zero means DefaultMaxRework.
	MaxRework int64
}

// Defaults for the spool and the rework a pack may cost.
const (
	DefaultMaxMemSpool = 16 << 20
	DefaultMaxSpool    = 4 << 30
	DefaultMaxRework   = 16 << 30
)

var (
	packMagic = []byte("PACK")
	bundleV2  = []byte("# v2 git bundle\n")
	bundleV3  = []byte("# v3 git bundle\n")
)

// Opens implements scanner.Decoder: a pack header with a version git
// writes, or a bundle signature line.
func (Decoder) Opens(_ scanner.Item, head []byte) bool {
	return isPack(head) || bytes.HasPrefix(head, bundleV2) || bytes.HasPrefix(head, bundleV3)
}

func isPack(head []byte) bool {
	if len(head) < 12 || !bytes.HasPrefix(head, packMagic) {
		return false
	}
	v := binary.BigEndian.Uint32(head[4:8])
	return v == 2 || v == 3
}

// Open implements scanner.Decoder: it reads the bundle header, if any,
// then the pack, handing every object to m.
func (d Decoder) Open(ctx context.Context, it scanner.Item, r io.Reader, m scanner.Members) error {
	max := orDefault(d.MaxHeld, DefaultMaxHeld)
	sp := newSpool(r, orDefault(d.MaxMemSpool, DefaultMaxMemSpool), orDefault(d.MaxSpool, DefaultMaxSpool))
	defer sp.close()
	br := bufio.NewReaderSize(sp, 64<<10)
	p := &pack{
		ctx: ctx, m: m, parent: it, outer: outerPath(it),
		encoding: EncodingPack, hashLen: 20, max: max,
		cache: newCache(max), wait: newWaitRoom(max / 4), spool: sp,
		re: reread{max: orDefault(d.MaxRework, DefaultMaxRework)},
	}
	head, _ := br.Peek(len(bundleV2))
	if !isPack(head) && (bytes.Equal(head, bundleV2) || bytes.Equal(head, bundleV3)) {
		p.encoding = EncodingBundle
		if err := p.bundleHeader(br); err != nil {
			return err
		}
	}
	p.packStart = sp.read - int64(br.Buffered())
	return p.read(br)
}

func orDefault(v, def int64) int64 {
	if v > 0 {
		return v
	}
	return def
}

// outerPath is the display path of the container: its Path, or for a git
// blob (scanned before its paths are known) its object id, which the git
// source's attribution replaces with the blob's path.
func outerPath(it scanner.Item) string {
	switch {
	case it.Path != "":
		return it.Path
	case it.Object != "":
		return it.Object
	}
	return "(" + it.Source + ")"
}
