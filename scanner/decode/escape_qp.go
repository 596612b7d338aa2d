package decode

import (
	"bytes"
	"encoding/binary"

	"github.com/xaiscan/xaiscan/scanner"
)

// QuotedPrintable decodes quoted-printable (RFC 2045), the transfer
// encoding of e-mail bodies: =NN codes, and soft line breaks ('=' at the
// end of a line, before CRLF or LF, trailing blanks allowed) which are
// removed, so a key that a mailer cut across lines at 76 columns is whole
// again.
//
// A span is a logical line: the physical lines joined by soft breaks,
// from the start of the first to the end of the last. Evidence is a soft
// break, or a code standing for a letter, digit or '-' (`=78ai-`); a span
// is yielded only if it decodes to text holding "xai-". Code is full of
// '=', and often of `a=10`, but not of "xai-" cut by a soft break.
//
// The gate is nextQPCandidate, a word-at-a-time search for '=' before a
// line break or before '0'–'7' (the first digit of every code that stands
// for a key byte), since '=' alone is too common in code for a byte search
// to be cheap. A soft break after trailing blanks (`= ` CRLF, which RFC
// 2045 forbids encoders to write) is decoded inside a span but is not
// evidence by itself.
//
// The zero value is ready to use and safe for concurrent use.
type QuotedPrintable struct{ scanner.NoContainer }

// Spans implements scanner.Decoder.
func (QuotedPrintable) Spans(w []byte, yield func(scanner.Span)) {
	for i := 0; i < len(w); {
		p := nextQPCandidate(w, i)
		if p < 0 {
			return
		}
		if u := famQP.deep(w, p); u.kind != asNothing && !keyByte(u) && !softTail(w, p) {
			i = p + 1
			continue
		}
		s, e := qpLineStart(w, p), qpLineEnd(w, p)
		if e == len(w) || famQP.revealsPrefix(w[s:e]) {
			yield(scanner.Span{Start: s, End: e, Encoding: EncodingQuotedPrintable})
		}
		i = max(e, p+1)
	}
}

// Continue implements scanner.Decoder: the logical line goes on while its
// physical lines end in soft breaks. A soft break whose '=' lies before
// the window (not in view) is taken as one: the span reached the previous
// window's end because its line had not ended, and a line too many does
// no harm, since decoding keeps hard line breaks.
func (QuotedPrintable) Continue(w []byte, from int, _ scanner.Span) int {
	return qpLineEnd(w, from)
}

// DecodeSpan implements scanner.Decoder: =NN codes decoded, soft breaks
// removed.
func (QuotedPrintable) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	return famQP.decodeSpan(dst, text), nil
}

// qpBody reads the code after an '=' at text[q-1]: two hex digits, or a
// soft break (blanks, then CRLF or LF). An '=' that ends the text is not a
// soft break: the line's end is not in view.
func qpBody(text []byte, q int) unit {
	if v := hexN(text, q, 2); v >= 0 {
		return unit{c: v, kind: asByte, n: 2}
	}
	k := q
	for k < len(text) && (text[k] == ' ' || text[k] == '\t') {
		k++
	}
	if k < len(text) && text[k] == '\r' {
		k++
	}
	if k < len(text) && text[k] == '\n' {
		return unit{kind: asNothing, n: k + 1 - q}
	}
	return unit{}
}

// softTail reports whether the '=' at w[p] may be a soft break cut by the
// window's end: only blanks or a CR follow it.
func softTail(w []byte, p int) bool {
	for k := p + 1; k < len(w); k++ {
		if c := w[k]; c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// softBefore reports whether the newline at w[nl] ends a soft break. With
// the line's end out of view (nl at the window's start), it says yes.
func softBefore(w []byte, nl int) bool {
	k := nl - 1
	if k >= 0 && w[k] == '\r' {
		k--
	}
	for k >= 0 && (w[k] == ' ' || w[k] == '\t') {
		k--
	}
	return k < 0 || w[k] == '='
}

// qpLineStart is where the logical line holding w[p] starts: the start of
// its physical line, moved back over every line that ends in a soft break.
func qpLineStart(w []byte, p int) int {
	s := bytes.LastIndexByte(w[:p], '\n') + 1
	for s > 0 && softBefore(w, s-1) {
		s = bytes.LastIndexByte(w[:s-1], '\n') + 1
	}
	return s
}

// qpLineEnd is where the logical line holding w[from] ends (before its
// hard line break, CR excluded), or len(w) if it goes on past the window.
func qpLineEnd(w []byte, from int) int {
	for {
		k := bytes.IndexByte(w[from:], '\n')
		if k < 0 {
			return len(w)
		}
		nl := from + k
		if !softBefore(w, nl) {
			if nl > from && w[nl-1] == '\r' {
				return nl - 1
			}
			return nl
		}
		from = nl + 1
	}
}

// Word-at-a-time constants: one in every byte, and every byte's top bit.
const (
	ones = 0x0101010101010101
	tops = 0x8080808080808080
)

// zeroBytes flags (top bit) every zero byte of v, and possibly bytes above
// one (a borrow), never missing one: a filter, checked byte by byte after.
func zeroBytes(v uint64) uint64 { return (v - ones) &^ v & tops }

// qpClass reports whether c, after an '=', may make it evidence: a line
// break (soft break) or '0'–'7' (a code for a digit, a letter or '-').
func qpClass(c byte) bool { return c == '\n' || c == '\r' || c&0xf8 == 0x30 }

// nextQPCandidate returns the first i >= from with w[i] == '=' followed by
// a qpClass byte or by the end of the window, or -1. It tests sixteen
// positions at a time: two words for '=', and only where one is found
// the words after them for the class.
func nextQPCandidate(w []byte, from int) int {
	i := from
	for ; i+17 <= len(w); i += 16 {
		b := w[i : i+17]
		eq0 := zeroBytes(binary.LittleEndian.Uint64(b[0:]) ^ ('=' * ones))
		eq1 := zeroBytes(binary.LittleEndian.Uint64(b[8:]) ^ ('=' * ones))
		if eq0|eq1 == 0 {
			continue
		}
		if eq0&qpClassWord(binary.LittleEndian.Uint64(b[1:])) == 0 &&
			eq1&qpClassWord(binary.LittleEndian.Uint64(b[9:])) == 0 {
			continue
		}
		for k := i; k < i+16; k++ {
			if w[k] == '=' && qpClass(w[k+1]) {
				return k
			}
		}
	}
	for ; i < len(w); i++ {
		if w[i] == '=' && (i+1 == len(w) || qpClass(w[i+1])) {
			return i
		}
	}
	return -1
}

// qpClassWord flags the bytes of y that may be qpClass bytes.
func qpClassWord(y uint64) uint64 {
	return zeroBytes(y&(0xf8*ones)^(0x30*ones)) | zeroBytes(y|(0x07*ones)^(0x0f*ones))
}
