package safetext

import (
	"bytes"
	"unicode/utf8"
)

// EscapeJSON rewrites encoded JSON so that no character Escape would
// escape reaches the reader raw: DEL, the C1 controls and the
// bidirectional controls become \u escapes, which decode to the very same
// text. encoding/json already escapes C0 controls and U+2028/U+2029, but
// not these, and a report shown with cat or in a CI log would otherwise
// hand them to the terminal. Outside strings JSON is plain ASCII, so every
// such character found is inside a string, where a \u escape is valid.
// data must be valid UTF-8 (the encoder's output is); it is returned as is
// when nothing needs escaping.
func EscapeJSON(data []byte) []byte {
	i := firstJSONUnsafe(data)
	if i < 0 {
		return data
	}
	out := make([]byte, 0, len(data)+32)
	out = append(out, data[:i]...)
	for i < len(data) {
		c := data[i]
		if c < utf8.RuneSelf {
			if c == 0x7f {
				out = append(out, `\u007f`...)
			} else {
				out = append(out, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if isUnsafeRune(r) {
			out = appendUnicodeEscape(out, r)
		} else {
			out = append(out, data[i:i+n]...)
		}
		i += n
	}
	return out
}

// firstJSONUnsafe returns the offset of the first character EscapeJSON
// rewrites, or -1.
func firstJSONUnsafe(data []byte) int {
	return bytes.IndexFunc(data, func(r rune) bool {
		return r == 0x7f || (r >= utf8.RuneSelf && isUnsafeRune(r))
	})
}

func appendUnicodeEscape(out []byte, r rune) []byte {
	const digits = "0123456789abcdef"
	return append(out, '\\', 'u',
		digits[(r>>12)&0xf], digits[(r>>8)&0xf], digits[(r>>4)&0xf], digits[r&0xf])
}
