package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// Base64Text is the span decoder for base64 text (Encoding "base64"): it
// finds runs of base64 in a window and decodes them, so that what they
// encode (a key, a .env file, a gzip stream, UTF-16 text, more base64) is
// scanned again by the rules and every decoder.
//
// A run is made of the characters of both alphabets ('+' and '-' are 62,
// '/' and '_' are 63; a mixed run is accepted), of CR and LF (wrapped
// output: base64(1) wraps at 76 columns, PEM at 64), and of backslashes,
// which stand in a run for the JSON escapes of a wrapped string ("\n",
// "\r\n") and of '/' ("\/", as PHP's json_encode writes it). Anything else
// ends the run, '=' padding included, so that a new run may start right
// after it: key=<base64>, "auth":"<base64>", data:...;base64,<base64>.
// Membership of a byte never depends on the bytes before it, so a run that
// crosses a window boundary ends at the same byte whether seen whole or
// resumed by Continue.
//
// Runs whose first character is glued to other alphabet characters
// (secrets/<base64>, token_<base64>) decode from the wrong 6-bit
// boundary. Such a run's own quantum grid is found the way the old
// detector found keys: by the fixed literals that "xai-" encodes to at its
// three alignments. A literal that sits off the run's grid yields an extra
// span starting where the literal says the key's data is aligned (see
// realignedB64), so a key encoded directly in a glued run is still found,
// and through the same rules. Data that holds no key's literal (a gzip
// stream) is not realigned: only text aligned on its run decodes whole.
//
// The zero value is ready to use and safe for concurrent use.
type Base64Text struct{ scanner.NoContainer }

const (
	// minKeyBytes is the length of the shortest key, "xai-" and 80.
	minKeyBytes = len(rules.Prefix) + rules.BodyLen
	// tagRealigned marks the extra span of a glued run (see realignedB64).
	tagRealigned = 1
)

// b64Run marks the bytes that may stand inside a run: the characters of
// both alphabets, CR, LF and the backslash of a JSON escape.
var b64Run = func() (t [256]bool) {
	for c := range t {
		t[c] = b64Value[c] != b64Invalid || c == '\\'
	}
	return t
}()

// Spans implements scanner.Decoder. It yields every run of at least
// minB64Run characters, and a shorter run that reaches the end of the
// window (it may go on in the next one; DecodeSpan drops it if it stays
// short). The sampled gate rules out most ordinary text without looking
// at the bytes between samples; it does not allocate.
func (Base64Text) Spans(w []byte, yield func(scanner.Span)) {
	last := 0 // the end of the last run handed on
	if len(w) >= minB64Run {
		for i := 0; i+gateLen <= len(w); i += gateStride {
			if i < last || !b64Gate(w, i) || !allB64Run(w[i:i+gateLen]) {
				continue
			}
			lo, hi := i, i+gateLen
			for lo > last && b64Run[w[lo-1]] {
				lo--
			}
			for hi < len(w) && b64Run[w[hi]] {
				hi++
			}
			emitB64(w, lo, hi, yield)
			// A run reaching past hi would have to hold w[hi], which is
			// not base64: the next run starts after it.
			last = hi
			i = hi / gateStride * gateStride
		}
	}
	// A run that reaches the end of the window may be too short for the
	// gate to have seen it, yet go on in the next window.
	if n := len(w); n > last && b64Run[w[n-1]] {
		lo := n - 1
		for lo > last && b64Run[w[lo-1]] {
			lo--
		}
		emitB64(w, lo, n, yield)
	}
}

// b64Gate reports whether the sample at w[i:i+gateLen] may lie inside a
// run of minB64Run characters. Such a run fully covers one of the samples
// taken every gateStride bytes and reaches 48 bytes past it on one side
// (112 = 16+48+48), so one of the samples 16 bytes away on either side
// must be clean too; this second look keeps most identifiers and paths
// from the exact scan.
func b64Gate(w []byte, i int) bool {
	if !clean16(w, i) {
		return false
	}
	return (i >= 48 && clean16(w, i-32)) || (i+64 <= len(w) && clean16(w, i+32))
}

// allB64Run reports whether every byte of the sample may stand in a run.
// The gate lets bytes such as '=' and '.' through; a run of minB64Run
// characters fully covers some sample, so a sample holding one of them
// is not where such a run is found.
func allB64Run(sample []byte) bool {
	for _, c := range sample {
		if !b64Run[c] {
			return false
		}
	}
	return true
}

// emitB64 yields the run w[lo:hi] if it may hold a key, and the extra
// spans of its misaligned keys.
func emitB64(w []byte, lo, hi int, yield func(scanner.Span)) {
	s := trimB64(w, lo, hi)
	if s >= hi || !wrappedLikeB64(w, s, hi) {
		return
	}
	if hi < len(w) && countB64(w, s, s, hi, minB64Run) < minB64Run {
		return
	}
	yield(scanner.Span{Start: s, End: hi, Encoding: EncodingBase64})
	line := secondLineB64(w, s, hi)
	if line > 0 {
		yield(scanner.Span{Start: line, End: hi, Encoding: EncodingBase64, Tag: tagRealigned})
	}
	realignedB64(w, s, hi, line, yield)
}

// wrappedLikeB64 reports whether the line breaks of the run w[s:hi], in
// its first 1 KiB, are those of wrapped base64: every line between two
// breaks holds at least 4 characters (encoders wrap at 64 or 76). A list
// of short lines of letters and digits ("0\n0\n…", the 40 MB sparse map
// of a GNU tar, a column of numbers) is text, not base64, and must not be
// collected and decoded as one run.
func wrappedLikeB64(w []byte, s, hi int) bool {
	end := min(hi, s+1024)
	n, lines := 0, 0
	for k := s; k < end; k++ {
		if isB64Char(w, s, k) {
			n++
			continue
		}
		if w[k] == '\\' && k+1 < end && w[k+1] != 'n' && w[k+1] != 'r' {
			continue // "\/" is a '/' of the data, not a break
		}
		if n > 0 && n < 4 && lines > 0 {
			return false
		}
		if n > 0 {
			lines++
		}
		n = 0
	}
	return true
}

// secondLineB64 returns where the run's second line starts if its first
// line cannot be the first line of wrapped base64, or 0. Encoders wrap at
// a multiple of 4 characters (76, 64), so a first line of another length
// followed by more lines is text glued in front, such as the end of a PEM
// armour line ("-----BEGIN DATA-----": '-' is in the URL-safe alphabet);
// the data is aligned on the second line. The run is still yielded whole
// too, for wraps at other widths.
func secondLineB64(w []byte, s, hi int) int {
	// Before the first break every byte of a run is a data character, so
	// the first line's length is where the first break is: three byte
	// searches at memory speed, not a loop over a long one-line run.
	k := hi
	for _, c := range [...]byte{'\n', '\r', '\\'} {
		if j := bytes.IndexByte(w[s:k], c); j >= 0 {
			k = s + j
		}
	}
	if k >= hi {
		return 0
	}
	if c := w[k]; c == '\\' && (k+1 >= hi || (w[k+1] != 'n' && w[k+1] != 'r')) {
		// "\/": a '/' of the data, not a break; such a run is not
		// realigned by lines.
		return 0
	}
	if (k-s)%4 == 0 {
		return 0
	}
	line := trimB64(w, k, hi)
	if line >= hi || countB64(w, line, line, hi, minB64Run) < minB64Run && hi < len(w) {
		return 0
	}
	return line
}

// trimB64 returns where the first base64 character of the run w[lo:hi]
// is: a run starts on data, not on a line break or an escaped one.
func trimB64(w []byte, lo, hi int) int {
	for lo < hi {
		switch c := w[lo]; {
		case c == '\r' || c == '\n':
			lo++
		case c == '\\':
			lo++
			if lo < hi && (w[lo] == 'n' || w[lo] == 'r') {
				lo++
			}
		default:
			return lo
		}
	}
	return lo
}

// isB64Char reports whether w[k] is a base64 character of the data, not a
// wrap or part of an escape: an 'n' or 'r' right after a backslash is the
// escape of a line break. DecodeSpan reads the text the same way.
func isB64Char(w []byte, lo, k int) bool {
	c := w[k]
	if b64Value[c] >= 64 {
		return false
	}
	return !((c == 'n' || c == 'r') && k > lo && w[k-1] == '\\')
}

// countB64 counts the base64 characters in w[lo:hi] of the run that
// starts at w[s], stopping at limit.
func countB64(w []byte, s, lo, hi, limit int) int {
	n := 0
	for k := lo; k < hi && n < limit; k++ {
		if isB64Char(w, s, k) {
			n++
		}
	}
	return n
}

// realignedB64 finds keys that a glued run hides. The literal of each
// alignment of "xai-" (b64Patterns) tells where the quantum that encodes
// the key's 'x' starts; when that is not a multiple of 4 characters from
// the run's start, the run's own decoding cannot show the key, so an
// extra span is yielded that starts one quantum before the key's (the
// byte before the key, its left boundary, decodes too: "taxai-" stays
// silent) and runs to the run's end, for the rules to judge like any
// other decoding. One extra span per misalignment (1, 2 or 3 characters)
// covers every key of that misalignment up to the end of the run, so
// there are at most three. A literal split by a wrap is not seen here:
// glued base64 is a token in running text, not wrapped output (and glued
// wrapped output is realigned on its second line, see secondLineB64).
//
// The byte before the key decodes from the two characters before its
// quantum; when those are glue rather than data, the byte is noise, and a
// key right at the start of the data is rejected if that noise is a word
// byte. Glue that ends in a separator of the alphabets ('/', '_', '-',
// '+': token_, secrets/, key-) always decodes to a non-word byte there, so
// the common cases are found; glue ending in a letter or digit right
// against the data misses about one key in four. That is the price of
// keeping the left boundary: dropping it would report "taxai-".
func realignedB64(w []byte, s, hi, line int, yield func(scanner.Span)) {
	var done [4]bool
	left := 3
	if line > 0 {
		// The span at the second line is aligned on count%4 == first.
		first := countB64(w, s, s, line, line-s)
		done[first%4] = true
		left--
	}
	for a := range b64Patterns {
		p := &b64Patterns[a]
		// cur/count: characters counted in w[s:cur]; literals come in
		// order, so counting is linear in the run whatever it holds.
		cur, count := s, 0
		for i := s; i < hi && left > 0; {
			j := bytes.Index(w[i:hi], p.lit)
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			qs, ok := backB64(w, s, at, p.before)
			if !ok || qs < cur {
				continue
			}
			count += countB64(w, s, cur, qs, hi)
			cur = qs
			c := count % 4
			if c == 0 || done[c] {
				continue
			}
			done[c] = true
			left--
			start := qs
			if q, ok := backB64(w, s, qs, 4); ok {
				start = q
			}
			yield(scanner.Span{Start: start, End: hi, Encoding: EncodingBase64, Tag: tagRealigned})
		}
	}
}

// backB64 walks back n base64 characters from w[at] (not below w[s]) and
// returns where the earliest of them is.
func backB64(w []byte, s, at, n int) (int, bool) {
	k := at
	for n > 0 {
		if k <= s {
			return 0, false
		}
		k--
		if isB64Char(w, s, k) {
			n--
		}
	}
	return k, true
}

// Continue implements scanner.Decoder: the run goes on while the bytes
// may stand in a run (membership needs no context, see Base64Text).
func (Base64Text) Continue(w []byte, from int, _ scanner.Span) int {
	for from < len(w) && b64Run[w[from]] {
		from++
	}
	return from
}

// DecodeSpan implements scanner.Decoder. It decodes leniently: wraps and
// escaped wraps are skipped, a backslash before any other byte is dropped
// ("\/" is '/'), and a trailing partial quantum yields the bytes it
// completes. A run that decodes to fewer bytes than the shortest key
// cannot hold one, nor any encoding of one (see minB64Run), and decodes
// to nothing.
func (Base64Text) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	// Spans checks the lines of the run's start in its window; a run that
	// was collected across windows is checked here, whole, the same way.
	if s := trimB64(text, 0, len(text)); !wrappedLikeB64(text, s, len(text)) {
		return dst, nil
	}
	// Sized once: appending would double the buffer, and a run may be
	// tens of MiB (a fixture's tar.gz in a Go string).
	dst = slices.Grow(dst, len(text)/4*3+3)
	n0 := len(dst)
	var acc uint32
	k := 0
	for i := 0; i < len(text); i++ {
		// Fast path: a whole quantum of plain characters (no wrap, no
		// escape) at a quantum boundary.
		if k == 0 && i+4 <= len(text) && (i == 0 || text[i-1] != '\\') {
			a, b, c, d := b64Value[text[i]], b64Value[text[i+1]], b64Value[text[i+2]], b64Value[text[i+3]]
			if a|b|c|d < 64 {
				x := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
				dst = append(dst, byte(x>>16), byte(x>>8), byte(x))
				i += 3
				continue
			}
		}
		c := text[i]
		v := b64Value[c]
		if v >= 64 {
			if c == '\r' || c == '\n' || c == '\\' {
				continue
			}
			break // the run's end ('=' or another byte); never inside a span
		}
		if (c == 'n' || c == 'r') && i > 0 && text[i-1] == '\\' {
			continue
		}
		acc = acc<<6 | uint32(v)
		if k++; k == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, k = 0, 0
		}
	}
	switch k {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	if len(dst)-n0 < minKeyBytes {
		return dst[:n0], nil
	}
	return dst, nil
}

// b64Pattern is the fixed text that the encoding of "xai-" produces at one
// alignment, and where it sits relative to the 4-character group (quantum)
// that encodes the key's 'x'.
type b64Pattern struct {
	lit []byte
	// before is how many base64 characters of the 'x' quantum precede lit
	// (4 when lit starts the following quantum).
	before int
	// xIdx is the index of the 'x' byte within the 3 bytes its quantum
	// decodes to.
	xIdx int
}

// b64Patterns has one entry per alignment of the key in the decoded bytes
// (its offset modulo 3). The literals are computed, not written down, and
// are the same in both alphabets because the encodings of "xai-" use
// neither '+' nor '/' (checked in init):
//
//	alignment 0: "eGFp" is the whole quantum "xai" (quantum-aligned)
//	alignment 1: "hhaS" spans two quanta (?xa|i-?), the only one a wrap can split
//	alignment 2: "YWkt" is the whole quantum "ai-" (quantum-aligned)
var b64Patterns = func() [3]b64Pattern {
	var ps [3]b64Pattern
	for a := range 3 {
		// Encode "xai-" at alignment a between two different fillers; the
		// characters both encodings agree on are fixed. We keep 4 of them,
		// chosen so that each literal is as quantum-aligned as possible.
		start := [3]int{0, 2, 4}[a]
		var lit string
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			for _, fill := range []byte{0x00, 0xff, 0x5a} {
				b := bytes.Repeat([]byte{fill}, a)
				b = append(b, rules.Prefix...)
				b = append(b, fill, fill, fill)
				s := enc.EncodeToString(b)[start : start+4]
				if lit == "" {
					lit = s
				} else if s != lit {
					panic(fmt.Sprintf("decode: base64 literal for alignment %d is not fixed", a))
				}
			}
		}
		ps[a] = b64Pattern{lit: []byte(lit), before: start, xIdx: a}
	}
	return ps
}()

// Base64 character classes and values. Both alphabets are accepted at once:
// '+' and '-' are 62, '/' and '_' are 63. CR and LF are skipped (wrapped
// output); anything else ends the encoded text.
const (
	b64Invalid = 0xff
	b64Skip    = 0xfe
)

var b64Value = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = b64Invalid
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'] = 62, 63
	t['\n'], t['\r'] = b64Skip, b64Skip
	return t
}()

const (
	// minB64Run is the fewest base64 characters that can hold a whole key
	// in any encoding the decoders read. The shortest key is 84 bytes
	// (672 bits), which touch at least 112 characters whatever the
	// alignment. Every other encoding of it is longer: UTF-16 doubles it,
	// escapes lengthen it, and the compressed formats do not bring it
	// under 84 bytes. A real key's body is random over 62 symbols (476
	// bits), so an entropy coder saves at most a quarter of it and must
	// first spend a code table on some 60 symbols, and every format adds
	// framing: gzip 18 bytes, zlib 6, zstd at least 9, xz and bzip2
	// dozens. The closest is raw deflate: compress/flate at
	// BestCompression gave 88 bytes at the least over 2000 random keys
	// (a stored block is 89; zlib 94).
	minB64Run = 112
	// gateStride and gateLen define the sampled gate: every run of
	// minB64Run characters fully covers the gateLen bytes at some multiple
	// of gateStride, because gateStride+gateLen-1 <= minB64Run-1.
	gateStride = 96
	gateLen    = 16
)

// clean16 reports whether none of the 16 bytes at w[i:] rules out a run of
// base64 (see mayBeBase64). The caller guarantees i+16 <= len(w).
func clean16(w []byte, i int) bool {
	return mayBeBase64(binary.LittleEndian.Uint64(w[i:]))|mayBeBase64(binary.LittleEndian.Uint64(w[i+8:])) == 0
}

// SWAR constants for mayBeBase64.
const (
	lsb  = 0x0101010101010101
	msb  = 0x8080808080808080
	low7 = 0x7f7f7f7f7f7f7f7f
)

// mayBeBase64 returns zero when none of the 8 bytes in x rules out a run
// of base64, and non-zero otherwise. Only the bytes that end runs in
// ordinary text are tested — space, quotes, parentheses and ! # $ % & *
// (0x20-0x2a) — because one subtraction-free test per lane is all the gate
// can afford; everything else (including CR and LF of wrapped base64)
// passes and is sorted out by the exact scan that follows. Lanes are
// computed without carries between bytes: each is at most 0x7f+0x60.
func mayBeBase64(x uint64) uint64 {
	l := x & low7
	return (l + 0x60*lsb) &^ (l + 0x55*lsb) & msb // 0x20 <= lane < 0x2b
}
