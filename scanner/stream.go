package scanner

import (
	"context"
	"fmt"
	"io"
)

// HoleReader is implemented by readers of content with holes: sparse
// files, sparse archive members. Holes read as zeros but are stored
// nowhere; the engine skips them instead of scanning zeros, so work is
// bounded by the bytes that exist, never by a declared size.
type HoleReader interface {
	io.Reader
	// DataOffset returns the offset, in the content, of the byte the next
	// Read returns. It only moves forward; when it is past the end of the
	// bytes read so far, the bytes in between are a hole (zeros).
	DataOffset() int64
}

// source is what a stream reads from: the reader, and its holes if it
// reports them.
type source struct {
	r     io.Reader
	holes HoleReader // nil: the content has no holes
}

func newSource(r io.Reader, raw any) source {
	h, _ := raw.(HoleReader)
	return source{r: r, holes: h}
}

// maxEmptyReads is how many reads in a row may return nothing before a
// reader is taken for broken, as bufio does.
const maxEmptyReads = 100

// stream scans one item's bytes in windows that overlap by Reach plus
// lineContext bytes. Each window "owns" the key starts in [own, end): the
// first window of a run of contiguous bytes owns from 0, later ones from
// lineContext (the bytes before are context); every window but the last of
// a run leaves its final Reach bytes to the next. So each start position
// is examined by exactly one window, always with the whole key and both of
// its boundaries in view. Bytes arrive by pull (read straight into the
// buffer) or push (write, for a container's bytes teed off on their way to
// the expander); a hole ends a run.
type stream struct {
	r    *run
	v    *view
	bp   *[]byte
	buf  []byte
	n    int   // bytes in buf
	base int64 // offset in the content of buf[0]
	own  int   // first owned byte of the next window
	ls   lineState
	// started is set once the first window is scanned and ls is known.
	started bool
	// startsWithHole is set when the content's first byte is in a hole.
	startsWithHole bool
}

func (r *run) newStream(ctx context.Context, it Item, lv level) *stream {
	bp := r.bufs.Get().(*[]byte)
	v := &view{ctx: ctx, sk: sink{it: it, to: lv.parent, raw: lv.raw}, lv: lv}
	return &stream{r: r, v: v, bp: bp, buf: *bp}
}

// release returns the buffer; the stream must not be used afterwards.
func (s *stream) release() {
	s.r.finishSpans(s.v)
	s.r.bufs.Put(s.bp)
	s.buf = nil
}

// pos is the content offset just past the bytes taken so far.
func (s *stream) pos() int64 { return s.base + int64(s.n) }

// holeTo records that the next bytes start at off: the bytes before it
// are a hole, so the run of contiguous bytes ends here.
func (s *stream) holeTo(off int64) {
	if off <= s.pos() {
		return
	}
	if s.pos() == 0 {
		s.startsWithHole = true
	} else if s.n > 0 {
		s.flush(true, false)
	}
	s.base, s.n, s.own = off, 0, 0
}

// write pushes p into the stream.
func (s *stream) write(p []byte) {
	for len(p) > 0 {
		if s.n == len(s.buf) {
			s.flush(false, false)
		}
		m := copy(s.buf[s.n:], p)
		s.n += m
		p = p[m:]
	}
}

// close scans what is left as the last window.
func (s *stream) close() {
	if s.n > 0 {
		s.flush(true, true)
	}
}

// flush scans the window buf[:n]. end says that no contiguous byte
// follows (the content ends, or a hole starts); last that nothing at all
// follows.
func (s *stream) flush(end, last bool) {
	w := s.buf[:s.n]
	if !s.started {
		s.started = true
		s.ls = newLineState(w)
		// Holes are zeros: content that starts with one, or has one in
		// its first 8,000 bytes, is binary, as git would find it.
		if s.ls.enc == encBytes && (s.startsWithHole || (end && !last && s.pos() < binarySniffLen)) {
			s.ls.binary = true
		}
	}
	ownEnd := s.n
	if !end {
		ownEnd = s.n - Reach
	}
	s.ls = s.r.scanWindow(s.v, w, s.base, s.own, ownEnd, s.ls, end, last)
	if end {
		s.base, s.n, s.own = s.pos(), 0, 0
		return
	}
	// Keep the context and the unowned tail for the next window.
	keep := lineContext + Reach
	copy(s.buf, s.buf[s.n-keep:s.n])
	s.base += int64(s.n - keep)
	s.n = keep
	s.own = lineContext
}

// fill reads from src straight into the buffer. With head set it stops
// when the buffer is full (the first window, which a container is
// recognised from), else it reads to the end, scanning window by window.
// It also stops when a hole follows the first bytes of a head. Bytes that
// arrive with an error are taken before the error is returned. eof
// reports a clean end of the content.
func (s *stream) fill(ctx context.Context, src source, head bool) (eof bool, err error) {
	empty := 0
	for {
		if s.n == len(s.buf) {
			if head {
				return false, nil
			}
			if err := ctx.Err(); err != nil {
				return false, err
			}
			s.flush(false, false)
		}
		if src.holes != nil {
			if off := src.holes.DataOffset(); off > s.pos() {
				if head && s.n > 0 {
					return false, nil
				}
				s.holeTo(off)
			}
		}
		m, err := src.r.Read(s.buf[s.n:])
		s.n += m
		s.r.bytes.Add(int64(m))
		switch {
		case err == io.EOF:
			return true, nil
		case err != nil:
			return false, &readError{at: s.pos(), err: err}
		case m > 0:
			empty = 0
		default:
			if empty++; empty > maxEmptyReads {
				return false, &readError{at: s.pos(), err: io.ErrNoProgress}
			}
		}
	}
}

// readError is a read that failed at a byte offset of the content.
type readError struct {
	at  int64
	err error
}

func (e *readError) Error() string { return fmt.Sprintf("read error at byte %d: %v", e.at, e.err) }
func (e *readError) Unwrap() error { return e.err }

// drain reads src to its end and scans every byte, as fill without head
// does, then scans the last window. It returns the read error, if any,
// after the bytes that came with it were scanned.
func (s *stream) drain(ctx context.Context, src source) error {
	_, err := s.fill(ctx, src, false)
	s.close()
	return err
}
