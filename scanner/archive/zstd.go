package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strings"

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
// concurrency 1 (blocks are decoded on the caller's worker, no goroutines,
// none in flight), low-memory buffers, and a window of at most
// Options.MaxDictionary, the library's limit, which it checks against
// each frame header before it allocates the window. A first frame that
// declares a larger window is decoded with the window cut to the cap (its
// header rewritten: a zstd frame header has no checksum), as xz is: only a
// match reaching further back than the cap then stops it, reported as an
// error naming the cap. (Damaged files often declare absurd windows; they
// are then damage, not a failure to read.)
func (x *expansion) zstd(br *bufio.Reader) error {
	x.enc = "zstd"
	limit := uint64(max(x.e.opts.MaxDictionary, 1<<10))
	in, declared, err := zstdCapWindow(br, limit)
	if err != nil {
		return err
	}
	src := &countReader{r: in}
	zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(limit), zstd.WithDecoderMaxMemory(limit))
	if err != nil {
		return fmt.Errorf("zstd decoder: %w", err)
	}
	defer zr.Close()
	zs := &zstdReader{zr: zr, src: src, limit: limit, capped: declared > limit, declared: declared}
	return x.decompressed("zstd stream", zs, "", ".tzst", ".zst", func() error { return nil })
}

// zstdCapWindow returns br, its first frame's window cut to limit if it
// declares more, and the window declared (0 if it cannot tell). The
// window descriptor is rewritten; a single-segment frame, whose window is
// its content size, becomes a frame with a window descriptor (its content
// size field keeps its width and meaning).
func zstdCapWindow(br *bufio.Reader, limit uint64) (io.Reader, uint64, error) {
	head, _ := br.Peek(zstd.HeaderMaxSize)
	var h zstd.Header
	if h.Decode(head) != nil || h.Skippable {
		return br, 0, nil
	}
	declared := h.WindowSize
	if h.SingleSegment {
		declared = h.FrameContentSize
	}
	target := limit
	if h.HasFCS && !h.SingleSegment && h.FrameContentSize < min(declared, limit) {
		// The decoder allocates the window the frame declares, zeroed,
		// for every stream: 8 MiB for a file of a few KiB made with -19.
		// No match of a frame reaches before its content's start, so a
		// window of its content size (rounded up to a power of two)
		// decodes the frame the same, without the allocation.
		target = max(1<<10, uint64(1)<<bits.Len64(h.FrameContentSize-1))
	}
	if declared <= target {
		return br, declared, nil
	}
	// The window descriptor follows the magic and the frame header
	// descriptor: exponent (window 1 KiB << e) in its high five bits.
	wd := byte(bits.Len64(target)-1-10) << 3
	var hdr [6]byte
	if h.SingleSegment {
		io.ReadFull(br, hdr[:5])
		hdr[4] &^= 0x20
		hdr[5] = wd
	} else {
		io.ReadFull(br, hdr[:6])
		hdr[5] = wd
	}
	return io.MultiReader(bytes.NewReader(hdr[:]), br), declared, nil
}

// zstdReader classifies the decoder's errors: the source's own read
// errors pass through, a window over the cap is a capError, anything else
// is damage. (The library's errors are plain values, some of them
// wrapped strings, so damage is whatever the source did not cause.)
type zstdReader struct {
	zr     *zstd.Decoder
	src    *countReader
	limit  uint64
	capped bool // the first frame's window was cut to limit
	// declared is the window the first frame declared.
	declared uint64
}

func (z *zstdReader) Read(p []byte) (int, error) {
	n, err := z.zr.Read(p)
	switch {
	case err == nil, err == io.EOF:
		return n, err
	case z.src.err != nil:
		return n, z.src.err
	case z.capped && z.pastCap(err):
		return n, capError{fmt.Sprintf("zstd stream needs a window larger than the cap of %s: decoded up to there only", scanner.SizeString(int64(z.limit)))}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return n, formatError{"truncated zstd stream"}
	}
	return n, formatError{"corrupt zstd stream: " + err.Error()}
}

// pastCap reports a match that reaches behind the capped window but not
// beyond the window the frame declared (the library's "match offset (N)
// bigger than current history"): what the cap cut off. An offset beyond
// the declared window is damage. (Should the library word it otherwise,
// this degrades to a note, and TestZstdWindowBomb fails.)
func (z *zstdReader) pastCap(err error) bool {
	msg := err.Error()
	i := strings.Index(msg, "match offset (")
	if i < 0 {
		return false
	}
	var off uint64
	if _, err := fmt.Sscanf(msg[i:], "match offset (%d)", &off); err != nil {
		return false
	}
	return off > z.limit && off <= z.declared
}
