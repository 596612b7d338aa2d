package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
)

// Zip record signatures.
var (
	sigLocal      = []byte("PK\x03\x04")
	sigDescriptor = []byte("PK\x07\x08")
	sigCentral    = []byte("PK\x01\x02")
)

// zipLocal expands a zip front to back from its local file headers, for a
// zip whose central directory is missing or unreadable (truncated,
// corrupt). Members written with a data descriptor (sizes after the data)
// are read too: deflate data ends by itself; stored data ends where a
// descriptor that matches its length follows. Bytes that are no local
// header are skipped to the next one. It returns the first damage met.
func (x *expansion) zipLocal(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var damage error
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		sig, err := br.Peek(4)
		switch {
		case len(sig) < 4 && (err == io.EOF || err == nil):
			return firstErr(damage, formatError{"truncated zip archive (no central directory)"})
		case len(sig) < 4:
			return err
		case bytes.Equal(sig, sigLocal):
			err = x.localMember(br)
		case bytes.Equal(sig, sigDescriptor):
			// A descriptor left over from a member read past: skip it.
			_, err = br.Discard(4)
		case isDirectoryRecord(sig):
			// Central directory or its end: every member before it was read.
			return damage
		default:
			damage = firstErr(damage, formatError{"bytes that are no zip record between members"})
			err = skipTo(br, sigLocal)
		}
		switch {
		case err == io.EOF:
			return firstErr(damage, formatError{"truncated zip archive (no central directory)"})
		case err == nil:
		case isMalformed(err):
			damage = firstErr(damage, err)
			if err := skipTo(br, sigLocal); err != nil {
				return firstErr(damage, formatError{"truncated zip archive"})
			}
		default:
			return err
		}
	}
}

// isDirectoryRecord reports the signature of a central directory record
// or of an end of central directory record (zip64 ones included).
func isDirectoryRecord(sig []byte) bool {
	switch string(sig) {
	case "PK\x01\x02", "PK\x05\x06", "PK\x06\x06", "PK\x06\x07":
		return true
	}
	return false
}

// localHeader is a zip local file header.
type localHeader struct {
	name         string
	flags        uint16
	method       uint16
	csize, usize int64
	zip64        bool
}

func (h localHeader) descriptor() bool { return h.flags&0x8 != 0 }

// readLocalHeader reads a local file header (its signature included).
func readLocalHeader(br *bufio.Reader) (localHeader, error) {
	var b [30]byte
	if _, err := io.ReadFull(br, b[:]); err != nil {
		return localHeader{}, readError("zip archive", err)
	}
	le := binary.LittleEndian
	h := localHeader{flags: le.Uint16(b[6:]), method: le.Uint16(b[8:]),
		csize: int64(le.Uint32(b[18:])), usize: int64(le.Uint32(b[22:]))}
	rest := make([]byte, int(le.Uint16(b[26:]))+int(le.Uint16(b[28:])))
	if _, err := io.ReadFull(br, rest); err != nil {
		return localHeader{}, readError("zip archive", err)
	}
	nameLen := int(le.Uint16(b[26:]))
	h.name = string(rest[:nameLen])
	// Zip64: the real sizes are in extra field 0x0001.
	for extra := rest[nameLen:]; len(extra) >= 4; {
		tag, size := le.Uint16(extra), int(le.Uint16(extra[2:]))
		if 4+size > len(extra) {
			break
		}
		field := extra[4 : 4+size]
		if tag == 0x0001 {
			h.zip64 = true
			if h.usize == 0xFFFFFFFF && len(field) >= 8 {
				h.usize, field = int64(le.Uint64(field)), field[8:]
			}
			if h.csize == 0xFFFFFFFF && len(field) >= 8 {
				h.csize = int64(le.Uint64(field))
			}
		}
		extra = extra[4+size:]
	}
	if h.csize < 0 || h.usize < 0 {
		return localHeader{}, formatError{"corrupt zip local header (size out of range)"}
	}
	return h, nil
}

// localMember reads one member at a local header.
func (x *expansion) localMember(br *bufio.Reader) error {
	h, err := readLocalHeader(br)
	if err != nil {
		return err
	}
	dir := strings.HasSuffix(h.name, "/")
	if dir || x.undecodable(h.name, h.flags, h.method) {
		if h.descriptor() && !dir {
			return formatError{"zip member " + h.name + " cannot be skipped without its central directory"}
		}
		_, err := io.CopyN(io.Discard, br, h.csize)
		return readError("zip archive", err)
	}
	var data io.Reader
	var sized *io.LimitedReader
	switch {
	case !h.descriptor():
		sized = &io.LimitedReader{R: br, N: h.csize}
		data = &truncReader{r: sized, n: sized}
	case h.method == 0:
		data = &storedDD{br: br, zip64: h.zip64}
	default:
		// Deflate ends by itself, and br is a ByteReader, so flate reads
		// no further. (bzip2 peeks past its end for a next stream: into
		// the descriptor, which is then damage, after the whole member.)
		data = br
	}
	switch h.method {
	case 8:
		data = flate.NewReader(data)
	case zipBzip2:
		data = bzip2.NewReader(data)
	}
	if err := x.member(h.name, func() (io.Reader, error) { return &mapReader{r: data, format: "zip member"}, nil }); err != nil {
		return err
	}
	if sized != nil {
		_, err := io.Copy(io.Discard, sized)
		return readError("zip archive", err)
	}
	if h.method != 0 {
		return skipDescriptor(br, h.zip64)
	}
	return nil
}

// truncReader reports a member cut short by the end of the archive.
type truncReader struct {
	r io.Reader
	n *io.LimitedReader
}

func (t *truncReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err == io.EOF && t.n.N > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// skipDescriptor skips the data descriptor after a deflated member: an
// optional signature, the CRC and both sizes.
func skipDescriptor(br *bufio.Reader, zip64 bool) error {
	if sig, _ := br.Peek(4); bytes.Equal(sig, sigDescriptor) {
		br.Discard(4)
	}
	n := 12
	if zip64 {
		n = 20
	}
	_, err := br.Discard(n)
	return readError("zip archive", err)
}

// storedDD reads a stored member whose size is only in the data
// descriptor after it: its data ends where a descriptor follows whose
// sizes equal the bytes read (with its signature, or without one and then
// followed by the next record).
type storedDD struct {
	br    *bufio.Reader
	zip64 bool
	n     int64 // data bytes returned so far
	found bool  // the descriptor was found, left bytes before it
	left  int64
	done  bool
}

// ddLookBack is how many bytes at the end of what is buffered are held
// back until more follow: a descriptor starting there cannot be checked.
const ddLookBack = 64

func (s *storedDD) Read(p []byte) (int, error) {
	if s.done {
		return 0, io.EOF
	}
	buf, perr := s.br.Peek(s.br.Size())
	atEnd := perr != nil // buf holds all that is left
	if !s.found {
		if end, ok := s.descriptorAt(buf); ok {
			s.found, s.left = true, int64(end)
		}
	}
	avail := len(buf)
	switch {
	case s.found:
		avail = int(min(int64(avail), s.left))
	case !atEnd:
		avail -= ddLookBack
	}
	if avail <= 0 {
		if s.found {
			s.done = true
			return 0, s.finish()
		}
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, buf[:avail])
	s.br.Discard(n)
	s.n += int64(n)
	s.left -= int64(n)
	return n, nil
}

// finish consumes the descriptor; io.EOF ends the member.
func (s *storedDD) finish() error {
	if sig, _ := s.br.Peek(4); bytes.Equal(sig, sigDescriptor) {
		s.br.Discard(4)
	}
	n := 12
	if s.zip64 {
		n = 20
	}
	if _, err := s.br.Discard(n); err != nil {
		return io.ErrUnexpectedEOF
	}
	return io.EOF
}

// descriptorAt finds where the member's data ends in buf (the bytes after
// the s.n returned so far): before a descriptor whose sizes match.
func (s *storedDD) descriptorAt(buf []byte) (int, bool) {
	sizeLen := 4
	if s.zip64 {
		sizeLen = 8
	}
	for i := 0; i < len(buf); {
		j := bytes.Index(buf[i:], []byte("PK"))
		if j < 0 {
			break
		}
		j += i
		switch rest := buf[j:]; {
		case bytes.HasPrefix(rest, sigDescriptor):
			if s.sizesMatch(buf, j+8, j, sizeLen) {
				return j, true
			}
		case bytes.HasPrefix(rest, sigLocal), bytes.HasPrefix(rest, sigCentral):
			// A descriptor without its signature just before the next record.
			if at := j - 4 - 2*sizeLen; at >= 0 && s.sizesMatch(buf, at+4, at, sizeLen) {
				return at, true
			}
		}
		i = j + 1
	}
	return 0, false
}

// sizesMatch reports that the two sizes at buf[at:] both equal the data
// length if the data ends at end.
func (s *storedDD) sizesMatch(buf []byte, at, end, sizeLen int) bool {
	if at+2*sizeLen > len(buf) {
		return false
	}
	le := binary.LittleEndian
	want := uint64(s.n + int64(end))
	var c, u uint64
	if sizeLen == 8 {
		c, u = le.Uint64(buf[at:]), le.Uint64(buf[at+8:])
	} else {
		c, u, want = uint64(le.Uint32(buf[at:])), uint64(le.Uint32(buf[at+4:])), want&0xFFFFFFFF
	}
	return c == want && u == want
}

// skipTo discards bytes until sig is next (or the input ends: io.EOF).
func skipTo(br *bufio.Reader, sig []byte) error {
	if _, err := br.Discard(1); err != nil {
		return err
	}
	for {
		buf, err := br.Peek(br.Size())
		if i := bytes.Index(buf, sig); i >= 0 {
			_, err := br.Discard(i)
			return err
		}
		if err != nil {
			if len(buf) == 0 {
				return err
			}
			br.Discard(len(buf))
			return io.EOF
		}
		br.Discard(len(buf) - len(sig) + 1)
	}
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func isMalformed(err error) bool { return errors.Is(err, scanner.ErrMalformed) }
