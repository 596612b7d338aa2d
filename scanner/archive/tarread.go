package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// tarReader reads a tar stream entry by entry: V7, ustar, PAX, GNU and
// star headers, GNU long names, and GNU sparse members in all their
// encodings (the old GNU header map with its extension blocks, PAX 0.0,
// 0.1 and 1.0). It is this package's own rather than archive/tar because
// archive/tar hides sparse maps (it reads holes back as zeros, so a 2.5 KB
// archive can make it produce 512 MB), and stops at the first damaged
// header where this reader skips to the next valid one, as GNU tar does.
type tarReader struct {
	r    io.Reader
	off  int64 // stream offset of the next byte
	blk  [blockSize]byte
	data *tarData // the current entry's data, until next
	pad  int64
	// damage is the first damage met; reading goes on past it.
	damage error
	// trailing is set when non-zero bytes that are no header follow the
	// end-of-archive marker; blk holds their first block.
	trailing bool
	// empty, if set, is told the name of each entry without data (its
	// name is scanned all the same: names.go).
	empty func(name string)
}

const (
	blockSize = 512
	// maxMeta bounds a PAX header or GNU long name held in memory.
	maxMeta = 1 << 20
	// maxFragments bounds a sparse map held in memory.
	maxFragments = 1 << 20
)

func newTarReader(r io.Reader) *tarReader { return &tarReader{r: r} }

// tarEntry is one entry with data to scan.
type tarEntry struct {
	name string
	data *tarData
}

// fragment is one stored run of a sparse member: length bytes at offset.
type fragment struct{ offset, length int64 }

func (f fragment) end() int64 { return f.offset + f.length }

// meta collects what the headers before an entry's own say about it.
type meta struct {
	longName string
	pax      map[string]string
	// sparse00 holds PAX 0.0's GNU.sparse.offset/numbytes records in order.
	sparse00 []string
}

func (t *tarReader) damaged(msg string) {
	if t.damage == nil {
		t.damage = formatError{msg}
	}
}

// next returns the next entry with data; io.EOF at the end of the archive.
// Entries without data (directories, links, devices) are passed over.
func (t *tarReader) next() (*tarEntry, error) {
	if err := t.skipData(); err != nil {
		return nil, err
	}
	var m meta
	for {
		h, err := t.header()
		if err != nil {
			return nil, err
		}
		switch h.typeflag {
		case 'x', 'g', 'L', 'K':
			if err := t.readMeta(h, &m); err != nil {
				return nil, err
			}
			continue
		}
		e, err := t.entry(h, &m)
		if e != nil || err != nil {
			return e, err
		}
		m = meta{}
	}
}

// header reads the next valid header block. Blocks that are not one are
// damage, skipped to the next valid header. A zero block ends the archive
// (errEnd is turned into io.EOF, or into the next header of an archive
// concatenated after this one).
func (t *tarReader) header() (tarHeader, error) {
	skipping := false
	for {
		at := t.off
		if err := t.readBlock(); err != nil {
			if err == io.EOF {
				return tarHeader{}, io.EOF // no end marker: accepted, as tar does
			}
			return tarHeader{}, err
		}
		if !skipping && isZeros(t.blk[:]) {
			return t.afterEnd()
		}
		if h, ok := parseTarHeader(&t.blk); ok {
			return h, nil
		}
		if !skipping {
			t.damaged(fmt.Sprintf("corrupt tar header at byte %d (skipped to the next valid header)", at))
			skipping = true
		}
	}
}

// afterEnd reads past the end-of-archive marker: zero blocks (padding),
// then the end of the input, or another archive's first header.
func (t *tarReader) afterEnd() (tarHeader, error) {
	for zeros := 0; zeros < maxPadding/blockSize; zeros++ {
		if err := t.readBlock(); err != nil {
			if err == io.EOF || errors.Is(err, errPartialBlock) {
				return tarHeader{}, io.EOF
			}
			return tarHeader{}, err
		}
		if isZeros(t.blk[:]) {
			continue
		}
		if h, ok := parseTarHeader(&t.blk); ok {
			return h, nil
		}
		t.trailing = true
		return tarHeader{}, io.EOF
	}
	// A long run of zeros: padding, as far as it was checked (the engine
	// scans what follows raw).
	return tarHeader{}, io.EOF
}

var errPartialBlock = formatError{"truncated tar archive"}

// readBlock reads one block: io.EOF if the input ended exactly before it.
func (t *tarReader) readBlock() error {
	n, err := io.ReadFull(t.r, t.blk[:])
	t.off += int64(n)
	switch {
	case err == nil:
		return nil
	case err == io.EOF:
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		return errPartialBlock
	}
	return readError("tar archive", err)
}

// readMeta reads a PAX header or a GNU long name or link into m.
func (t *tarReader) readMeta(h tarHeader, m *meta) error {
	if h.size > maxMeta {
		t.damaged(fmt.Sprintf("tar %s header of %d bytes ignored (longer than %d)", metaName(h.typeflag), h.size, maxMeta))
		t.data = &tarData{t: t, left: h.size}
		t.pad = padding(h.size)
		return t.skipData()
	}
	buf := make([]byte, h.size)
	n, err := io.ReadFull(t.r, buf)
	t.off += int64(n)
	if err != nil {
		return readError("tar archive", err)
	}
	t.pad = padding(h.size)
	if err := t.skipData(); err != nil {
		return err
	}
	switch h.typeflag {
	case 'x':
		if err := parsePAX(buf, m); err != nil {
			t.damaged("corrupt PAX header: " + err.Error())
		}
	case 'L':
		m.longName = cString(buf)
	}
	return nil
}

func metaName(typeflag byte) string {
	if typeflag == 'L' || typeflag == 'K' {
		return "GNU long name"
	}
	return "PAX"
}

// headerOnly reports the entry types whose size field never describes a
// data section.
func headerOnly(typeflag byte) bool {
	return typeflag >= '1' && typeflag <= '6'
}

// entry turns a header and the metadata before it into an entry. It
// returns nil, nil for an entry without data.
func (t *tarReader) entry(h tarHeader, m *meta) (*tarEntry, error) {
	name := h.name
	if m.longName != "" {
		name = m.longName
	}
	size := h.size
	if v, ok := m.pax["path"]; ok && v != "" {
		name = v
	}
	if v, ok := m.pax["size"]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			size = n
		} else {
			t.damaged(fmt.Sprintf("tar entry %s: bad PAX size %q", name, v))
		}
	}
	if v := m.pax["GNU.sparse.name"]; v != "" {
		name = v
	}
	if headerOnly(h.typeflag) || (h.typeflag == 0 && strings.HasSuffix(name, "/")) {
		size = 0
	}
	t.pad = padding(size)
	d := &tarData{t: t, left: size}
	t.data = d
	if err := t.sparseMap(h, m, name, d); err != nil {
		return nil, err
	}
	if d.left == 0 {
		if t.empty != nil {
			t.empty(name)
		}
		return nil, nil // nothing stored (an all-hole sparse file has no data)
	}
	return &tarEntry{name: name, data: d}, nil
}

// skipData discards what is left of the current entry's data and its
// padding.
func (t *tarReader) skipData() error {
	if t.data != nil {
		n, err := io.CopyN(io.Discard, t.r, t.data.left)
		t.off += n
		t.data.left -= n
		t.data = nil
		if err != nil {
			return readError("tar archive", err)
		}
	}
	if t.pad > 0 {
		n, err := io.CopyN(io.Discard, t.r, t.pad)
		t.off += n
		t.pad = 0
		if err != nil {
			if err == io.EOF {
				return io.EOF // the last entry's padding is missing: nothing lost
			}
			return readError("tar archive", err)
		}
	}
	return nil
}

func padding(size int64) int64 { return -size & (blockSize - 1) }

// tarData reads an entry's data from the stream. For a sparse member it
// reads the stored fragments and reports each one's place in the member
// (sparseData); the holes between them are never produced.
type tarData struct {
	t     *tarReader
	left  int64      // bytes of the data section not yet read
	frags []fragment // nil: not sparse
	i     int        // current fragment
	pos   int64      // offset in the member of the next byte
}

func (d *tarData) Read(p []byte) (int, error) {
	limit := d.left
	if d.frags != nil {
		d.advance()
		if d.i == len(d.frags) {
			return 0, io.EOF
		}
		limit = min(limit, d.frags[d.i].end()-d.pos)
	}
	if limit <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > limit {
		p = p[:limit]
	}
	n, err := d.t.r.Read(p)
	d.left -= int64(n)
	d.pos += int64(n)
	d.t.off += int64(n)
	switch {
	case err == io.EOF && d.left > 0:
		err = formatError{"truncated tar archive"}
	case err == io.EOF:
		err = nil
	case err != nil:
		err = readError("tar archive", err)
	}
	return n, err
}

// advance moves to the fragment holding pos, or to the start of the next.
func (d *tarData) advance() {
	for d.i < len(d.frags) && d.pos >= d.frags[d.i].end() {
		d.i++
	}
	if d.i < len(d.frags) && d.pos < d.frags[d.i].offset {
		d.pos = d.frags[d.i].offset
	}
}

// sparseData is a sparse member's data as a scanner.HoleReader.
type sparseData struct{ *tarData }

// DataOffset implements scanner.HoleReader.
func (s sparseData) DataOffset() int64 {
	s.advance()
	return s.pos
}

// reader returns the entry's data for scanning.
func (e *tarEntry) reader() io.Reader {
	if e.data.frags != nil {
		return sparseData{e.data}
	}
	return e.data
}

// isZeros reports a block of zeros.
func isZeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
