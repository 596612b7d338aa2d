package archive

import (
	"bytes"
	"compress/zlib"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// fzMembers opens data as a top-level container, with a small dictionary
// cap, and returns what its members decoded to and the error.
func fzMembers(t *testing.T, data []byte) (*recorder, error) {
	rec := &recorder{}
	x := &expansion{e: New(Options{MaxDictionary: 1 << 20, MaxMembers: fzMaxMembers}), ctx: t.Context(),
		parent: scanner.Item{Path: "in.bin", Source: scanner.SourceFile}, topLevel: true, depth: 1, s: &session{}, m: rec}
	x.s.membersLeft.Store(fzMaxMembers)
	br := newBufReader(io.LimitReader(bytes.NewReader(data), fzMaxBytes))
	head, _ := br.Peek(512)
	if sniff(head) == kindNone {
		return rec, nil
	}
	return rec, x.stream(sniff(head), br)
}

// fzCheck: the engine survives data as file and stream within the budget,
// and a direct expansion never panics.
func fzCheck(t *testing.T, data []byte) {
	for _, res := range fzScan(t, "in.bin", data) {
		if limit := 2*int64(len(data)) + fzMaxBytes + 1<<20; res.Coverage.Bytes > limit {
			t.Fatalf("read %d bytes from %d", res.Coverage.Bytes, len(data))
		}
	}
	fzMembers(t, data)
}

// FuzzXz: any bytes after an xz header decode without a panic, within the
// budget and the dictionary cap (the fuzzer's memory limit would catch a
// declared dictionary allocated).
func FuzzXz(f *testing.F) {
	k := []byte("K=" + rulestest.APIKey() + "\n")
	f.Add(xzOf(f, k, 0))
	f.Add(xzOf(f, bytes.Repeat(k, 100), 1<<16))
	f.Add(xzDictBomb(f, k))
	f.Add(xzOf(f, fzTar(fzFile{"a.env", k}), 0))
	f.Add(append(xzOf(f, k, 0), xzOf(f, k, 0)...))
	f.Fuzz(func(t *testing.T, data []byte) { fzCheck(t, data) })
}

// FuzzZstd: as FuzzXz, and a stream the library itself decodes whole
// (with no cap in play) decodes to the same bytes, without damage.
func FuzzZstd(f *testing.F) {
	k := []byte("K=" + rulestest.APIKey() + "\n")
	f.Add(zstdOf(f, k))
	f.Add(zstdOf(f, bytes.Repeat(k, 100), zstd.WithSingleSegment(false)))
	f.Add(zstdOf(f, fzTar(fzFile{"a.env", k})))
	f.Fuzz(func(t *testing.T, data []byte) {
		fzCheck(t, data)
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<20))
		if err != nil {
			return
		}
		defer zr.Close()
		want, err := io.ReadAll(io.LimitReader(zr, fzMaxBytes))
		if err != nil || len(want) == 0 || len(want) == fzMaxBytes || isTar(want) || sniff(want) != kindNone {
			return
		}
		rec, err := fzMembers(t, data)
		if err != nil || len(rec.data) != 1 || !bytes.Equal(rec.data[0], want) {
			t.Fatalf("library decodes %d bytes; we: %v, %d members", len(want), err, len(rec.data))
		}
	})
}

// FuzzZlib: content that compress/zlib decodes whole is a zlib member of
// those bytes; anything else starting like zlib yields no note or error
// unless its start inflated (weak magic is silent).
func FuzzZlib(f *testing.F) {
	k := []byte("K=" + rulestest.APIKey() + "\n")
	f.Add(zlibOf(f, k))
	f.Add(zlibOf(f, bytes.Repeat(k, 1000)))
	f.Add([]byte("x^2 + y^2"))
	f.Add([]byte("x\x9c\x03\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fzCheck(t, data)
		if !isZlibHeader(data) {
			return
		}
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		want, err := io.ReadAll(io.LimitReader(zr, fzMaxBytes))
		if err != nil || len(want) == fzMaxBytes || sniff(want) != kindNone || !isZlib(data) {
			return
		}
		rec, err := fzMembers(t, data)
		if err != nil || len(rec.data) != 1 || !bytes.Equal(rec.data[0], want) {
			t.Fatalf("zlib decodes %d bytes; we: %v, %d members", len(want), err, len(rec.data))
		}
	})
}

// FuzzPDFFlate: spans lie inside the window, in order, apart; decoding
// any of them never panics and stays within the output cap.
func FuzzPDFFlate(f *testing.F) {
	key := rulestest.APIKey()
	f.Add(pdfStream(1, "/Filter /FlateDecode", zlibBytes(pageText(key, 1, 3))))
	f.Add([]byte(">>\nstream\nx^2\nendstream"))
	f.Add(append([]byte("<< >>\nstream\r\n"), zlibBytes([]byte("(a) Tj"))[:5]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := PDFFlate{MaxOutput: 1 << 16}
		last := 0
		d.Spans(data, func(s scanner.Span) {
			if s.Start < last || s.End < s.Start || s.End > len(data) {
				t.Fatalf("span %d-%d after %d in %d bytes", s.Start, s.End, last, len(data))
			}
			last = s.End
			out, _ := d.DecodeSpan(nil, data[s.Start:s.End], s)
			if len(out) > 1<<16 {
				t.Fatalf("%d bytes out", len(out))
			}
			if s.End == len(data) {
				if c := d.Continue(data, s.Start, s); c < s.Start || c > len(data) {
					t.Fatalf("continue %d", c)
				}
			}
		})
	})
}

// FuzzOOXMLText: the text view of any bytes never panics, has no line
// longer than the cap, and holds no more than the input's bytes plus its
// line ends.
func FuzzOOXMLText(f *testing.F) {
	f.Add([]byte(`<w:p><w:r><w:t>a&amp;</w:t></w:r><w:r><w:t>b</w:t></w:r></w:p>`))
	f.Add([]byte(`<si><t>x</t></si><si><r><t>y</t></r><r><t>z`))
	f.Add([]byte(`<w:p><w:t><![CDATA[c]]></w:t><w:tab/><w:t>&#x41;</w:t>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := io.ReadAll(newTextRuns(bytes.NewReader(data)))
		for _, l := range strings.Split(string(out), "\n") {
			if len(l) > maxOOXMLLine {
				t.Fatalf("line of %d bytes", len(l))
			}
		}
		if len(out) > 2*len(data)+1 {
			t.Fatalf("%d bytes out of %d", len(out), len(data))
		}
	})
}
