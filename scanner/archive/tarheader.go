package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// tarHeader is what one header block says.
type tarHeader struct {
	name     string
	typeflag byte
	size     int64
	// Old GNU sparse members ('S'): the first map entries, whether
	// extension blocks follow, and the member's real size.
	sparse    []fragment
	extended  bool
	realSize  int64
	sparseBad bool
	gnuSparse bool
}

// parseTarHeader parses a header block; ok is false when it is no valid
// header (bad checksum, unparsable size).
func parseTarHeader(b *[blockSize]byte) (h tarHeader, ok bool) {
	if !checksumOK(b) {
		return tarHeader{}, false
	}
	var p numParser
	h = tarHeader{typeflag: b[156], name: cString(b[0:100])}
	h.size = p.numeric(b[124:136])
	if p.err || h.size < 0 {
		return tarHeader{}, false
	}
	magic, version := string(b[257:263]), string(b[263:265])
	switch {
	case magic == "ustar\x00" && string(b[508:512]) == "tar\x00": // star
		h.name = joinPrefix(cString(b[345:476]), h.name)
	case magic == "ustar\x00":
		h.name = joinPrefix(cString(b[345:500]), h.name)
	case magic == "ustar " && version == " \x00" && h.typeflag == 'S':
		h.gnuSparse = true
		h.parseOldSparse(b[386:483])
		var q numParser
		h.realSize = q.numeric(b[483:495])
		h.sparseBad = h.sparseBad || q.err
	}
	return h, true
}

func joinPrefix(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// parseOldSparse reads map entries (offset, length: 12 bytes each) up to
// the first empty one, then the "is extended" flag that follows them.
func (h *tarHeader) parseOldSparse(b []byte) {
	n := (len(b) - 1) / 24
	var p numParser
	for i := 0; i < n; i++ {
		e := b[i*24:]
		if e[0] == 0 {
			break
		}
		h.sparse = append(h.sparse, fragment{p.numeric(e[:12]), p.numeric(e[12:24])})
	}
	h.extended = b[n*24] != 0
	h.sparseBad = h.sparseBad || p.err
}

// checksumOK verifies a header's checksum, computed as unsigned or (as
// some old tars did) signed bytes, with the checksum field as spaces.
func checksumOK(b *[blockSize]byte) bool {
	var p numParser
	want := p.octal(b[148:156])
	if p.err {
		return false
	}
	var u, s int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		u += int64(c)
		s += int64(int8(c))
	}
	return want == u || want == s
}

// numParser parses tar's numeric fields, remembering whether one failed.
type numParser struct{ err bool }

// numeric parses an octal field, or a base-256 one (GNU: high bit set).
func (p *numParser) numeric(b []byte) int64 {
	if len(b) == 0 || b[0]&0x80 == 0 {
		return p.octal(b)
	}
	var inv byte
	if b[0]&0x40 != 0 {
		inv = 0xff
	}
	var x uint64
	for i, c := range b {
		c ^= inv
		if i == 0 {
			c &= 0x7f
		}
		if x>>56 != 0 {
			p.err = true
			return 0
		}
		x = x<<8 | uint64(c)
	}
	if x>>63 != 0 {
		p.err = true
		return 0
	}
	if inv == 0xff {
		return ^int64(x)
	}
	return int64(x)
}

func (p *numParser) octal(b []byte) int64 {
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0
	}
	v, err := strconv.ParseUint(s, 8, 63)
	if err != nil {
		p.err = true
		return 0
	}
	return int64(v)
}

// parsePAX reads PAX records ("LEN key=value\n") into m.
func parsePAX(data []byte, m *meta) error {
	if m.pax == nil {
		m.pax = map[string]string{}
	}
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return errors.New("record without a length")
		}
		n, err := strconv.Atoi(string(data[:sp]))
		if err != nil || n <= sp+1 || n > len(data) {
			return errors.New("bad record length")
		}
		rec := data[sp+1 : n]
		data = data[n:]
		if rec[len(rec)-1] != '\n' {
			return errors.New("record not ended by a newline")
		}
		k, v, ok := strings.Cut(string(rec[:len(rec)-1]), "=")
		if !ok {
			return errors.New("record without '='")
		}
		if k == "GNU.sparse.offset" || k == "GNU.sparse.numbytes" {
			m.sparse00 = append(m.sparse00, v)
			continue
		}
		m.pax[k] = v
	}
	return nil
}

// sparseMap finds an entry's sparse map, if it has one, and sets d up to
// read its fragments. A map that cannot be used is damage: the data
// section is then read as it is, contiguous (every stored byte is still
// scanned; only positions and the joins between fragments are off).
func (t *tarReader) sparseMap(h tarHeader, m *meta, name string, d *tarData) error {
	var frags []fragment
	var real int64
	var err error
	switch {
	case h.gnuSparse:
		frags, err = t.oldSparseMap(h)
		real = h.realSize
		if h.sparseBad {
			err = firstErr(err, errors.New("unparsable map entry"))
		}
	case m.pax["GNU.sparse.major"] == "1" && m.pax["GNU.sparse.minor"] == "0":
		frags, err = t.sparseMap10(d)
		real, _ = strconv.ParseInt(m.pax["GNU.sparse.realsize"], 10, 64)
	case m.pax["GNU.sparse.map"] != "" || len(m.sparse00) > 0 || m.pax["GNU.sparse.numblocks"] != "":
		frags, err = sparseMap0x(m)
		size := m.pax["GNU.sparse.size"]
		if size == "" {
			size = m.pax["GNU.sparse.realsize"]
		}
		real, _ = strconv.ParseInt(size, 10, 64)
	default:
		return nil
	}
	if err == nil {
		err = checkFragments(frags, real, d.left)
	}
	if err != nil {
		if !errors.Is(err, errTarSource) {
			t.damaged(fmt.Sprintf("tar member %s: sparse map not usable (%v): its data was scanned as stored", name, err))
			return nil
		}
		return errors.Unwrap(err)
	}
	if frags == nil {
		frags = []fragment{}
	}
	d.frags = frags
	return nil
}

// errTarSource wraps a read error met while reading a sparse map.
var errTarSource = errors.New("tar source")

type sourceErr struct{ err error }

func (s sourceErr) Error() string        { return s.err.Error() }
func (s sourceErr) Unwrap() error        { return s.err }
func (s sourceErr) Is(target error) bool { return target == errTarSource }

// oldSparseMap completes an old GNU sparse map from its extension blocks.
func (t *tarReader) oldSparseMap(h tarHeader) ([]fragment, error) {
	frags := h.sparse
	var bad error
	for ext := h.extended; ext; {
		if err := t.readBlock(); err != nil {
			if err == io.EOF {
				err = errPartialBlock
			}
			return nil, sourceErr{err}
		}
		var eh tarHeader
		eh.parseOldSparse(t.blk[:505])
		if eh.sparseBad {
			bad = errors.New("unparsable map entry")
		}
		if len(frags)+len(eh.sparse) > maxFragments {
			bad = fmt.Errorf("more than %d fragments", maxFragments)
		} else if bad == nil {
			frags = append(frags, eh.sparse...)
		}
		ext = eh.extended
	}
	return frags, bad
}

// sparseMap10 reads a PAX 1.0 map from the start of the data section:
// decimal numbers, one per line (the count, then offset and length of
// each fragment), padded to a whole block.
func (t *tarReader) sparseMap10(d *tarData) ([]fragment, error) {
	var nums []int64
	need := int64(1)
	var cur []byte
	for int64(len(nums)) < need {
		if d.left < blockSize {
			return nil, errors.New("map longer than the data section")
		}
		if err := t.readBlock(); err != nil {
			if err == io.EOF {
				err = errPartialBlock
			}
			return nil, sourceErr{err}
		}
		d.left -= blockSize
		t.pad = padding(d.left)
		for _, c := range t.blk {
			if int64(len(nums)) >= need {
				break
			}
			if c != '\n' {
				cur = append(cur, c)
				if len(cur) > 20 {
					return nil, errors.New("number too long")
				}
				continue
			}
			v, err := strconv.ParseInt(string(cur), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("bad number %q", cur)
			}
			cur = cur[:0]
			nums = append(nums, v)
			if len(nums) == 1 {
				if v > maxFragments {
					return nil, fmt.Errorf("more than %d fragments", maxFragments)
				}
				need = 1 + 2*v
			}
		}
	}
	frags := make([]fragment, 0, len(nums)/2)
	for i := 1; i+1 < len(nums); i += 2 {
		frags = append(frags, fragment{nums[i], nums[i+1]})
	}
	return frags, nil
}

// sparseMap0x reads a PAX 0.0 or 0.1 map from the PAX records.
func sparseMap0x(m *meta) ([]fragment, error) {
	var fields []string
	if len(m.sparse00) > 0 {
		fields = m.sparse00
	} else if s := m.pax["GNU.sparse.map"]; s != "" {
		fields = strings.Split(s, ",")
	}
	if len(fields)%2 != 0 {
		return nil, errors.New("odd number of map fields")
	}
	if len(fields)/2 > maxFragments {
		return nil, fmt.Errorf("more than %d fragments", maxFragments)
	}
	if nb := m.pax["GNU.sparse.numblocks"]; nb != "" && nb != strconv.Itoa(len(fields)/2) {
		return nil, errors.New("fragment count does not match the map")
	}
	frags := make([]fragment, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		o, err1 := strconv.ParseInt(fields[i], 10, 64)
		n, err2 := strconv.ParseInt(fields[i+1], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad number")
		}
		frags = append(frags, fragment{o, n})
	}
	return frags, nil
}

// checkFragments checks a map as archive/tar and BSD tar do: fragments in
// order, not overlapping, within the real size; and, so that every stored
// byte is read, their lengths adding up to the stored data.
func checkFragments(frags []fragment, real, stored int64) error {
	if real < 0 {
		return errors.New("negative size")
	}
	var prev fragment
	var sum int64
	for _, f := range frags {
		switch {
		case f.offset < 0 || f.length < 0:
			return errors.New("negative offset or length")
		case f.offset > real-f.length:
			return errors.New("fragment beyond the member's size")
		case prev.end() > f.offset:
			return errors.New("fragments out of order or overlapping")
		}
		prev = f
		sum += f.length
	}
	if sum != stored {
		return fmt.Errorf("fragments hold %d bytes, the archive %d", sum, stored)
	}
	return nil
}
