package decode

import "github.com/xaiscan/xaiscan/scanner"

// HTMLEntity decodes HTML and XML character references: numeric (`&#120;`,
// `&#x78;`) and the common named ones (amp, lt, gt, quot, apos, nbsp and
// the ASCII punctuation names of HTML5). A reference must end with ';'.
// It finds a key whose letters are written as references, and a key under
// a second level (`&amp;#120;`, which decodes to `&#120;` and then again).
// Spans are chosen as for JSONEscape.
//
// The zero value is ready to use and safe for concurrent use.
type HTMLEntity struct{ scanner.NoContainer }

// Spans implements scanner.Decoder.
func (HTMLEntity) Spans(w []byte, yield func(scanner.Span)) { tokenSpans(famHTML, w, yield) }

// Continue implements scanner.Decoder: a run goes on to the next delimiter.
func (HTMLEntity) Continue(w []byte, from int, _ scanner.Span) int { return tokenEnd(w, from) }

// DecodeSpan implements scanner.Decoder: one level of references.
func (HTMLEntity) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	return famHTML.decodeSpan(dst, text), nil
}

// htmlNamed are the named references decoded: the XML five, nbsp, and
// HTML5's names for ASCII punctuation. Names for letters do not exist (and
// &hyphen; is U+2010, not '-'), so a named reference is never evidence by
// itself; &amp; is, when a numeric reference follows it.
var htmlNamed = map[string]rune{
	"amp": '&', "lt": '<', "gt": '>', "quot": '"', "apos": '\'', "nbsp": 0xA0,
	"sol": '/', "bsol": '\\', "colon": ':', "semi": ';', "equals": '=', "num": '#',
	"percnt": '%', "lowbar": '_', "period": '.', "comma": ',', "excl": '!',
	"quest": '?', "plus": '+', "dollar": '$', "lpar": '(', "rpar": ')',
	"commat": '@', "ast": '*', "Tab": '\t', "NewLine": '\n',
	"AMP": '&', "LT": '<', "GT": '>', "QUOT": '"',
}

// maxEntityName is the length of the longest name in htmlNamed.
const maxEntityName = 7

// htmlBody reads the reference whose '&' stands before text[q].
func htmlBody(text []byte, q int) unit {
	if q >= len(text) {
		return unit{}
	}
	if text[q] == '#' {
		return htmlNumeric(text, q)
	}
	k := q
	for k < len(text) && k < q+maxEntityName && isLetter(text[k]) {
		k++
	}
	if k == q || k >= len(text) || text[k] != ';' {
		return unit{}
	}
	if c, ok := htmlNamed[string(text[q:k])]; ok {
		return unit{c: c, kind: asRune, n: k + 1 - q}
	}
	return unit{}
}

// htmlNumeric reads #NNN; (up to 7 decimal digits) or #xHHHH; (up to 6).
func htmlNumeric(text []byte, q int) unit {
	k, v := q+1, rune(0)
	hex := k < len(text) && (text[k] == 'x' || text[k] == 'X')
	if hex {
		k++
	}
	first := k
	for ; k < len(text) && k < first+7; k++ {
		c := text[k]
		if hex && isHex(c) {
			v = v<<4 | rune(hexVal(c))
		} else if !hex && '0' <= c && c <= '9' {
			v = v*10 + rune(c-'0')
		} else {
			break
		}
	}
	if k == first || k >= len(text) || text[k] != ';' {
		return unit{}
	}
	return unit{c: validRune(v), kind: asRune, n: k + 1 - q}
}

func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
