package decode

import (
	"bytes"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// UTF16 finds keys written in UTF-16, little or big endian, with or without
// a byte order mark, at any byte offset (so UTF-16 strings embedded in
// binary files are found too).
//
// "xai-" is x\0a\0i\0-\0 in little endian and \0x\0a\0i\0- in big endian;
// both contain the 7-byte literal x\0a\0i\0-, so one search serves both and
// the byte after or before it tells them apart. The code units that follow
// are decoded to ASCII (any other code unit becomes a non-word byte, which
// is a valid key boundary, as it is for plain text) and validated by the
// rules.
//
// Allow markers are honoured when they are written in UTF-16 on the key's
// line, as a UTF-16 file would carry them.
//
// The zero value is ready to use and safe for concurrent use.
type UTF16 struct{}

var utf16Lit = []byte("x\x00a\x00i\x00-")

const (
	// minUTF16Key is the byte length of the shortest key in UTF-16.
	minUTF16Key = 2 * (len(rules.Prefix) + rules.BodyLen)
	// allowContext is how many code units either side of a key are decoded
	// to look for an allow marker on its line (the engine keeps 1024 bytes
	// of context before each chunk: 512 code units).
	allowContext = 512
	// nonASCII stands in for a code unit outside ASCII: not a letter, digit
	// or '_', so, like a UTF-8 byte in plain text, it is a key boundary.
	nonASCII = 0x80
)

// Detect implements scanner.Detector.
func (UTF16) Detect(w []byte, fn func(scanner.Hit)) {
	if len(w) < minUTF16Key || !hasSampledNUL(w) {
		return
	}
	scanUTF16(w, fn)
}

// scanUTF16 looks for the UTF-16 literal in all of w.
func scanUTF16(w []byte, fn func(scanner.Hit)) {
	for i := 0; ; {
		j := bytes.Index(w[i:], utf16Lit)
		if j < 0 {
			return
		}
		p := i + j
		le := p+len(utf16Lit) < len(w) && w[p+len(utf16Lit)] == 0
		be := p > 0 && w[p-1] == 0
		if le && be {
			// Inside ASCII-only UTF-16 text both readings decode the same
			// characters, one byte apart. Code units sit at even offsets in
			// a UTF-16 file (the engine's chunks start at even offsets), so
			// the parity of the literal decides.
			le = p%2 == 0
			be = !le
		}
		switch {
		case le:
			verifyUTF16(w, p, false, fn)
		case be:
			verifyUTF16(w, p-1, true, fn)
		}
		i = p + 1
	}
}

// unitAt decodes the code unit at w[i:i+2] to a byte: itself if ASCII,
// nonASCII otherwise.
func unitAt(w []byte, i int, be bool) byte {
	hi, lo := w[i+1], w[i]
	if be {
		hi, lo = w[i], w[i+1]
	}
	if hi != 0 || lo >= 0x80 {
		return nonASCII
	}
	return lo
}

// verifyUTF16 checks for a key whose first code unit starts at w[start].
func verifyUTF16(w []byte, start int, be bool, fn func(scanner.Hit)) {
	// One code unit of context before (the left boundary), the longest key
	// and one after (the right boundary).
	var dec [1 + rules.MaxKeyLen + 1]byte
	n, kpos := 0, 0
	if start >= 2 {
		dec[0] = unitAt(w, start-2, be)
		n, kpos = 1, 1
	}
	for i := start; i+1 < len(w) && n < len(dec); i += 2 {
		dec[n] = unitAt(w, i, be)
		n++
	}
	m, ok := rules.MatchAt(dec[:n], kpos)
	if !ok {
		return
	}
	keyLen := m.End - m.Start
	end := start + 2*keyLen
	enc := EncodingUTF16LE
	if be {
		enc = EncodingUTF16BE
	}
	fn(scanner.Hit{
		Rule:     m.Rule,
		Start:    start,
		End:      end,
		Key:      bytes.Clone(dec[m.Start:m.End]),
		Entropy:  m.Entropy,
		Encoding: enc,
		Allowed:  allowedUTF16(w, start, end, be),
	})
}

// allowedUTF16 decodes the key's line (within allowContext code units each
// side) to ASCII and asks the rules whether it carries an allow marker. It
// runs only for keys, so its allocation does not matter.
func allowedUTF16(w []byte, start, end int, be bool) bool {
	lo := start
	for k := 0; k < allowContext && lo >= 2; k++ {
		lo -= 2
	}
	hi := end
	for k := 0; k < allowContext && hi+2 <= len(w); k++ {
		hi += 2
	}
	line := make([]byte, 0, (hi-lo)/2)
	for i := lo; i+1 < hi; i += 2 {
		line = append(line, unitAt(w, i, be))
	}
	ks := (start - lo) / 2
	return rules.Allowed(line, ks, ks+(end-start)/2)
}

// hasSampledNUL reports whether a 2-byte sample every nulStride bytes meets
// a NUL: the gate that keeps UTF-16 decoding off ordinary text at the cost of
// touching one cache line in two.
func hasSampledNUL(w []byte) bool {
	for i := 0; i+1 < len(w); i += nulStride {
		if w[i] == 0 || w[i+1] == 0 {
			return true
		}
	}
	return false
}
