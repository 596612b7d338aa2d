package scanner

import "bytes"

// Text encodings the line counter understands. UTF-16 is recognised by its
// byte-order mark; without one, bytes are counted (which is also right for
// UTF-16 text that is plain ASCII, since its 0x0A bytes are its newlines).
const (
	encBytes = iota
	encUTF16LE
	encUTF16BE
)

// lineState carries line counting across the windows of one item: how
// many newlines lie before the current window's first owned byte, and the
// absolute offset at which the line holding that byte starts.
type lineState struct {
	enc       int
	lines     int
	lineStart int64
	// binary is set for items whose first bytes hold a NUL (git's test):
	// executables and other non-text, read with rules.FindBinary.
	binary bool
}

// binarySniffLen is how much of an item's start is checked for a NUL
// byte, as git does to call a file binary.
const binarySniffLen = 8000

// newLineState reads the encoding, and whether the item is binary, from
// its first bytes.
func newLineState(head []byte) lineState {
	switch {
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		return lineState{enc: encUTF16LE}
	case len(head) >= 2 && head[0] == 0xFE && head[1] == 0xFF:
		return lineState{enc: encUTF16BE}
	}
	return lineState{binary: IsBinary(head)}
}

// IsBinary reports whether content that starts with head is binary: a NUL
// in its first 8,000 bytes, as git decides. Binary content is read with
// the binary rules (rules.FindBinary).
func IsBinary(head []byte) bool {
	return bytes.IndexByte(head[:min(len(head), binarySniffLen)], 0) >= 0
}

// newlines calls fn with the offset just past every newline in b, whose
// first byte is at absolute offset base. In UTF-16 only whole code units
// count: a 0x0A byte inside another character (U+4E0A 上) is not a newline.
func (ls lineState) newlines(b []byte, base int64, fn func(end int)) {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return
		}
		j += i
		i = j + 1
		even := (base+int64(j))%2 == 0
		switch ls.enc {
		case encBytes:
			fn(j + 1)
		case encUTF16LE:
			if even && j+1 < len(b) && b[j+1] == 0 {
				fn(j + 2)
				i = j + 2
			}
		case encUTF16BE:
			if !even && j > 0 && b[j-1] == 0 {
				fn(j + 1)
			}
		}
	}
}

// count returns the number of newlines in b (at absolute offset base).
func (ls lineState) count(b []byte, base int64) int {
	if ls.enc == encBytes {
		return bytes.Count(b, []byte{'\n'})
	}
	n := 0
	ls.newlines(b, base, func(int) { n++ })
	return n
}

// lastLineStart returns the offset in b at which its last line starts,
// or -1 if b holds no newline.
func (ls lineState) lastLineStart(b []byte, base int64) int {
	if ls.enc == encBytes {
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return i + 1
		}
		return -1
	}
	last := -1
	ls.newlines(b, base, func(end int) { last = end })
	return last
}

// advance moves the state past b (the owned part of a window, at absolute
// offset base).
func (ls lineState) advance(b []byte, base int64) lineState {
	ls.lines += ls.count(b, base)
	if i := ls.lastLineStart(b, base); i >= 0 {
		ls.lineStart = base + int64(i)
	}
	return ls
}

// position returns the 1-based line and column of the byte at window
// offset at. The column counts bytes, or code units in UTF-16.
func (ls lineState) position(window []byte, base int64, ownStart, at int) (line, col int) {
	line = ls.lines + ls.count(window[ownStart:at], base+int64(ownStart)) + 1
	start := ls.lineStart
	if i := ls.lastLineStart(window[:at], base); i >= 0 {
		start = base + int64(i)
	}
	col = int(base + int64(at) - start)
	if ls.enc != encBytes {
		col /= 2
	}
	return line, col + 1
}
