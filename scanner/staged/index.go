package staged

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/xaiscan/xaiscan/rules"
)

// entry is the part of an index entry the staged scan needs.
type entry struct {
	name        string
	hash        plumbing.Hash
	mode        filemode.FileMode
	stage       int
	intentToAdd bool
}

// gitIndex is a decoded index: entries in index order (sorted by path) and
// the valid nodes of the cache-tree extension, by directory path ("" for
// the root).
type gitIndex struct {
	entries []entry
	trees   map[string]plumbing.Hash
}

// readIndex decodes the index file at path. A missing index is an empty
// one (nothing staged yet).
//
// The index is decoded here rather than with go-git's decoder because the
// pre-commit hook must feel instant: go-git decodes every timestamp with
// reflection (about 50 ms for 10,000 entries, against well under 1 ms
// here), rejects the null checksum of index.skipHash, and drops the
// invalidated cache-tree nodes that are needed to rebuild the others'
// paths. The cache tree is what lets the scan skip every directory the
// commit does not touch without reading HEAD's trees.
func readIndex(path string) (*gitIndex, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &gitIndex{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read git index: %w", err)
	}
	idx, err := parseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("decode git index %s: %w", path, err)
	}
	return idx, nil
}

const (
	hashLen = 20
	// entryFixed is the size of an entry before its extended flags and
	// path: stat data, mode, ids, object id, flags.
	entryFixed = 62
	// maxPathExpansion bounds the path bytes an index may decode to, as a
	// multiple of its size. Version 4 stores each path as a cut of the
	// previous one plus a suffix, so a small file could otherwise expand
	// quadratically (each of 20,000 entries one byte longer than the
	// last: 200 MB of paths from 1.3 MB). Real indexes expand by less
	// than 1 (Go's source tree: 0.56); paths averaging 1 KiB still fit.
	maxPathExpansion = 16
)

var errTruncated = errors.New("truncated index")

// indexReader walks the bytes of an index.
type indexReader struct {
	data    []byte
	end     int // start of the trailing checksum
	off     int
	version uint32
	prev    []byte // previous path (version 4 prefix compression)
	budget  int    // path bytes the entries and the cache tree may still decode to
}

// parseIndex decodes index format versions 2, 3 and 4
// (https://git-scm.com/docs/index-format). It never panics on bad input,
// holds memory linear in len(data), and rejects what git rejects when it
// reads an index (git ls-files) or checks one (git fsck): a bad signature
// or version, a checksum mismatch (the null checksum of index.skipHash is
// accepted), entries beyond the data, a path not NUL-terminated or holding
// a NUL, a version 4 path cutting more than the previous path holds,
// unknown entry flags, entries out of order or duplicated, an unknown
// required extension, and an extension running past the end.
func parseIndex(data []byte) (*gitIndex, error) {
	r, count, err := newIndexReader(data)
	if err != nil {
		return nil, err
	}
	idx := &gitIndex{entries: make([]entry, 0, count)}
	for i := uint32(0); i < count; i++ {
		ent, err := r.entry(i == 0)
		if err != nil {
			return nil, fmt.Errorf("entry %d of %d: %w", i+1, count, err)
		}
		if i > 0 {
			if err := checkOrder(idx.entries[i-1], ent); err != nil {
				return nil, err
			}
		}
		idx.entries = append(idx.entries, ent)
	}
	if idx.trees, err = r.extensions(); err != nil {
		return nil, err
	}
	return idx, nil
}

// newIndexReader checks the header and the checksum and returns a reader
// positioned at the first entry, and the entry count.
func newIndexReader(data []byte) (*indexReader, uint32, error) {
	if len(data) < 12+hashLen || string(data[:4]) != "DIRC" {
		return nil, 0, errors.New("not a git index (bad signature)")
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, 0, fmt.Errorf("unsupported index version %d", version)
	}
	end := len(data) - hashLen
	if err := verifyChecksum(data[:end], data[end:]); err != nil {
		return nil, 0, err
	}
	count := binary.BigEndian.Uint32(data[8:12])
	// Every entry takes at least 64 bytes: refuse a count the data cannot
	// hold before allocating for it.
	if uint64(count) > uint64(end-12)/(entryFixed+2) {
		return nil, 0, fmt.Errorf("index claims %d entries in %d bytes", count, len(data))
	}
	r := &indexReader{data: data, end: end, off: 12, version: version, budget: maxPathExpansion * len(data)}
	return r, count, nil
}

// verifyChecksum checks the trailing SHA-1 of the index, as git fsck does.
// An all-zero trailer is what git writes with index.skipHash.
func verifyChecksum(body, sum []byte) error {
	if bytes.Equal(sum, make([]byte, hashLen)) {
		return nil
	}
	if got := sha1.Sum(body); !bytes.Equal(got[:], sum) {
		return errors.New("checksum mismatch: the index is damaged (git fsck: bad index file sha1 signature)")
	}
	return nil
}

// entry decodes the entry at r.off and moves past it. first is set for the
// first entry, whose version 4 prefix is empty whatever it says.
func (r *indexReader) entry(first bool) (entry, error) {
	if r.off+entryFixed > r.end {
		return entry{}, errTruncated
	}
	e := r.data[r.off : r.off+entryFixed]
	var ent entry
	ent.mode = filemode.FileMode(binary.BigEndian.Uint32(e[24:28]))
	copy(ent.hash[:], e[40:60])
	flags := binary.BigEndian.Uint16(e[60:62])
	ent.stage = int(flags>>12) & 3
	p := r.off + entryFixed
	if flags&0x4000 != 0 { // extended flags (git reads them in any version)
		if p+2 > r.end {
			return entry{}, errTruncated
		}
		ext := binary.BigEndian.Uint16(r.data[p : p+2])
		// Git knows intent-to-add (0x2000) and skip-worktree (0x4000);
		// any other bit is a format it refuses to guess at.
		if ext&^0x6000 != 0 {
			return entry{}, fmt.Errorf("unknown index entry format 0x%08x", uint32(ext)<<16)
		}
		ent.intentToAdd = ext&0x2000 != 0
		p += 2
	}
	var err error
	if r.version == 4 {
		ent.name, err = r.nameV4(p, first)
	} else {
		ent.name, err = r.nameV2(p, int(flags&0xfff))
	}
	return ent, err
}

// nameV2 decodes the path of a version 2 or 3 entry starting at p, whose
// flags give its length (0xfff: 4095 or more, NUL-terminated), and moves
// r.off past the entry's NUL padding.
func (r *indexReader) nameV2(p, nameLen int) (string, error) {
	if nameLen == 0xfff {
		nul := bytes.IndexByte(r.data[p:r.end], 0)
		if nul < 0 {
			return "", errors.New("path not NUL-terminated")
		}
		nameLen = nul
	}
	// Git copies the path with the byte after it, taking it for the NUL
	// that ends every path: anything else is a path git and this scan
	// would read differently.
	if p+nameLen >= r.end {
		return "", errTruncated
	}
	name := r.data[p : p+nameLen]
	if r.data[p+nameLen] != 0 {
		return "", fmt.Errorf("path %s not NUL-terminated", quotePath(name))
	}
	if bytes.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("path %s holds a NUL byte", quotePath(name))
	}
	// Entries are padded with 1-8 NULs to a multiple of 8 bytes.
	next := r.off + (p-r.off+nameLen+8)&^7
	if next > r.end {
		return "", errTruncated
	}
	r.off = next
	return string(name), nil
}

// nameV4 decodes a version 4 path at p: a varint count of bytes to cut
// from the end of the previous path, then the NUL-terminated suffix.
func (r *indexReader) nameV4(p int, first bool) (string, error) {
	strip, n, ok := varint(r.data[p:r.end])
	if !ok {
		return "", errors.New("bad path prefix compression")
	}
	keep := 0
	if !first { // git ignores the cut of an entry that has no predecessor
		if strip > uint64(len(r.prev)) {
			return "", fmt.Errorf("path prefix compression cuts %d bytes from the %d-byte path before it", strip, len(r.prev))
		}
		keep = len(r.prev) - int(strip)
	}
	p += n
	nul := bytes.IndexByte(r.data[p:r.end], 0)
	if nul < 0 {
		return "", errors.New("path not NUL-terminated")
	}
	if r.budget -= keep + nul; r.budget < 0 {
		return "", fmt.Errorf("paths expand to more than %d times the index's size (a crafted index?)", maxPathExpansion)
	}
	r.prev = append(r.prev[:keep], r.data[p:p+nul]...)
	r.off = p + nul + 1
	return string(r.prev), nil
}

// checkOrder checks that next may follow prev, as git fsck does: sorted by
// path, and one path is either one stage-0 entry or conflict stages in
// increasing order.
func checkOrder(prev, next entry) error {
	switch c := strings.Compare(prev.name, next.name); {
	case c > 0:
		return fmt.Errorf("entries out of order: %s before %s", quotePath([]byte(prev.name)), quotePath([]byte(next.name)))
	case c == 0 && prev.stage == 0:
		return fmt.Errorf("more than one entry for %s", quotePath([]byte(next.name)))
	case c == 0 && prev.stage > next.stage:
		return fmt.Errorf("conflict stages of %s out of order", quotePath([]byte(next.name)))
	}
	return nil
}

// extensions reads the extensions after the entries: 4-byte signature,
// 4-byte size, data. It returns the cache tree, if there is a valid one.
func (r *indexReader) extensions() (map[string]plumbing.Hash, error) {
	var trees map[string]plumbing.Hash
	// Git also passes over fewer than 8 bytes left before the checksum.
	for r.off+8 <= r.end {
		sig := string(r.data[r.off : r.off+4])
		size := binary.BigEndian.Uint32(r.data[r.off+4 : r.off+8])
		r.off += 8
		if uint64(size) > uint64(r.end-r.off) {
			return nil, fmt.Errorf("extension %q is truncated: it claims %d bytes, %d remain", sig, size, r.end-r.off)
		}
		body := r.data[r.off : r.off+int(size)]
		r.off += int(size)
		switch {
		case sig == "TREE":
			// A malformed cache tree only costs speed: ignore it.
			trees, _ = parseCacheTree(body, &r.budget)
		case sig == "link":
			return nil, errors.New("split index is not supported (run: git update-index --no-split-index)")
		case sig == "sdir":
			// A sparse index: its directory entries are compared as trees.
		case sig[0] < 'A' || sig[0] > 'Z':
			// Git's rule: an extension whose name does not start with
			// an upper-case letter changes the meaning of the entries.
			return nil, fmt.Errorf("index uses %q extension, which xaiscan does not understand", sig)
		}
	}
	return trees, nil
}

// varint decodes git's offset varint (varint.c), used by index v4.
func varint(b []byte) (uint64, int, bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	c := b[0]
	val := uint64(c & 127)
	n := 1
	for c&128 != 0 {
		if n >= len(b) || n > 9 {
			return 0, 0, false
		}
		val++
		c = b[n]
		n++
		val = val<<7 + uint64(c&127)
	}
	return val, n, true
}

// quotePath shows an index path in an error: any key redacted, quoted (so
// control bytes are escaped), and cut to a readable length.
func quotePath(p []byte) string {
	const show = 120
	ms := rules.FindAll(p)
	s := string(p)
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		s = s[:m.Start] + rules.Redact(s[m.Start:m.End]) + s[m.End:]
	}
	cut := ""
	if len(s) > show {
		s, cut = s[:show], "..."
	}
	return strconv.Quote(s) + cut
}

// parseCacheTree decodes the TREE extension: nodes in pre-order, each
// "path NUL entry_count SP subtree_count LF [hash]", the hash present only
// when entry_count >= 0 (the node is valid). Full paths are rebuilt from
// the nesting, so they are charged to budget: a deep chain of long names
// would otherwise cost the square of its size.
func parseCacheTree(b []byte, budget *int) (map[string]plumbing.Hash, error) {
	out := map[string]plumbing.Hash{}
	if len(b) == 0 {
		return out, nil
	}
	if err := cacheTreeNode(&b, "", 0, budget, out); err != nil {
		return nil, err
	}
	return out, nil
}

// cacheTreeNode decodes one node of the cache tree and its subtrees.
func cacheTreeNode(b *[]byte, prefix string, depth int, budget *int, out map[string]plumbing.Hash) error {
	if depth > 4096 {
		return errors.New("cache tree too deep")
	}
	name, entries, subtrees, err := cacheTreeHeader(b)
	if err != nil {
		return err
	}
	path := prefix + name
	if *budget -= len(path); *budget < 0 {
		return errors.New("cache tree paths too long")
	}
	if entries >= 0 {
		if len(*b) < hashLen {
			return errTruncated
		}
		var h plumbing.Hash
		copy(h[:], (*b)[:hashLen])
		*b = (*b)[hashLen:]
		out[path] = h
	}
	childPrefix := path + "/"
	if path == "" {
		childPrefix = ""
	}
	for i := 0; i < subtrees; i++ {
		if err := cacheTreeNode(b, childPrefix, depth+1, budget, out); err != nil {
			return err
		}
	}
	return nil
}

// cacheTreeHeader reads "path NUL entry_count SP subtree_count LF".
func cacheTreeHeader(b *[]byte) (name string, entries, subtrees int, err error) {
	nul := bytes.IndexByte(*b, 0)
	if nul < 0 {
		return "", 0, 0, errTruncated
	}
	name = string((*b)[:nul])
	rest := (*b)[nul+1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return "", 0, 0, errTruncated
	}
	if entries, err = strconv.Atoi(string(rest[:sp])); err != nil {
		return "", 0, 0, errors.New("bad entry count")
	}
	rest = rest[sp+1:]
	nl := bytes.IndexByte(rest, '\n')
	if nl < 0 {
		return "", 0, 0, errTruncated
	}
	subtrees, err = strconv.Atoi(string(rest[:nl]))
	if err != nil || subtrees < 0 {
		return "", 0, 0, errors.New("bad subtree count")
	}
	*b = rest[nl+1:]
	return name, entries, subtrees, nil
}
