package staged

import (
	"crypto/sha1"
	"encoding/binary"
)

// ixEntry is one entry of an index built by buildIndex.
type ixEntry struct {
	name  string
	mode  uint32
	hash  [20]byte
	stage int
	// ext is the extended-flags word (version 3+); 0 writes none.
	ext uint16
}

// buildIndex writes an index of the given version holding ents in the
// order given (not sorted: tests build bad orders on purpose), then the
// raw extensions, then the trailing SHA-1.
func buildIndex(version uint32, ents []ixEntry, exts ...[]byte) []byte {
	b := []byte("DIRC")
	b = binary.BigEndian.AppendUint32(b, version)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ents)))
	prev := ""
	for _, e := range ents {
		start := len(b)
		var fixed [62]byte
		binary.BigEndian.PutUint32(fixed[24:], e.mode)
		copy(fixed[40:60], e.hash[:])
		flags := uint16(e.stage&3) << 12
		flags |= uint16(min(len(e.name), 0xfff))
		if e.ext != 0 {
			flags |= 0x4000
		}
		binary.BigEndian.PutUint16(fixed[60:], flags)
		b = append(b, fixed[:]...)
		if e.ext != 0 {
			b = binary.BigEndian.AppendUint16(b, e.ext)
		}
		if version == 4 {
			common := 0
			for common < len(prev) && common < len(e.name) && prev[common] == e.name[common] {
				common++
			}
			b = appendVarint(b, uint64(len(prev)-common))
			b = append(b, e.name[common:]...)
			b = append(b, 0)
			prev = e.name
			continue
		}
		b = append(b, e.name...)
		pad := 8 - (len(b)-start)%8
		for i := 0; i < pad; i++ {
			b = append(b, 0)
		}
	}
	for _, x := range exts {
		b = append(b, x...)
	}
	return resum(b)
}

// ext builds an extension: signature, size, body.
func ext(sig string, body []byte) []byte {
	b := append([]byte(sig), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[4:], uint32(len(body)))
	return append(b, body...)
}

// resum appends the SHA-1 of b.
func resum(b []byte) []byte {
	s := sha1.Sum(b)
	return append(b, s[:]...)
}

// appendVarint writes git's offset varint (the inverse of varint).
func appendVarint(b []byte, v uint64) []byte {
	var buf [16]byte
	pos := len(buf) - 1
	buf[pos] = byte(v & 127)
	for v >>= 7; v != 0; v >>= 7 {
		v--
		pos--
		buf[pos] = 128 | byte(v&127)
	}
	return append(b, buf[pos:]...)
}
