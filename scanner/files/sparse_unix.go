//go:build linux || darwin || freebsd

package files

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openFile opens a regular file for scanning. A file that may have holes
// (fewer blocks allocated than its size needs) and whose filesystem says
// where they are (SEEK_HOLE) is read as a sparseFile, data regions only;
// any other file is the *os.File itself.
func openFile(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return f, nil
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int64(sys.Blocks)*512 >= st.Size() {
		return f, nil
	}
	hole, err := f.Seek(0, unix.SEEK_HOLE)
	if err != nil || hole >= st.Size() {
		// No hole, or no way to find them (EINVAL on filesystems without
		// SEEK_HOLE): read it all.
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	return &sparseFile{File: f, size: st.Size(), end: -1}, nil
}

// sparseFile reads a file's data regions and reports where each starts
// (scanner.HoleReader), so its holes are skipped: a 50 GB sparse file with
// a few bytes of data costs a few reads. It reads with ReadAt and keeps
// its own position; ReadAt and Stat serve zip's random access unchanged.
type sparseFile struct {
	*os.File
	size int64
	pos  int64 // offset of the next byte to read
	end  int64 // end of the data region holding pos; -1: not looked up
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
