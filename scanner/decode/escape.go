package decode

import (
	"bytes"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// Encodings of the escape decoders, as they appear in a finding's chain
// (Finding.Encoding): one name per family.
const (
	EncodingJSONEscape      = "json-escape"
	EncodingHTMLEntity      = "html-entity"
	EncodingPercent         = "percent"
	EncodingQuotedPrintable = "quoted-printable"
)

// EscapeDecoders returns the decoders of inline escapes: JSON/JavaScript
// backslash escapes, HTML/XML character references, percent-encoding and
// quoted-printable, one scanner.Decoder per family. Each decodes one
// level; the engine re-scans every decoded span with all decoders, so
// twice-encoded text comes out as "percent/percent".
func EscapeDecoders() []scanner.Decoder {
	return []scanner.Decoder{JSONEscape{}, HTMLEntity{}, Percent{}, QuotedPrintable{}}
}

// family is one kind of inline escape. The decoders share the scanning
// and decoding loops and differ only in the escape's introducer and in how
// its body is read (escBody).
type family uint8

const (
	famJSON family = iota
	famHTML
	famPercent
	famQP
)

// intro is the byte every escape of the family starts with.
func (f family) intro() byte {
	return [...]byte{famJSON: '\\', famHTML: '&', famPercent: '%', famQP: '='}[f]
}

func (f family) encoding() string {
	return [...]string{famJSON: EncodingJSONEscape, famHTML: EncodingHTMLEntity,
		famPercent: EncodingPercent, famQP: EncodingQuotedPrintable}[f]
}

// Decoded values. A body decodes to a code point (written as UTF-8), a
// raw byte (\xNN, %NN, =NN), or nothing (a quoted-printable soft break).
const (
	asRune = iota
	asByte
	asNothing
)

// unit is one decoded escape: its value, how it is written, and how many
// bytes of text it took (0: the introducer starts no escape).
type unit struct {
	c    rune
	kind uint8
	n    int
}

// body reads the escape whose introducer stands just before text[q].
func (f family) body(text []byte, q int) unit {
	switch f {
	case famJSON:
		return jsonBody(text, q)
	case famHTML:
		return htmlBody(text, q)
	case famPercent:
		return percentBody(text, q)
	}
	return qpBody(text, q)
}

// at reads the escape at text[p], which is the family's introducer; n
// counts the introducer.
func (f family) at(text []byte, p int) unit {
	u := f.body(text, p+1)
	if u.n > 0 {
		u.n++
	}
	return u
}

// maxLevels bounds deep: four levels of the same escape are more than any
// real producer stacks.
const maxLevels = 4

// deep reads the escape at text[p] through every level of escaping, for
// the gate's question "what does this finally stand for": `%2578` is "%78"
// after one level and 'x' after two, `\u0026#120;` (Go's JSON encoder
// escapes '&') is "&#120;" and then 'x'. A level that decodes to another
// family's introducer goes on with that family. DecodeSpan decodes one
// level only.
func (f family) deep(text []byte, p int) unit {
	u := f.at(text, p)
	for l := 0; l < maxLevels && u.n > 0 && u.kind != asNothing; l++ {
		g, ok := familyOf(u.c)
		if !ok {
			break
		}
		v := g.body(text, p+u.n)
		if v.n == 0 {
			break
		}
		u = unit{c: v.c, kind: v.kind, n: u.n + v.n}
	}
	return u
}

// familyOf returns the family whose introducer is c.
func familyOf(c rune) (family, bool) {
	switch c {
	case '\\':
		return famJSON, true
	case '&':
		return famHTML, true
	case '%':
		return famPercent, true
	case '=':
		return famQP, true
	}
	return 0, false
}

// keyByte reports whether a decoded unit is a byte a key is made of: the
// letters and digits of its body, or the '-' of its prefix. Ordinary
// text escapes other things (quotes, '<', '/', accented letters, control
// codes); an escaped key byte is the evidence the gate looks for.
func keyByte(u unit) bool {
	c := u.c
	return u.kind != asNothing && c < utf8.RuneSelf &&
		(('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '-')
}

// revealsPrefix reports whether text, decoded through every level of f,
// holds "xai-" (which also starts every management key). It does not
// allocate: it keeps the last four decoded bytes in a shift register.
func (f family) revealsPrefix(text []byte) bool {
	want := prefixWord
	intro := f.intro()
	var last uint32
	for i := 0; i < len(text); {
		c := text[i]
		if c == intro {
			if u := f.deep(text, i); u.n > 0 {
				i += u.n
				switch {
				case u.kind == asNothing:
					continue
				case u.c >= utf8.RuneSelf && u.kind == asRune:
					last = 0
					continue
				}
				c = byte(u.c)
				last = last<<8 | uint32(c)
				if last == want {
					return true
				}
				continue
			}
		}
		i++
		last = last<<8 | uint32(c)
		if last == want {
			return true
		}
	}
	return false
}

// decodeSpan appends the one-level decoding of text to dst. If text holds
// no escape of the family, dst is returned unchanged.
func (f family) decodeSpan(dst, text []byte) []byte {
	intro := f.intro()
	first := -1
	for i := 0; first < 0; {
		j := bytes.IndexByte(text[i:], intro)
		if j < 0 {
			return dst
		}
		if f.at(text, i+j).n > 0 {
			first = i + j
		}
		i += j + 1
	}
	dst = append(dst, text[:first]...)
	for i := first; i < len(text); {
		j := bytes.IndexByte(text[i:], intro)
		if j < 0 {
			return append(dst, text[i:]...)
		}
		dst = append(dst, text[i:i+j]...)
		p := i + j
		u := f.at(text, p)
		if u.n == 0 {
			dst = append(dst, intro)
			i = p + 1
			continue
		}
		switch u.kind {
		case asRune:
			dst = utf8.AppendRune(dst, u.c)
		case asByte:
			dst = append(dst, byte(u.c))
		}
		i = p + u.n
	}
	return dst
}

// isDelim reports whether c ends a run of escaped text (tokenSpans). A key
// cannot contain one, each is a valid boundary next to a key, and none can
// stand inside an escape that stands for a key byte, so cutting a run at
// one never changes what its keys decode to.
func isDelim(c byte) bool { return delims[c] }

var delims = func() (t [256]bool) {
	for _, c := range []byte(" \t\r\n\f\v\x00\"'`<>,") {
		t[c] = true
	}
	return t
}()

// tokenSpans is Spans for the families whose escapes are written inline
// in a token (JSON, HTML, percent): it looks for the introducer with the
// SIMD byte search, and reads the escape after each. Only an escape that
// stands for a key byte is evidence (ordinary text escapes quotes, '/',
// '<', accents and newlines, never letters); around it, the run of
// non-delimiter bytes is the span, yielded when it decodes to text holding
// "xai-" (or reaches the end of the window, where the rest is unseen).
func tokenSpans(f family, w []byte, yield func(scanner.Span)) {
	intro := f.intro()
	for i := 0; i < len(w); {
		j := bytes.IndexByte(w[i:], intro)
		if j < 0 {
			return
		}
		p := i + j
		if !keyByte(f.deep(w, p)) {
			i = p + 1
			continue
		}
		s, e := runStart(w, p), tokenEnd(w, p)
		if e == len(w) || f.revealsPrefix(w[s:e]) {
			yield(scanner.Span{Start: s, End: e, Encoding: f.encoding()})
		}
		i = e
	}
}

// runStart is where the run of non-delimiter bytes holding w[p] starts.
func runStart(w []byte, p int) int {
	for p > 0 && !isDelim(w[p-1]) {
		p--
	}
	return p
}

// tokenEnd is where the run of non-delimiter bytes from w[from] ends.
func tokenEnd(w []byte, from int) int {
	for from < len(w) && !isDelim(w[from]) {
		from++
	}
	return from
}

// isHex and hexVal read one hexadecimal digit.
func isHex(c byte) bool { return hexVal(c) >= 0 }

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hexN reads exactly n hex digits at text[q], or returns -1.
func hexN(text []byte, q, n int) rune {
	if q+n > len(text) {
		return -1
	}
	v := rune(0)
	for _, c := range text[q : q+n] {
		d := hexVal(c)
		if d < 0 {
			return -1
		}
		v = v<<4 | rune(d)
	}
	return v
}

// validRune maps what a numeric escape names to the code point it writes:
// surrogates, values past U+10FFFF and NUL are not characters.
func validRune(v rune) rune {
	if v <= 0 || v > utf8.MaxRune || (0xD800 <= v && v <= 0xDFFF) {
		return utf8.RuneError
	}
	return v
}

// prefixWord is rules.Prefix as four bytes in a word, compared with the
// shift register of revealsPrefix.
var prefixWord = uint32(rules.Prefix[0])<<24 | uint32(rules.Prefix[1])<<16 |
	uint32(rules.Prefix[2])<<8 | uint32(rules.Prefix[3])
