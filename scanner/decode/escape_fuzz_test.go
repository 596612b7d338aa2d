package decode

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xaiscan/xaiscan/scanner"
)

// fuzzEscape checks one family on arbitrary input: spans lie in the
// window, in order, without overlap; Continue stays in the window and
// after from; a decoding is never longer than its text (so the decoded
// bytes a span costs the budget are bounded by its size); and text
// encoded with the family's escapes (mask picks which bytes, the
// introducer always; enc returns "" for a byte it cannot write) decodes
// back to what was encoded.
func fuzzEscape(f *testing.F, d scanner.Decoder, intro byte, enc func(byte) string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s), uint64(0x5555))
	}
	f.Fuzz(func(t *testing.T, data []byte, mask uint64) {
		last := 0
		d.Spans(data, func(s scanner.Span) {
			if s.Start < last || s.End <= s.Start || s.End > len(data) {
				t.Fatalf("span [%d,%d) after %d in %d bytes", s.Start, s.End, last, len(data))
			}
			last = s.End
			if got, _ := d.DecodeSpan(nil, data[s.Start:s.End], s); len(got) > s.End-s.Start {
				t.Fatalf("decoding longer than its text")
			}
			for from := 0; from <= len(data); from += 1 + len(data)/7 {
				if e := d.Continue(data, from, s); e < from || e > len(data) {
					t.Fatalf("Continue(%d) = %d of %d", from, e, len(data))
				}
			}
		})
		if got, _ := d.DecodeSpan(nil, data, scanner.Span{}); len(got) > len(data) {
			t.Fatalf("decoding longer than its text")
		}
		var b bytes.Buffer
		for i, c := range data {
			if e := enc(c); e != "" && (c == intro || mask>>(i%64)&1 == 1) {
				b.WriteString(e)
			} else {
				b.WriteByte(c)
			}
		}
		got, err := d.DecodeSpan(nil, b.Bytes(), scanner.Span{})
		if len(got) == 0 && err == nil {
			got = b.Bytes()
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip of %q: %q", b.Bytes(), got)
		}
	})
}

func FuzzJSONEscape(f *testing.F) {
	fuzzEscape(f, JSONEscape{}, '\\', func(c byte) string { return fmt.Sprintf(`\x%02x`, c) },
		`"\u0078ai-\u{41}\ud83d\ude00\x41\101\/\\u0078"`, `\u`, `\ud800\u`, `\u{110000}`, "\\\n")
}

func FuzzHTMLEntity(f *testing.F) {
	// A numeric reference names a code point, so only ASCII bytes are
	// written as one.
	fuzzEscape(f, HTMLEntity{}, '&', func(c byte) string {
		if c == 0 || c >= 0x80 { // &#0; is U+FFFD
			return ""
		}
		return fmt.Sprintf("&#%d;", c)
	},
		"<p>&#120;ai-&#x41;&amp;#120;&nbsp;&NewLine;&#;&#x;&#99999999;</p>", "&", "&amp")
}

func FuzzPercent(f *testing.F) {
	fuzzEscape(f, Percent{}, '%', func(c byte) string { return fmt.Sprintf("%%%02X", c) },
		"a=%78ai-%2541&b=%2d%", "%2", "%%%")
}

func FuzzQuotedPrintable(f *testing.F) {
	fuzzEscape(f, QuotedPrintable{}, '=', func(c byte) string { return fmt.Sprintf("=%02X", c) },
		"xa=\r\ni-=3D=78=\nab= \t\r\n=", "=", "=\r", "a=\n=\n=\nb\n")
}
