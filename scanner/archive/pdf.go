package archive

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/xaiscan/xaiscan/scanner"
)

// DefaultMaxPDFStream caps what one PDF stream decodes to. Text content
// and object streams are far smaller; image streams, the large ones, are
// not decoded at all.
const DefaultMaxPDFStream = 64 << 20

// PDFFlate is the span decoder for the Flate streams of PDF files
// ("stream" EOL, a zlib header ... "endstream"): page content, where text
// is drawn by "(...) Tj", and object streams. It is a scanner.Decoder of
// encoded text, not a container: a PDF is not recognised as a whole; the
// gate is the zlib header right after the "stream" keyword, found by
// looking for 'x' (one vectorised byte search), so ordinary text costs
// next to nothing and nothing is allocated until a stream is found.
// Image XObjects are skipped (no text, and the largest streams). A stream
// that does not inflate from its first bytes is not Flate: nothing, no
// error; one that breaks later decodes up to the break.
type PDFFlate struct {
	scanner.NoContainer
	// MaxOutput caps one stream's decoded bytes (0: DefaultMaxPDFStream);
	// a stream cut there is an error.
	MaxOutput int
}

var _ scanner.Decoder = PDFFlate{}

// pdfFlateEncoding names the decoding in a finding's chain.
const pdfFlateEncoding = "pdf-flate"

// Spans implements scanner.Decoder.
func (p PDFFlate) Spans(window []byte, yield func(scanner.Span)) {
	for i := 0; i < len(window); {
		j := bytes.IndexByte(window[i:], 'x')
		if j < 0 {
			return
		}
		at := i + j
		if at+1 >= len(window) || !isZlibHeader(window[at:at+2]) || !afterStreamKeyword(window[:at]) || isImage(window[:at]) {
			i = at + 1
			continue
		}
		end := at + bytes.Index(window[at:], []byte("endstream"))
		if end < at {
			end = len(window)
		}
		yield(scanner.Span{Start: at, End: end, Encoding: pdfFlateEncoding})
		i = max(end, at+1)
	}
}

// afterStreamKeyword reports that b ends with the "stream" keyword and
// its end of line (CRLF or LF), the keyword after the dictionary's ">>"
// or white space (not "endstream", "upstream").
func afterStreamKeyword(b []byte) bool {
	switch {
	case bytes.HasSuffix(b, []byte("stream\r\n")):
		b = b[:len(b)-8]
	case bytes.HasSuffix(b, []byte("stream\n")):
		b = b[:len(b)-7]
	default:
		return false
	}
	if len(b) == 0 {
		return true
	}
	switch b[len(b)-1] {
	case '>', ' ', '\n', '\r', '\t':
		return true
	}
	return false
}

// isImage reports that the stream dictionary ending b (what follows the
// last "obj" keyword in the kilobyte before it) is an image's.
func isImage(b []byte) bool {
	b = b[max(0, len(b)-1024):]
	if i := bytes.LastIndex(b, []byte("obj")); i >= 0 {
		b = b[i:]
	}
	return bytes.Contains(b, []byte("/Image"))
}

// Continue implements scanner.Decoder: a stream goes on to "endstream".
func (PDFFlate) Continue(window []byte, from int, _ scanner.Span) int {
	if i := bytes.Index(window[from:], []byte("endstream")); i >= 0 {
		return from + i
	}
	return len(window)
}

// pdfFirstStep is how much a stream must inflate to before a fault is
// damage rather than "not Flate after all": text after a two-byte look-alike
// of a zlib header can inflate to a few bytes before it fails.
const pdfFirstStep = 16

// errPDFCap is a stream cut at PDFFlate.MaxOutput.
var errPDFCap = errors.New("PDF stream cap")

// DecodeSpan implements scanner.Decoder: it inflates the stream up to its
// end, its damage or the output cap.
func (p PDFFlate) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	limit := p.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxPDFStream
	}
	zr, err := zlib.NewReader(bytes.NewReader(text))
	if err != nil {
		return dst, nil
	}
	start := len(dst)
	w := &capWriter{b: dst, left: limit}
	_, err = io.Copy(w, zr)
	dst = w.b
	switch {
	case err == nil:
		return dst, nil
	case errors.Is(err, errPDFCap):
		return dst, fmt.Errorf("PDF stream decodes to more than %s: the rest not decoded", scanner.SizeString(int64(limit)))
	case len(dst)-start < pdfFirstStep:
		return dst[:start], nil // the first inflate step failed: not Flate
	case errors.Is(err, io.ErrUnexpectedEOF):
		return dst, formatError{"truncated PDF Flate stream"}
	}
	return dst, formatError{"corrupt PDF Flate stream: " + err.Error()}
}

// capWriter appends to b until left bytes were written.
type capWriter struct {
	b    []byte
	left int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		c.b = append(c.b, p[:c.left]...)
		c.left = 0
		return 0, errPDFCap
	}
	c.b = append(c.b, p...)
	c.left -= len(p)
	return len(p), nil
}

// DefaultMaxPDF is the largest PDF whose streams PDF decodes: it is read
// into memory to find them. Larger ones are scanned as raw bytes, with an
// error saying their streams were not decoded.
const DefaultMaxPDF = 256 << 20

// PDF is the container decoder for PDF documents: a document (recognised,
// as readers do, by "%PDF-" in its first 1024 bytes) is read whole, and
// each of its Flate streams (see PDFFlate) is handed on decoded, as a view
// of the same path with Encoding "pdf-flate". Only PDFs pay for the
// search for streams: it is not on the hot path of every text window.
type PDF struct {
	scanner.NoSpans
	Flate PDFFlate
	// MaxSize caps the documents read (0: DefaultMaxPDF).
	MaxSize int64
}

var _ scanner.Decoder = PDF{}

// Opens implements scanner.Decoder.
func (PDF) Opens(_ scanner.Item, head []byte) bool {
	return bytes.Contains(head[:min(len(head), 1024)], []byte("%PDF-"))
}

// Open implements scanner.Decoder.
func (p PDF) Open(ctx context.Context, it scanner.Item, r io.Reader, m scanner.Members) error {
	limit := p.MaxSize
	if limit <= 0 {
		limit = DefaultMaxPDF
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return err
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("PDF larger than %s: its streams were not decoded (raw bytes scanned)", scanner.SizeString(limit))
	}
	var damage, stop error
	p.Flate.Spans(data, func(s scanner.Span) {
		if stop != nil {
			return
		}
		if stop = ctx.Err(); stop != nil {
			return
		}
		out, derr := p.Flate.DecodeSpan(nil, data[s.Start:s.End], s)
		if len(out) > 0 {
			stop = m.Scan(pdfStreamItem(it, out))
		}
		switch {
		case derr == nil:
		case errors.Is(derr, scanner.ErrMalformed):
			damage = cmp.Or(damage, derr) // the first damage met
		default:
			m.Skip(scanner.ErrorAt(it.Path, derr.Error()))
		}
	})
	if stop != nil {
		return stop
	}
	return damage
}

// pdfStreamItem is one decoded stream of a PDF, as a member.
func pdfStreamItem(pdf scanner.Item, out []byte) scanner.Item {
	return scanner.Item{Path: pdf.Path, Source: pdf.Source, Object: pdf.Object, Size: int64(len(out)),
		Template: pdf.Template, Counts: scanner.CountNone, Once: true, Encoding: pdfFlateEncoding, View: true,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(out)), nil }}
}
