package archive

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"strings"

	"github.com/ulikunitz/xz/lzma"

	"github.com/xaiscan/xaiscan/scanner"
)

// The xz container (tukaani.org/xz/xz-file-format.txt) is read here, block
// by block, and each block's LZMA2 data is decoded by
// github.com/ulikunitz/xz/lzma. The library's own xz reader is not used:
// it allocates whatever dictionary a block header declares (its
// ReaderConfig.DictCap is a minimum there, not a cap), so a 30-byte file
// declaring 1.5 GiB would allocate 1.5 GiB. Reading the block header first
// lets the dictionary be capped before anything is allocated.

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// isXz reports an xz stream: its magic and a valid stream-flags CRC.
func isXz(head []byte) bool {
	if len(head) < 12 || !bytes.HasPrefix(head, xzMagic) {
		return false
	}
	return crc32.ChecksumIEEE(head[6:8]) == binary.LittleEndian.Uint32(head[8:12])
}

// xz expands an xz file: one or more streams back to back, as xz -d reads
// them. A tar inside is expanded at this same level.
func (x *expansion) xz(br *bufio.Reader) error {
	x.enc = "xz"
	xr := &xzReader{src: br, dictCap: x.e.opts.MaxDictionary, path: x.outer()}
	if err := xr.streamHeader(); err != nil {
		return err
	}
	return x.decompressed("xz stream", xr, "", ".txz", ".xz", func() error { return xr.tail })
}

// xzReader decodes the blocks of the xz streams in src.
type xzReader struct {
	src     *bufio.Reader
	dictCap int
	path    string // for the cap's error

	check byte          // the stream's check type
	block *lzma.Reader2 // the block being read; nil between blocks
	cnt   countReader   // the block's compressed bytes
	sum   hash.Hash     // the block's check, nil if none or unknown
	usize int64         // uncompressed size the block header declares, or -1
	out   int64         // bytes the block decoded
	// capped is set when the block's dictionary was cut to dictCap.
	capped bool
	done   bool
	tail   error // damage after the last stream
}

// xzErr is damage in an xz file.
func xzErr(what string) error { return formatError{"corrupt xz stream: " + what} }

func (z *xzReader) Read(p []byte) (int, error) {
	for {
		if z.done {
			return 0, io.EOF
		}
		if z.block == nil {
			if err := z.nextBlock(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := z.block.Read(p)
		z.out += int64(n)
		if z.sum != nil {
			z.sum.Write(p[:n])
		}
		if z.usize >= 0 && z.out > z.usize {
			return n, xzErr("block longer than its header says")
		}
		if err == io.EOF {
			z.block = nil
			err = z.endBlock()
		} else if err != nil {
			err = z.decodeError(err)
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// decodeError classifies an error of the LZMA2 decoder: the source's own
// read errors pass through; a match reaching behind a capped dictionary is
// the cap; anything else is damage.
func (z *xzReader) decodeError(err error) error {
	if z.cnt.err != nil {
		return z.cnt.err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return formatError{"truncated xz stream"}
	}
	if z.capped && strings.Contains(err.Error(), "distance out of range") {
		return capError{fmt.Sprintf("xz stream needs a dictionary larger than the cap of %s: decoded up to there only", scanner.SizeString(int64(z.dictCap)))}
	}
	return xzErr(err.Error())
}

// capError is a decoder that stopped at a memory cap: a coverage error,
// not damage.
type capError struct{ msg string }

func (c capError) Error() string { return c.msg }

// streamHeader reads and checks a stream header.
func (z *xzReader) streamHeader() error {
	var h [12]byte
	if _, err := io.ReadFull(z.src, h[:]); err != nil {
		return readError("xz stream", err)
	}
	if !isXz(h[:]) || h[6] != 0 || h[7] > 0x0f {
		return xzErr("bad stream header")
	}
	z.check = h[7]
	return nil
}

// xzCheckSize is the size of each check type (the specification reserves
// sizes for types it does not define yet).
var xzCheckSize = [16]int{0, 4, 4, 4, 8, 8, 8, 16, 16, 16, 32, 32, 32, 64, 64, 64}

// nextBlock starts the next block, or reads the index and footer that
// end a stream (and the padding and stream after it).
func (z *xzReader) nextBlock() error {
	b, err := z.src.ReadByte()
	if err != nil {
		return z.srcErr(err)
	}
	if b == 0 {
		return z.endStream()
	}
	hdr := make([]byte, (int(b)+1)*4) // int first: b+1 overflows a byte at 0xff
	hdr[0] = b
	if _, err := io.ReadFull(z.src, hdr[1:]); err != nil {
		return z.srcErr(err)
	}
	return z.startBlock(hdr)
}

// srcErr turns running out of input inside the framing into a truncation.
func (z *xzReader) srcErr(err error) error {
	if err == io.EOF {
		return formatError{"truncated xz stream"}
	}
	return readError("xz stream", err)
}

// startBlock parses a block header and starts its decoder, with the
// dictionary the header declares cut to the cap (and to the block's size,
// when the header gives it: a block never needs more than its own bytes).
func (z *xzReader) startBlock(hdr []byte) error {
	n := len(hdr)
	if crc32.ChecksumIEEE(hdr[:n-4]) != binary.LittleEndian.Uint32(hdr[n-4:]) {
		return xzErr("bad block header checksum")
	}
	flags := hdr[1]
	if flags&0x3c != 0 {
		return xzErr("reserved block header flags set")
	}
	r := bytes.NewReader(hdr[2 : n-4])
	z.usize = -1
	if flags&0x40 != 0 {
		if _, err := binary.ReadUvarint(r); err != nil {
			return xzErr("bad block header")
		}
	}
	if flags&0x80 != 0 {
		u, err := binary.ReadUvarint(r)
		if err != nil || u > 1<<62 {
			return xzErr("bad block header")
		}
		z.usize = int64(u)
	}
	dict, err := xzFilters(r, int(flags&3)+1)
	if err != nil {
		return err
	}
	alloc := min(dict, int64(z.dictCap))
	z.capped = dict > int64(z.dictCap)
	if z.usize >= 0 && z.usize < alloc {
		alloc, z.capped = max(z.usize, lzma.MinDictCap), false
	}
	z.cnt = countReader{r: z.src}
	z.block, err = lzma.Reader2Config{DictCap: int(alloc)}.NewReader2(&z.cnt)
	if err != nil {
		return z.decodeError(err)
	}
	z.out = 0
	z.sum = newXzCheck(z.check)
	return nil
}

// xzFilters reads a block's filter chain and returns the LZMA2
// dictionary size it declares. Only a chain of LZMA2 alone is decoded
// (what xz writes unless told otherwise); branch and delta filters are
// named in an error.
func xzFilters(r *bytes.Reader, count int) (int64, error) {
	var dict int64 = -1
	for i := range count {
		id, err1 := binary.ReadUvarint(r)
		size, err2 := binary.ReadUvarint(r)
		if err1 != nil || err2 != nil || size > uint64(r.Len()) {
			return 0, xzErr("bad block header")
		}
		props := make([]byte, size)
		r.Read(props)
		switch {
		case id == 0x21 && i == count-1 && size == 1:
			d, err := lzma.DecodeDictCap(props[0])
			if err != nil {
				return 0, xzErr("bad LZMA2 dictionary size")
			}
			dict = d
		case id == 0x21:
			return 0, xzErr("bad LZMA2 filter")
		default:
			return 0, fmt.Errorf("xz block with filter %#x (xaiscan decodes LZMA2 alone): not decoded", id)
		}
	}
	if dict < 0 {
		return 0, xzErr("block without an LZMA2 filter")
	}
	return dict, nil
}

// newXzCheck returns the hash of an xz check type, or nil for none or a
// type this package does not verify.
func newXzCheck(t byte) hash.Hash {
	switch t {
	case 1:
		return crc32.NewIEEE()
	case 4:
		return crc64.New(crc64.MakeTable(crc64.ECMA))
	case 10:
		return sha256.New()
	}
	return nil
}

// xzSum is a check as xz stores it: CRCs little-endian (Go's hashes
// append them big-endian), SHA-256 as it is.
func xzSum(h hash.Hash) []byte {
	switch h := h.(type) {
	case hash.Hash32:
		return binary.LittleEndian.AppendUint32(nil, h.Sum32())
	case hash.Hash64:
		return binary.LittleEndian.AppendUint64(nil, h.Sum64())
	}
	return h.Sum(nil)
}

// endBlock reads a block's padding and check, and verifies them.
func (z *xzReader) endBlock() error {
	if z.usize >= 0 && z.out != z.usize {
		return xzErr("block shorter than its header says")
	}
	tail := make([]byte, (4-z.cnt.n%4)%4+int64(xzCheckSize[z.check]))
	if _, err := io.ReadFull(z.src, tail); err != nil {
		return z.srcErr(err)
	}
	pad := int((4 - z.cnt.n%4) % 4)
	if !allZero(tail[:pad]) {
		return xzErr("non-zero block padding")
	}
	if z.sum != nil && !bytes.Equal(xzSum(z.sum), tail[pad:]) {
		return xzErr("block check mismatch")
	}
	return nil
}

// endStream reads an index (its indicator byte already read) and the
// stream footer; then stream padding, and the next stream if one follows.
// The index is not checked against the blocks: every block was decoded
// and verified by its own check already.
func (z *xzReader) endStream() error {
	records, err := binary.ReadUvarint(z.src)
	if err != nil {
		return z.srcErr(err)
	}
	size := 1 + uvarintLen(records)
	for range records {
		for range 2 {
			v, err := binary.ReadUvarint(z.src)
			if err != nil {
				return z.srcErr(err)
			}
			size += uvarintLen(v)
		}
	}
	rest := make([]byte, (4-size%4)%4+4+12)
	if _, err := io.ReadFull(z.src, rest); err != nil {
		return z.srcErr(err)
	}
	if !bytes.HasSuffix(rest, []byte("YZ")) {
		return xzErr("bad stream footer")
	}
	return z.nextStream()
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// nextStream skips stream padding (zeros) and reads the header of the
// stream that follows; anything else ends the file as damage.
func (z *xzReader) nextStream() error {
	for {
		head, err := z.src.Peek(12)
		switch {
		case len(head) == 0 && err == io.EOF:
			z.done = true
			return nil
		case len(head) == 0:
			return readError("xz stream", err)
		case isXz(head):
			return z.streamHeader()
		case len(head) >= 4 && allZero(head[:4]):
			z.src.Discard(4)
			continue
		}
		z.done = true
		z.tail = formatError{"data after the end of the xz stream is not xz"}
		return nil
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// countReader counts the bytes read through it and keeps the first error
// of the source that is not io.EOF (so a decoder's complaint can be told
// from a failed read).
type countReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
