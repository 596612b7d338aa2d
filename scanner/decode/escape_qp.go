package decode

import (
	"bytes"

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
// The gate is qpCandidates: soft breaks only (see there). A soft break after trailing blanks (`= ` CRLF, which RFC
// 2045 forbids encoders to write) is decoded inside a span but is not
// evidence by itself.
//
// The zero value is ready to use and safe for concurrent use.
type QuotedPrintable struct{ scanner.NoContainer }

// Spans implements scanner.Decoder.
func (QuotedPrintable) Spans(w []byte, yield func(scanner.Span)) {
	q := qpCandidates{w: w, next: [2]int{-1, -1}}
	// Most text has no CR: one byte search (twice as fast as a substring
	// search) rules "=\r\n" out.
	q.done[1] = bytes.IndexByte(w, '\r') < 0
	for i := 0; i < len(w); {
		p := q.from(i)
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

// qpCandidates finds the soft line breaks of a window ("=\n", "=\r\n"),
// and an '=' that ends it (a soft break cut by the window's end). Only
// soft breaks are evidence: every encoder writes the letters, digits and
// '-' of a key as themselves, so a quoted-printable key differs from a
// plain one only where a line was cut; "=3D" before a key, the other QP
// shape, is a boundary the rules accept as it is. The two substring
// searches run at memchr speed on code, which is full of '=' but rarely
// ends a line with one; each remembers its next match, so a window is
// searched once per pattern however many breaks it holds.
type qpCandidates struct {
	w    []byte
	next [2]int // next match of "=\n" and "=\r\n" at or after the last from; -1: none
	done [2]bool
}

var qpBreaks = [2][]byte{[]byte("=\n"), []byte("=\r\n")}

// from returns the first candidate at or after i, or -1.
func (q *qpCandidates) from(i int) int {
	best := -1
	for k := range qpBreaks {
		if !q.done[k] && q.next[k] < i {
			if j := bytes.Index(q.w[i:], qpBreaks[k]); j >= 0 {
				q.next[k] = i + j
			} else {
				q.done[k] = true
			}
		}
		if !q.done[k] && (best < 0 || q.next[k] < best) {
			best = q.next[k]
		}
	}
	if best < 0 && i < len(q.w) {
		n := len(q.w)
		switch {
		case q.w[n-1] == '=':
			return n - 1
		case n >= 2 && q.w[n-2] == '=' && q.w[n-1] == '\r':
			return n - 2
		}
	}
	return best
}
