package decode

import "github.com/xaiscan/xaiscan/scanner"

// JSONEscape decodes JSON and JavaScript string escapes: \uXXXX (with
// surrogate pairs), \u{X…} (ES2015), \xNN (a byte, as in C, Python and
// Go logs), octal \NNN, \/ and the one-letter escapes (\n, \", \\ …). It
// finds a key whose letters are escaped (`\u0078ai-…`, every character
// escaped, a body with one escaped letter); a key merely next to an
// escape (`"\u0022xai-…`) is already found by the rules.
//
// A span is the run of bytes between delimiters (whitespace, quotes,
// '<', '>', ',') around an escape that stands for a letter, digit or '-',
// and only if the run, decoded, holds "xai-". Ordinary JSON and source
// (\n, \", \u00e9, \u003c) never escape letters, so they yield nothing.
//
// The zero value is ready to use and safe for concurrent use.
type JSONEscape struct{ scanner.NoContainer }

// Spans implements scanner.Decoder.
func (JSONEscape) Spans(w []byte, yield func(scanner.Span)) { tokenSpans(famJSON, w, yield) }

// Continue implements scanner.Decoder: a run goes on to the next delimiter.
func (JSONEscape) Continue(w []byte, from int, _ scanner.Span) int { return tokenEnd(w, from) }

// DecodeSpan implements scanner.Decoder: one level of escapes (`\\u0078`
// becomes `\u0078`, which the engine decodes again).
func (JSONEscape) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	return famJSON.decodeSpan(dst, text), nil
}

// jsonSingle maps the one-letter escapes to what they stand for.
var jsonSingle = func() (t [256]rune) {
	for i := range t {
		t[i] = -1
	}
	for k, v := range map[byte]rune{'"': '"', '\\': '\\', '/': '/', '\'': '\'',
		'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'f': '\f', 'v': '\v'} {
		t[k] = v
	}
	return t
}()

// jsonBody reads the escape whose backslash stands before text[q]. An
// unknown escape (`\q`, a cut `\u00`) is no escape: it stays as written.
func jsonBody(text []byte, q int) unit {
	if q >= len(text) {
		return unit{}
	}
	switch c := text[q]; {
	case c == 'u':
		return jsonU(text, q)
	case c == 'x':
		if v := hexN(text, q+1, 2); v >= 0 {
			return unit{c: v, kind: asByte, n: 3}
		}
		return unit{}
	case '0' <= c && c <= '7':
		return jsonOctal(text, q)
	case jsonSingle[c] >= 0:
		return unit{c: jsonSingle[c], kind: asRune, n: 1}
	}
	return unit{}
}

// jsonU reads \uXXXX, a surrogate pair \uD83D\uDE00, or \u{1F600}.
func jsonU(text []byte, q int) unit {
	if q+1 < len(text) && text[q+1] == '{' {
		v, k := rune(0), q+2
		for ; k < len(text) && k < q+2+6 && isHex(text[k]); k++ {
			v = v<<4 | rune(hexVal(text[k]))
		}
		if k == q+2 || k >= len(text) || text[k] != '}' {
			return unit{}
		}
		return unit{c: validRune(v), kind: asRune, n: k + 1 - q}
	}
	v := hexN(text, q+1, 4)
	if v < 0 {
		return unit{}
	}
	if 0xD800 <= v && v < 0xDC00 && q+10 < len(text) && text[q+5] == '\\' && text[q+6] == 'u' {
		if lo := hexN(text, q+7, 4); 0xDC00 <= lo && lo <= 0xDFFF {
			return unit{c: 0x10000 + (v-0xD800)<<10 + (lo - 0xDC00), kind: asRune, n: 11}
		}
	}
	if v == 0 {
		return unit{c: 0, kind: asRune, n: 5}
	}
	return unit{c: validRune(v), kind: asRune, n: 5}
}

// jsonOctal reads up to three octal digits (\0, \33, \101) as a byte, as
// C, shell and legacy JavaScript do.
func jsonOctal(text []byte, q int) unit {
	v, k := rune(0), q
	for ; k < len(text) && k < q+3 && '0' <= text[k] && text[k] <= '7'; k++ {
		v = v<<3 | rune(text[k]-'0')
	}
	if v > 0xFF {
		return unit{}
	}
	return unit{c: v, kind: asByte, n: k - q}
}
