package staged

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
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

const hashLen = 20

var errTruncated = errors.New("truncated index")

// parseIndex decodes index format versions 2, 3 and 4
// (https://git-scm.com/docs/index-format). It never panics on bad input.
func parseIndex(data []byte) (*gitIndex, error) {
	if len(data) < 12+hashLen || string(data[:4]) != "DIRC" {
		return nil, errors.New("not a git index (bad signature)")
	}
	version := binary.BigEndian.Uint32(data[4:8])
	if version < 2 || version > 4 {
		return nil, fmt.Errorf("unsupported index version %d", version)
	}
	count := binary.BigEndian.Uint32(data[8:12])
	end := len(data) - hashLen // trailing checksum
	if uint64(count) > uint64(end)/62 {
		return nil, fmt.Errorf("index claims %d entries in %d bytes", count, len(data))
	}
	idx := &gitIndex{entries: make([]entry, 0, count)}
	off := 12
	var prev []byte // previous name, for version 4 prefix compression
	for i := uint32(0); i < count; i++ {
		const fixed = 62 // stat data, mode, ..., hash, flags
		if off+fixed > end {
			return nil, errTruncated
		}
		e := data[off : off+fixed]
		var ent entry
		ent.mode = filemode.FileMode(binary.BigEndian.Uint32(e[24:28]))
		copy(ent.hash[:], e[40:60])
		flags := binary.BigEndian.Uint16(e[60:62])
		ent.stage = int(flags>>12) & 3
		p := off + fixed
		if flags&0x4000 != 0 { // extended flags (version 3+)
			if version < 3 || p+2 > end {
				return nil, errors.New("bad extended flags")
			}
			ext := binary.BigEndian.Uint16(data[p : p+2])
			ent.intentToAdd = ext&0x2000 != 0
			p += 2
		}
		if version == 4 {
			strip, n, ok := varint(data[p:end])
			if !ok || strip > uint64(len(prev)) {
				return nil, errors.New("bad path prefix compression")
			}
			p += n
			nul := bytes.IndexByte(data[p:end], 0)
			if nul < 0 {
				return nil, errTruncated
			}
			name := make([]byte, 0, len(prev)-int(strip)+nul)
			name = append(name, prev[:len(prev)-int(strip)]...)
			name = append(name, data[p:p+nul]...)
			prev = name
			ent.name = string(name)
			off = p + nul + 1
		} else {
			nameLen := int(flags & 0xfff)
			if nameLen == 0xfff { // long name: NUL-terminated
				nul := bytes.IndexByte(data[p:end], 0)
				if nul < 0 {
					return nil, errTruncated
				}
				nameLen = nul
			}
			if p+nameLen > end {
				return nil, errTruncated
			}
			ent.name = string(data[p : p+nameLen])
			// Entries are padded with 1-8 NULs to a multiple of 8 bytes.
			entLen := (p - off + nameLen + 8) &^ 7
			off += entLen
		}
		if off > end {
			return nil, errTruncated
		}
		idx.entries = append(idx.entries, ent)
	}
	// Extensions: 4-byte signature, 4-byte size, data.
	for off+8 <= end {
		sig := string(data[off : off+4])
		size := binary.BigEndian.Uint32(data[off+4 : off+8])
		off += 8
		if uint64(size) > uint64(end-off) {
			return nil, fmt.Errorf("extension %q overruns the index", sig)
		}
		body := data[off : off+int(size)]
		off += int(size)
		switch sig {
		case "TREE":
			// A malformed cache tree only costs speed: ignore it.
			idx.trees, _ = parseCacheTree(body)
		case "link":
			return nil, errors.New("split index is not supported (run: git update-index --no-split-index)")
		}
	}
	return idx, nil
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

// parseCacheTree decodes the TREE extension: nodes in pre-order, each
// "path NUL entry_count SP subtree_count LF [hash]", the hash present only
// when entry_count >= 0 (the node is valid).
func parseCacheTree(b []byte) (map[string]plumbing.Hash, error) {
	out := map[string]plumbing.Hash{}
	var node func(prefix string, depth int) error
	node = func(prefix string, depth int) error {
		if depth > 4096 {
			return errors.New("cache tree too deep")
		}
		nul := bytes.IndexByte(b, 0)
		if nul < 0 {
			return errTruncated
		}
		name := string(b[:nul])
		b = b[nul+1:]
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return errTruncated
		}
		entries, err := strconv.Atoi(string(b[:sp]))
		if err != nil {
			return err
		}
		b = b[sp+1:]
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return errTruncated
		}
		subtrees, err := strconv.Atoi(string(b[:nl]))
		if err != nil || subtrees < 0 {
			return errors.New("bad subtree count")
		}
		b = b[nl+1:]
		path := prefix + name
		if entries >= 0 {
			if len(b) < hashLen {
				return errTruncated
			}
			var h plumbing.Hash
			copy(h[:], b[:hashLen])
			b = b[hashLen:]
			out[path] = h
		}
		childPrefix := path + "/"
		if path == "" {
			childPrefix = ""
		}
		for i := 0; i < subtrees; i++ {
			if err := node(childPrefix, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if len(b) == 0 {
		return out, nil
	}
	if err := node("", 0); err != nil {
		return nil, err
	}
	return out, nil
}
