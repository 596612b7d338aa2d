package archive

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"errors"
	"io"
)

// zlib's two-byte header is weak magic: "x^" and "x\x9c" begin ordinary
// files too. So a file is only taken for zlib when the start of its
// stream also inflates: a first inflate step that fails means "not zlib",
// silently, never a note.

// zlibTrial is how much of a file's start is inflated to recognise zlib
// (the bytes every caller of sniff has).
const zlibTrial = 512

// isZlibHeader reports a zlib header with a 32 KiB window (CMF 0x78, what
// every zlib writer emits), a valid check and no preset dictionary.
func isZlibHeader(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x78 && b[1]&0x20 == 0 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

// isZlib reports a zlib stream: a header, and a start that inflates
// cleanly: either the whole stream, checksum included, or the first
// zlibTrial bytes without a fault.
func isZlib(head []byte) bool {
	if !isZlibHeader(head) {
		return false
	}
	head = head[:min(len(head), zlibTrial)]
	zr, err := zlib.NewReader(bytes.NewReader(head))
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, io.LimitReader(zr, 1<<20))
	switch {
	case err == nil:
		return true // ended with a valid checksum, or inflated 1 MiB (a bomb's start)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return len(head) == zlibTrial
	}
	return false
}

// zlib expands a zlib stream: one member, named after the outer name
// without ".zz" or ".zlib". What follows the stream is not looked at (the
// engine scanned it raw).
func (x *expansion) zlib(br *bufio.Reader) error {
	x.enc = "zlib"
	src := &countReader{r: br}
	zr, err := zlib.NewReader(src)
	if err != nil {
		return x.zlibError(src, err)
	}
	z := &zlibReader{zr: zr, src: src, x: x}
	ext := ".zz"
	if hasSuffixFold(x.outer(), ".zlib") {
		ext = ".zlib"
	}
	// (No tar extension: a zlib-compressed tar has no conventional name.)
	return x.decompressed("zlib stream", z, "", "\x00", ext, func() error { return nil })
}

// zlibReader turns the decoder's errors into damage (the source's own
// errors pass through).
type zlibReader struct {
	zr  io.Reader
	src *countReader
	x   *expansion
}

func (z *zlibReader) Read(p []byte) (int, error) {
	n, err := z.zr.Read(p)
	if err != nil && err != io.EOF {
		err = z.x.zlibError(z.src, err)
	}
	return n, err
}

func (x *expansion) zlibError(src *countReader, err error) error {
	if src.err != nil {
		return src.err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return formatError{"truncated zlib stream"}
	}
	return formatError{"corrupt zlib stream: " + err.Error()}
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && bytes.EqualFold([]byte(s[len(s)-len(suffix):]), []byte(suffix))
}
