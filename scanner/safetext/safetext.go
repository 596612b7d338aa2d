// Package safetext is xaiscan's output-safety layer: the one place that
// decides how text that xaiscan did not write itself — file names, git
// paths, authors, e-mails, messages, reasons, server answers — may appear
// in its output.
//
// Two dangers are contained here. Control characters in a name can drive
// the terminal or the CI log that shows it (clear the screen, retitle the
// window, erase the line above, start a forged line such as a workflow
// command); [Escape] makes them visible instead. A key can hide in a name or
// an error as easily as in a file's content; [Redact] replaces every
// key-shaped run with the redacted form findings use.
//
// [Policy] combines the two for each kind of output: [Policy.Text] for
// what people read (the text report, stderr), [Policy.Exact] for JSON and
// SARIF, where escaping is the encoder's job and the text must stay exact.
// [Writer] applies Policy.Text to every line written through it, as a last
// line of defence for a stream such as stderr.
//
// Everything here is pure: strings in, strings out, no I/O except Writer's.
package safetext

import (
	"strings"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
)

// Policy says how free text is prepared for one output.
type Policy struct {
	// ShowSecrets leaves key-shaped text as it is (--show-secrets).
	// Control characters are escaped all the same.
	ShowSecrets bool
}

// Text prepares s for a person's screen: key-shaped runs redacted (unless
// ShowSecrets) and every control character escaped, so the result is one
// line of printable text.
func (p Policy) Text(s string) string { return Escape(p.redact(s)) }

// Exact prepares s for a JSON string: key-shaped runs redacted (unless
// ShowSecrets), bytes that are not UTF-8 written as \xNN (JSON cannot hold
// them, and the encoder would turn them into U+FFFD). Control characters
// are left for the encoder to escape.
func (p Policy) Exact(s string) string { return ToUTF8(p.redact(s)) }

// Redacted is s with key-shaped runs redacted unless ShowSecrets, and
// nothing else changed: the raw bytes of a name, for lossless encodings
// (percent-encoded URIs, base64).
func (p Policy) Redacted(s string) string { return p.redact(s) }

func (p Policy) redact(s string) string {
	if p.ShowSecrets {
		return s
	}
	return Redact(s)
}

// Escape returns s with every character that could act on a terminal or
// split a line written visibly:
//
//   - C0 controls and DEL as \n, \r, \t or \xNN (ESC is \x1b, BEL \x07);
//   - C1 controls (U+0080–U+009F, such as U+009B CSI and U+009D OSC) as \u009b;
//   - the line and paragraph separators U+2028 and U+2029, and the
//     bidirectional controls that can make a line read differently from
//     what it holds (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069),
//     as \u2028 and so on;
//   - every byte that is not part of valid UTF-8 as \xNN (a raw 0x9b is a
//     C1 CSI to some terminals).
//
// Backslashes are not doubled: the text report is for reading, and the
// JSON report holds names exactly. s is returned as is (no allocation)
// when it needs no escaping.
func Escape(s string) string {
	i := firstUnsafe(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if isControl(c) {
				writeByteEscape(&b, c)
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			writeHex(&b, `\x`, uint32(c), 2)
		case isUnsafeRune(r):
			writeHex(&b, `\u`, uint32(r), 4)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// ToUTF8 returns s with every byte that is not part of valid UTF-8 written
// as \xNN, and everything else unchanged.
func ToUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			writeHex(&b, `\x`, uint32(s[i]), 2)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstUnsafe returns the offset of the first byte Escape would change, or
// -1.
func firstUnsafe(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if isControl(c) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || isUnsafeRune(r) {
			return i
		}
		i += n
	}
	return -1
}

// isControl reports whether an ASCII byte is a C0 control or DEL.
func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

// isUnsafeRune reports whether a non-ASCII rune is a C1 control, a line or
// paragraph separator, or a bidirectional control.
func isUnsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	case r == 0x061c || r == 0x200e || r == 0x200f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

func writeByteEscape(b *strings.Builder, c byte) {
	switch c {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	default:
		writeHex(b, `\x`, uint32(c), 2)
	}
}

// writeHex writes prefix and v as width lowercase hex digits.
func writeHex(b *strings.Builder, prefix string, v uint32, width int) {
	const digits = "0123456789abcdef"
	b.WriteString(prefix)
	for shift := 4 * (width - 1); shift >= 0; shift -= 4 {
		b.WriteByte(digits[(v>>uint(shift))&0xf])
	}
}

// Redact returns s with every key-shaped run replaced by the redacted form
// findings show ("xai-..." and the last four characters of the key). A run
// is "xai-" or "xai-token-" followed by at least rules.BodyLen letters and
// digits, wherever it stands: unlike the rules, no boundary, entropy or
// placeholder check applies, because here a false positive costs a few
// characters of a name and a false negative prints a credential. As in a
// binary's reading, the key is the prefix and the first rules.BodyLen
// characters; the rest of a longer run is kept.
func Redact(s string) string { return redact(s, rules.BodyLen) }

// MinPartialRun is the number of letters and digits after the prefix from
// which RedactPartial treats text as a key: far below a key's 80, so a
// truncated key is hidden too, and far above anything innocent that starts
// with "xai-" (the redacted form has none).
const MinPartialRun = 16

// RedactPartial is Redact for text that never rightly holds a long
// "xai-" run — the audit trail, a server's answer, a hook's stderr — so a
// truncated or cut-off key is redacted as well: any run of MinPartialRun or
// more letters and digits after the prefix.
func RedactPartial(s string) string { return redact(s, MinPartialRun) }

// redact replaces, after every prefix, a run of at least minRun
// alphanumerics (at most rules.BodyLen of them) with its redacted form. It
// allocates only when it replaces something.
func redact(s string, minRun int) string {
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; ; {
		j := strings.Index(s[i:], rules.Prefix)
		if j < 0 {
			break
		}
		start := i + j
		body := start + len(rules.Prefix)
		if strings.HasPrefix(s[body:], "token-") {
			body = start + len(rules.ManagementPrefix)
		}
		end := body
		for end < len(s) && end-body < rules.BodyLen && isAlnum(s[end]) {
			end++
		}
		if end-body < minRun {
			// Not a key here. Move on by one byte only: a key may start
			// inside what was just looked at ("xai-xai-..." hides one at
			// offset 4).
			i = start + 1
			continue
		}
		b.WriteString(s[done:start])
		b.WriteString(rules.Redact(s[start:end]))
		done, i = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
