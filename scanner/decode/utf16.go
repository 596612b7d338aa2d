package decode

import (
	"github.com/xaiscan/xaiscan/scanner"
)

// UTF16Text is the span decoder for ASCII text written in UTF-16, little
// or big endian, with or without a byte order mark, at any byte offset
// (Encoding "utf-16le" or "utf-16be"): a PowerShell profile or .reg
// export, a string in a Windows binary's resources, the UTF-16LE text of
// a PowerShell -EncodedCommand once base64 is decoded.
//
// A run is a stretch of bytes alternately NUL and ASCII text (printable,
// tab, CR or LF): each code unit is one of each. Which of the two is NUL
// is fixed by the run's own bytes, not by where the run or the window
// starts; the byte order then follows from how the run begins and ends
// (see utf16Reading). Each code unit decodes to exactly one byte, so a
// decoded offset maps back linearly (parent = start + 2*child) and the
// decoded text keeps the lines of the original.
//
// Note for the engine (issue 11): because of that linear mapping, a
// finding in a UTF-16 span can be located on its own line and column
// rather than at the span's start; a Span field saying "this decoding
// keeps lines" would let the engine do so. Runs stop at any other code
// unit (a letter outside ASCII), so a line holding one is split into runs
// there.
//
// The zero value is ready to use and safe for concurrent use.
type UTF16Text struct{ scanner.NoContainer }

const (
	// minUTF16Units is the fewest code units that hold a key.
	minUTF16Units = minKeyBytes
	// nulStride samples 2 bytes every nulStride: a run of minUTF16Units
	// units (168 bytes >= nulStride+2) always holds a whole sample, one of
	// whose bytes is NUL.
	nulStride = 128
)

// Span tags of UTF-16 runs. Windows start at even offsets of the item, so
// a parity seen in one window holds in the next.
const (
	// tagNULOdd: the run's NULs are at odd offsets.
	tagNULOdd = 1 << iota
	// tagStartOdd: the run's first byte is at an odd offset.
	tagStartOdd
)

// utf16Char marks the bytes that are ASCII text: the other byte of a code
// unit in a run.
var utf16Char = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	t['\t'], t['\r'], t['\n'] = true, true, true
	return t
}()

// fitsUTF16 reports whether byte c at offset j fits a run whose NULs are
// at offsets of parity np: membership of a byte needs nothing but its
// offset's parity, so a run resumed by Continue ends where the whole run
// would.
func fitsUTF16(c byte, j, np int) bool {
	if j&1 == np {
		return c == 0
	}
	return utf16Char[c]
}

// Spans implements scanner.Decoder. It yields every run of at least
// minUTF16Units code units, and a shorter run that reaches the end of the
// window (it may go on; DecodeSpan drops it if it stays short). Ordinary
// text fails the sampled gate (a NUL in a 2-byte sample every nulStride
// bytes) at the cost of touching one cache line in two; it does not
// allocate.
func (UTF16Text) Spans(w []byte, yield func(scanner.Span)) {
	last := 0 // the end of the last run handed on
	for i := 0; i+1 < len(w); i += nulStride {
		if w[i] != 0 && w[i+1] != 0 {
			continue // almost every sample of text
		}
		for p := i; p < i+2; p++ {
			if p < last || w[p] != 0 {
				continue
			}
			a, b := regionUTF16(w, p, last)
			if b-a >= 2*minUTF16Units || b == len(w) {
				yield(spanUTF16(w, a, b, p&1))
				// A run after this one starts at b or later; the first
				// sample at or after b is the first it may fully cover.
				last = b
				i = (b+nulStride-1)/nulStride*nulStride - nulStride
				break
			}
		}
	}
	// A run that reaches the end of the window may be too short for the
	// gate to have seen it, yet go on in the next window.
	n := len(w)
	if n == 0 || last == n {
		return
	}
	p := n - 1 // the NUL of the run holding the last byte
	if w[p] != 0 && n >= 2 && utf16Char[w[p]] {
		p = n - 2
	}
	if p < last || w[p] != 0 {
		return
	}
	if a, b := regionUTF16(w, p, last); b == n {
		yield(spanUTF16(w, a, b, p&1))
	}
}

// regionUTF16 returns the run around the NUL at w[p]: the bytes that fit
// its NUL parity on either side, not reaching back before last.
func regionUTF16(w []byte, p, last int) (a, b int) {
	np := p & 1
	a, b = p, p+1
	for a > last && fitsUTF16(w[a-1], a-1, np) {
		a--
	}
	for b < len(w) && fitsUTF16(w[b], b, np) {
		b++
	}
	return a, b
}

// spanUTF16 labels the run w[a:b] with its byte order.
func spanUTF16(w []byte, a, b, np int) scanner.Span {
	tag := 0
	if np == 1 {
		tag |= tagNULOdd
	}
	if a&1 == 1 {
		tag |= tagStartOdd
	}
	skip := utf16Reading(w, a, b, np)
	be := w[a] == 0 // the first byte of a unit is NUL: big endian
	if skip {
		be = !be
	}
	enc := EncodingUTF16LE
	if be {
		enc = EncodingUTF16BE
	}
	return scanner.Span{Start: a, End: b, Encoding: enc, Tag: tag, KeepsLines: true}
}

// utf16Reading decides where the code units of the run w[a:b] start: at
// its first byte, or (skip) at its second, which swaps the byte order.
//
// A run of even length reads one way only: it begins with one half of a
// unit and ends with the other (x\0a\0 is little endian, \0x\0a big
// endian), and that holds at any offset, so a string at an odd offset in
// a binary is labelled by its bytes, not by the parity of the offset. A
// run of odd length reads both ways with as many units (\0x\0a\0 is big
// endian with a NUL left over, or little endian after a NUL), as happens
// next to a letter outside ASCII (é is E9 00 in little endian, and ends
// a run on its NUL). Then the reading whose units start at an even
// offset wins: a UTF-16 file's units do, and windows start at even
// offsets.
//
// A run still open at the end of the window (b == len(w)) has no known
// length yet. If it starts at an odd offset, the bytes before it decide:
// when the run would go on but for the one byte just before it, that byte
// and the run's first one are a unit outside ASCII at an even offset (the
// é above), so the even reading wins, as its whole length will later
// say; otherwise (a string in a binary) the run's first byte decides.
// DecodeSpan, which sees the whole run, decides by its length (decodeSkip),
// so only a rare run is labelled otherwise than it is decoded.
func utf16Reading(w []byte, a, b, np int) (skip bool) {
	if a&1 == 0 {
		return false
	}
	if b < len(w) {
		return (b-a)%2 == 1
	}
	return a >= 3 && fitsUTF16(w[a-2], a-2, np) && fitsUTF16(w[a-3], a-3, np)
}

// decodeSkip is utf16Reading for a whole run of n bytes.
func decodeSkip(n int, startOdd bool) bool { return startOdd && n%2 == 1 }

// Continue implements scanner.Decoder: the run goes on while the bytes fit
// its NUL parity. A run that starts on the last byte of a window (a
// character whose NUL is in the next one) is not yielded by that window;
// the engine's windows overlap, so the next window sees it from its start.
func (UTF16Text) Continue(w []byte, from int, s scanner.Span) int {
	np := s.Tag & tagNULOdd
	for from < len(w) && fitsUTF16(w[from], from, np) {
		from++
	}
	return from
}

// DecodeSpan implements scanner.Decoder: one byte, the ASCII character,
// per code unit; a byte left over at either end is dropped. A run of
// fewer units than a key decodes to nothing.
func (UTF16Text) DecodeSpan(dst, text []byte, s scanner.Span) ([]byte, error) {
	if decodeSkip(len(text), s.Tag&tagStartOdd != 0) {
		text = text[1:]
	}
	if len(text)/2 < minUTF16Units {
		return dst, nil
	}
	off := 1 // big endian: the character is a unit's second byte
	if text[0] != 0 {
		off = 0
	}
	for k := 0; k+1 < len(text); k += 2 {
		dst = append(dst, text[k+off])
	}
	return dst, nil
}
