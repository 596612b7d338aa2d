//go:build linux || darwin || freebsd

package files

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sparseCheckAfter is how much of a file is read before it is checked
// for holes: a smaller file costs no more than its size whatever it holds,
// so most files (small) cost no extra system call.
const sparseCheckAfter = 1 << 20

// openFile opens a regular file for scanning, as a file that skips its
// holes once it proves large and sparse.
func openFile(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return &file{File: f}, nil
}

// file reads a file front to back. Past its first sparseCheckAfter bytes
// it asks whether the file may have holes (fewer blocks allocated than its
// size needs) and whether the filesystem says where they are (SEEK_HOLE);
// if so, it reads the data regions only, as a sparseFile.
type file struct {
	*os.File
	pos     int64
	checked bool
	holes   *sparseFile
}

func (f *file) Read(p []byte) (int, error) {
	if f.holes != nil {
		return f.holes.Read(p)
	}
	n, err := f.File.Read(p)
	f.pos += int64(n)
	if !f.checked && f.pos >= sparseCheckAfter {
		f.checked = true
		f.holes = findHoles(f.File, f.pos)
	}
	return n, err
}

// DataOffset implements scanner.HoleReader.
func (f *file) DataOffset() int64 {
	if f.holes != nil {
		return f.holes.DataOffset()
	}
	return f.pos
}

// findHoles returns a sparseFile reading f from pos, or nil when f has no
// hole past pos that the system can find (no SEEK_HOLE: EINVAL).
func findHoles(f *os.File, pos int64) *sparseFile {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int64(sys.Blocks)*512 >= st.Size() {
		return nil
	}
	hole, err := f.Seek(pos, unix.SEEK_HOLE)
	if err != nil || hole >= st.Size() {
		if _, err := f.Seek(pos, io.SeekStart); err != nil {
			return &sparseFile{File: f, size: st.Size(), pos: pos, err: err}
		}
		return nil
	}
	return &sparseFile{File: f, size: st.Size(), pos: pos, end: hole}
}

// sparseFile reads a file's data regions and reports where each starts
// (scanner.HoleReader), so its holes are skipped: a 50 GB sparse file with
// a few bytes of data costs a few reads. It reads with ReadAt and keeps
// its own position; ReadAt and Stat serve zip's random access unchanged.
type sparseFile struct {
	*os.File
	size int64
	pos  int64 // offset of the next byte to read
	end  int64 // end of the data region holding pos (<= pos: look it up)
	err  error
}

// DataOffset implements scanner.HoleReader.
func (s *sparseFile) DataOffset() int64 {
	s.locate()
	return s.pos
}

// locate finds the data region at or after pos.
func (s *sparseFile) locate() {
	if s.end > s.pos || s.err != nil {
		return
	}
	data, err := s.Seek(s.pos, unix.SEEK_DATA)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) {
			// Only a hole is left.
			s.pos, s.end, s.err = s.size, s.size, io.EOF
			return
		}
		s.err = err
		return
	}
	hole, err := s.Seek(data, unix.SEEK_HOLE)
	if err != nil {
		s.err = err
		return
	}
	s.pos, s.end = data, hole
}

func (s *sparseFile) Read(p []byte) (int, error) {
	s.locate()
	if s.err != nil {
		return 0, s.err
	}
	if int64(len(p)) > s.end-s.pos {
		p = p[:s.end-s.pos]
	}
	n, err := s.ReadAt(p, s.pos)
	s.pos += int64(n)
	if err == io.EOF && s.pos < s.end {
		// The file shrank while it was read.
		s.end = s.pos
		err = nil
	}
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}
