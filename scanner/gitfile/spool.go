package gitfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// spool keeps the bytes of the stream a pack is read from, so an object
// already passed can be inflated again from its offset (a delta base that
// fell out of memory). It records from the stream's first byte: in memory
// up to memMax bytes, then in a temporary file in os.TempDir(), removed by
// close, up to max bytes in all. Past max (or when the temporary file
// cannot be written) it stops recording, and has reports which offsets it
// still covers.
type spool struct {
	r      io.Reader
	read   int64 // bytes read from r
	n      int64 // bytes recorded: stream offsets [0, n)
	memMax int64
	max    int64
	stop   bool
	why    string // why recording stopped

	// mem holds the bytes in chunks that grow from 64 KiB to 4 MiB: no
	// copying as it grows, and a small pack costs little.
	mem [][]byte
	f   *os.File
	w   *bufio.Writer
}

func newSpool(r io.Reader, memMax, max int64) *spool {
	return &spool{r: r, memMax: memMax, max: max}
}

// Read implements io.Reader, recording what it returns.
func (s *spool) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.read += int64(n)
		s.record(p[:n])
	}
	return n, err
}

func (s *spool) record(b []byte) {
	switch {
	case s.stop:
		return
	case s.n+int64(len(b)) > s.max:
		s.halt(fmt.Sprintf("the pack is larger than the %d bytes kept for rebuilding objects", s.max))
		return
	case s.f == nil && s.n+int64(len(b)) <= s.memMax:
		s.hold(b)
		s.n += int64(len(b))
		return
	case s.f == nil:
		if err := s.toFile(); err != nil {
			s.halt(err.Error())
			return
		}
	}
	if _, err := s.w.Write(b); err != nil {
		s.halt(fmt.Sprintf("cannot write the pack to a temporary file: %v", err))
		return
	}
	s.n += int64(len(b))
}

// toFile moves what is held in memory to a temporary file.
func (s *spool) toFile() error {
	f, err := os.CreateTemp("", "xaiscan-pack-*")
	if err != nil {
		return fmt.Errorf("cannot keep the pack in a temporary file: %w", err)
	}
	s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
	for _, c := range s.mem {
		if _, err := s.w.Write(c); err != nil {
			return fmt.Errorf("cannot write the pack to a temporary file: %w", err)
		}
	}
	s.mem = nil
	return nil
}

// hold appends b to the chunks in memory.
func (s *spool) hold(b []byte) {
	for len(b) > 0 {
		last := len(s.mem) - 1
		if last < 0 || len(s.mem[last]) == cap(s.mem[last]) {
			size := 64 << 10
			if last >= 0 {
				size = min(2*cap(s.mem[last]), 4<<20)
			}
			s.mem = append(s.mem, make([]byte, 0, size))
			last++
		}
		c := s.mem[last]
		n := min(len(b), cap(c)-len(c))
		s.mem[last] = append(c, b[:n]...)
		b = b[n:]
	}
}

// readMem copies the held bytes at off into p.
func (s *spool) readMem(p []byte, off int64) int {
	n := 0
	for _, c := range s.mem {
		if len(p) == 0 {
			break
		}
		if off >= int64(len(c)) {
			off -= int64(len(c))
			continue
		}
		k := copy(p, c[off:])
		p, n, off = p[k:], n+k, 0
	}
	return n
}

func (s *spool) halt(why string) {
	s.stop, s.why = true, why
}

// has reports whether stream offsets below end are recorded.
func (s *spool) has(end int64) bool { return end <= s.n }

// ReadAt implements io.ReaderAt over the recorded bytes.
func (s *spool) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.n {
		return 0, io.EOF
	}
	short := false
	if int64(len(p)) > s.n-off {
		p, short = p[:s.n-off], true
	}
	var n int
	var err error
	if s.f == nil {
		n = s.readMem(p, off)
	} else {
		if err = s.w.Flush(); err != nil {
			return 0, fmt.Errorf("temporary file of the pack: %w", err)
		}
		n, err = s.f.ReadAt(p, off)
	}
	if err == nil && short {
		err = io.EOF
	}
	return n, err
}

// close removes the temporary file, if any.
func (s *spool) close() {
	s.mem = nil
	if s.f != nil {
		s.f.Close()
		os.Remove(s.f.Name())
		s.f = nil
	}
}
