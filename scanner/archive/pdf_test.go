package archive

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// pdfStream is one PDF stream object: dict, then data as written (zlib
// already applied by the caller if wanted).
func pdfStream(n int, dict string, data []byte) []byte {
	return []byte(fmt.Sprintf("%d 0 obj\n<< %s /Length %d >>\nstream\r\n%s\r\nendstream\nendobj\n", n, dict, len(data), data))
}

func zlibBytes(data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// pageText is a content stream drawing lines of text, the key among them
// at line at (of lines).
func pageText(key string, at, lines int) []byte {
	var b strings.Builder
	b.WriteString("BT /F1 11 Tf 72 720 Td\n")
	for i := range lines {
		text := fmt.Sprintf("Line %d of the quarterly report, nothing secret.", i)
		if i == at {
			text = "API key: " + key
		}
		fmt.Fprintf(&b, "(%s) Tj 0 -14 Td\n", text)
	}
	b.WriteString("ET\n")
	return []byte(b.String())
}

// decodeSpans runs d's Spans over window and decodes every span whole.
func decodeSpans(t *testing.T, d scanner.Decoder, window []byte) (out [][]byte, errs []error) {
	t.Helper()
	d.Spans(window, func(s scanner.Span) {
		if s.Encoding != "pdf-flate" {
			t.Errorf("encoding %q", s.Encoding)
		}
		b, err := d.DecodeSpan(nil, window[s.Start:s.End], s)
		out, errs = append(out, b), append(errs, err)
	})
	return out, errs
}

// The text of a page's Flate content stream is decoded, with the key at
// the start, middle and end of the stream; an image stream is left alone.
func TestPDFFlate(t *testing.T) {
	key := rulestest.APIKey()
	for _, at := range []int{0, 200, 399} {
		var pdf bytes.Buffer
		pdf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
		pdf.Write(pdfStream(1, "/Type /XObject /Subtype /Image /Width 8 /Height 8 /Filter /FlateDecode", zlibBytes(bytes.Repeat([]byte{0xff}, 192))))
		pdf.Write(pdfStream(2, "/Filter /FlateDecode", zlibBytes(pageText(key, at, 400))))
		pdf.WriteString("trailer\n<< /Root 1 0 R >>\n%%EOF\n")
		out, errs := decodeSpans(t, PDFFlate{}, pdf.Bytes())
		if len(out) != 1 || errs[0] != nil {
			t.Fatalf("at %d: %d spans, errors %v", at, len(out), errs)
		}
		if ms := rules.FindAll(out[0]); len(ms) != 1 || string(out[0][ms[0].Start:ms[0].End]) != key {
			t.Errorf("at %d: matches %v", at, ms)
		}
	}
}

// A stream cut short decodes up to the cut, as damage; a text that only
// looks like a stream start ("stream\nx^2") decodes to nothing, silently;
// a stream over the cap is an error.
func TestPDFFlateDamaged(t *testing.T) {
	key := rulestest.APIKey()
	z := zlibBytes(pageText(key, 2, 2000)) // (the lines differ: the key is in the first tenth)
	cut := append([]byte("1 0 obj <<>>\nstream\n"), z[:len(z)/2]...)
	out, errs := decodeSpans(t, PDFFlate{}, cut)
	if len(out) != 1 || !errors.Is(errs[0], scanner.ErrMalformed) || len(rules.FindAll(out[0])) != 1 {
		t.Fatalf("cut: %d spans, errors %v", len(out), errs)
	}
	for _, s := range []string{">>\nstream\nx^2 + y^2\nendstream", "upstream\nx\x9c", "the stream\nx\x9c is here, then endstream", "endstream\nx\x9cabc"} {
		out, errs := decodeSpans(t, PDFFlate{}, []byte(s))
		for i := range out {
			if len(out[i]) != 0 || errs[i] != nil {
				t.Errorf("%q: %q, %v", s, out[i], errs[i])
			}
		}
	}
	big := append([]byte("stream\n"), zlibBytes(make([]byte, 1<<20))...)
	out, errs = decodeSpans(t, PDFFlate{MaxOutput: 1 << 16}, big)
	if len(out) != 1 || len(out[0]) != 1<<16 || errs[0] == nil || errors.Is(errs[0], scanner.ErrMalformed) {
		t.Fatalf("cap: %d spans, errors %v", len(out), errs)
	}
}

// A stream longer than a window is followed by Continue to its end.
func TestPDFFlateContinue(t *testing.T) {
	d := PDFFlate{}
	s := scanner.Span{Start: 10, End: 20}
	if got := d.Continue([]byte("abcdefgh"), 2, s); got != 8 {
		t.Errorf("no end: %d", got)
	}
	if got := d.Continue([]byte("ab\r\nendstream"), 0, s); got != 4 {
		t.Errorf("end: %d", got)
	}
}

// Spans on key-free source text does not allocate.
func TestPDFFlateSpansAllocs(t *testing.T) {
	src, err := rulestest.GoSource(1 << 20)
	if err != nil {
		t.Skip(err)
	}
	n := testing.AllocsPerRun(5, func() { PDFFlate{}.Spans(src, func(scanner.Span) {}) })
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// BenchmarkPDFSpans measures the gate on ordinary text, against the rules
// scanning the same bytes (the baseline every window pays).
func BenchmarkPDFSpans(b *testing.B) {
	src, err := rulestest.GoSource(16 << 20)
	if err != nil {
		b.Skip(err)
	}
	b.Run("rules", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			rules.Find(src, func(rules.Match) {})
		}
	})
	b.Run("pdf-spans", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			PDFFlate{}.Spans(src, func(scanner.Span) {})
		}
	})
}
