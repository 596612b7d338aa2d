package archive

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/xaiscan/xaiscan/scanner"
)

// isZstd reports a zstd frame (its magic and a frame header descriptor
// without the reserved bit) or a skippable frame, which zstd files may
// start with.
func isZstd(head []byte) bool {
	if len(head) < 5 {
		return false
	}
	m := binary.LittleEndian.Uint32(head)
	return m == 0xfd2fb528 && head[4]&0x08 == 0 || m&0xfffffff0 == 0x184d2a50
}

// zstd expands a zstd file (frames back to back, as zstd -d reads them)
// with github.com/klauspost/compress/zstd. Memory per stream is bounded:
// one decoder goroutine-free (concurrency 1: blocks are decoded on the
// caller's worker, none in flight), low-memory buffers, and a window of at
// most Options.MaxDictionary, checked against the frame header before the
// window is allocated. A file whose first frame needs a larger window is
// not decoded, and reported as an error naming the cap. (The library's
// own window error also stands for blocks that overrun their window, so
// past the first frame header it is taken for damage.)
func (x *expansion) zstd(br *bufio.Reader) error {
	x.enc = "zstd"
	limit := uint64(max(x.e.opts.MaxDictionary, 1<<10))
	if w := zstdWindow(br); w > limit {
		return capError{fmt.Sprintf("zstd frame needs a window of %s, over the cap of %s: not decoded", scanner.SizeString(int64(w)), scanner.SizeString(int64(limit)))}
	}
	src := &countReader{r: br}
	zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(limit), zstd.WithDecoderMaxMemory(limit))
	if err != nil {
		return fmt.Errorf("zstd decoder: %w", err)
	}
	defer zr.Close()
	zs := &zstdReader{zr: zr, src: src}
	return x.decompressed("zstd stream", zs, "", ".tzst", ".zst", func() error { return nil })
}

// zstdWindow returns the window the first frame in br declares (its
// content size for a single-segment frame), or 0 if it cannot tell.
func zstdWindow(br *bufio.Reader) uint64 {
	head, _ := br.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(head) != nil || h.Skippable {
		return 0
	}
	if h.SingleSegment {
		return h.FrameContentSize
	}
	return h.WindowSize
}

// zstdReader classifies the decoder's errors: the source's own read
// errors pass through, a window over the cap is a capError, anything else
// is damage. (The library's errors are plain values, some of them
// wrapped strings, so damage is whatever the source did not cause.)
type zstdReader struct {
	zr  *zstd.Decoder
	src *countReader
}

func (z *zstdReader) Read(p []byte) (int, error) {
	n, err := z.zr.Read(p)
	switch {
	case err == nil, err == io.EOF:
		return n, err
	case z.src.err != nil:
		return n, z.src.err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, formatError{"truncated zstd stream"}
	}
	return n, formatError{"corrupt zstd stream: " + err.Error()}
}
