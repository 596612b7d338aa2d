package gitfile

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/xaiscan/xaiscan/scanner"
)

// objType is a pack entry's type.
type objType uint8

const (
	typCommit   objType = 1
	typTree     objType = 2
	typBlob     objType = 3
	typTag      objType = 4
	typOfsDelta objType = 6
	typRefDelta objType = 7
)

func (t objType) String() string {
	switch t {
	case typCommit:
		return "commit"
	case typTree:
		return "tree"
	case typBlob:
		return "blob"
	case typTag:
		return "tag"
	}
	return "type " + strconv.Itoa(int(t))
}

// counter is the pack's byte stream with its offset. It is an
// io.ByteReader, so zlib reads exactly one object's stream and no further.
type counter struct {
	r *bufio.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *counter) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// pack is one pack being read.
type pack struct {
	ctx      context.Context
	m        scanner.Members
	parent   scanner.Item
	outer    string
	encoding string
	hashLen  int   // 20 (SHA-1) or 32 (SHA-256)
	max      int64 // Decoder.MaxHeld

	cache *cache
	index *index
	wait  *waitRoom
	// spool keeps the stream's bytes; the pack starts at packStart in it.
	spool     *spool
	packStart int64
	re        reread

	c *counter
	z io.ReadCloser // reused zlib reader

	// harm is the first damage met in an object whose stream was still
	// whole, so reading went on; it is returned at the end.
	harm  error
	lost  lostLog
	queue []pending // deltas whose base was just met (or lost), to resolve
	count uint32
	done  uint32
}

// read reads the pack from its header to its trailer.
func (p *pack) read(br *bufio.Reader) error {
	p.c = &counter{r: br}
	p.index = newIndex(p.hashLen)
	var hdr [12]byte
	if _, err := io.ReadFull(p.c, hdr[:]); err != nil {
		return readErr("pack header", err)
	}
	if !isPack(hdr[:]) {
		return damaged("no git pack where the %s header ends", p.encoding)
	}
	// The declared count only bounds the loop: nothing is sized by it.
	p.count = binary.BigEndian.Uint32(hdr[8:])
	for ; p.done < p.count; p.done++ {
		if err := p.ctx.Err(); err != nil {
			return err
		}
		err := p.object()
		if err == nil {
			err = p.rebuildQueued()
		}
		if err != nil {
			return p.finish(p.located(err))
		}
	}
	trailer := make([]byte, p.hashLen)
	if _, err := io.ReadFull(p.c, trailer); err != nil {
		return p.finish(readErr("pack trailer (checksum)", err))
	}
	return p.finish(p.harm)
}

// located adds to damage how far the pack was read.
func (p *pack) located(err error) error {
	if _, ok := err.(damage); ok {
		return damaged("%v (at offset %d, object %d of %d)", err, p.c.n, p.done+1, p.count)
	}
	return err
}

// object reads one pack entry, recording it in the index first.
func (p *pack) object() error {
	off := p.c.n
	typ, size, err := p.entryHeader()
	if err != nil {
		return err
	}
	e := entry{off: off, base: -1, size: size, typ: typ}
	var id string
	switch typ {
	case typCommit, typTree, typBlob, typTag:
	case typOfsDelta:
		if e.base, err = p.ofsBase(off); err != nil {
			return err
		}
	case typRefDelta:
		raw := make([]byte, p.hashLen)
		if _, err := io.ReadFull(p.c, raw); err != nil {
			return readErr("delta base id", err)
		}
		id = string(raw)
	default:
		return damaged("corrupt git pack: object of invalid type %d", typ)
	}
	e.hdr = uint8(p.c.n - off)
	i := p.index.add(e)
	if typ == typOfsDelta || typ == typRefDelta {
		return p.delta(pending{idx: i, off: off, base: id, baseOff: e.base}, size)
	}
	return p.whole(i, off, typ, size)
}

// entryHeader reads an entry's type and inflated size.
func (p *pack) entryHeader() (objType, uint64, error) {
	c, err := p.c.ReadByte()
	if err != nil {
		return 0, 0, readErr("object header", err)
	}
	typ := objType(c >> 4 & 7)
	size := uint64(c & 15)
	for shift := uint(4); c&0x80 != 0; shift += 7 {
		if shift > 57 {
			return 0, 0, damaged("corrupt git pack: object size overflows")
		}
		if c, err = p.c.ReadByte(); err != nil {
			return 0, 0, readErr("object header", err)
		}
		size |= uint64(c&0x7f) << shift
	}
	return typ, size, nil
}

// ofsBase reads an OFS_DELTA's base offset, relative to the entry at off.
func (p *pack) ofsBase(off int64) (int64, error) {
	c, err := p.c.ReadByte()
	if err != nil {
		return 0, readErr("delta base offset", err)
	}
	rel := int64(c & 0x7f)
	for c&0x80 != 0 {
		if rel >= 1<<55 {
			return 0, damaged("corrupt git pack: delta base offset overflows")
		}
		if c, err = p.c.ReadByte(); err != nil {
			return 0, readErr("delta base offset", err)
		}
		rel = (rel+1)<<7 | int64(c&0x7f)
	}
	if rel <= 0 || rel > off-12 {
		return 0, damaged("corrupt git pack: delta base offset points outside the pack")
	}
	return off - rel, nil
}

// body reads one entry's zlib stream: exactly its declared size, then the
// stream's end (which checks its checksum). It hashes what it reads when h
// is set.
type body struct {
	z    io.Reader
	left uint64
	h    hash.Hash
	err  error
}

func (b *body) Read(q []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.left == 0 {
		b.err = b.end()
		return 0, b.err
	}
	if uint64(len(q)) > b.left {
		q = q[:b.left]
	}
	n, err := b.z.Read(q)
	b.left -= uint64(n)
	if b.h != nil {
		b.h.Write(q[:n])
	}
	switch {
	case err == io.EOF && b.left > 0:
		b.err = damaged("corrupt git pack: object inflates to fewer bytes than its header declares")
	case err != nil && err != io.EOF:
		b.err = readErr("object data", err)
	}
	if b.err != nil {
		return n, b.err
	}
	return n, nil
}

// end reads the zlib stream's end after the declared size.
func (b *body) end() error {
	var one [1]byte
	for range 100 {
		n, err := b.z.Read(one[:])
		switch {
		case n > 0:
			return damaged("corrupt git pack: object inflates to more bytes than its header declares")
		case err == io.EOF:
			return io.EOF
		case err != nil:
			return readErr("object data", err)
		}
	}
	return damaged("corrupt git pack: object stream does not end")
}

// open starts the zlib stream of the entry at the current offset.
func (p *pack) open(size uint64, h hash.Hash) (*body, error) {
	var err error
	if p.z == nil {
		p.z, err = zlib.NewReader(p.c)
	} else {
		err = p.z.(zlib.Resetter).Reset(p.c, nil)
	}
	if err != nil {
		return nil, readErr("object data", err)
	}
	return &body{z: p.z, left: size, h: h}, nil
}

// inflate reads a whole entry into memory. Memory grows with the bytes
// actually inflated, not with the declared size.
func (p *pack) inflate(size uint64, h hash.Hash) ([]byte, error) {
	b, err := p.open(size, h)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(b)
	return data, err
}

// hasher starts an object id: the hash of "<type> <size>\0" + content.
func (p *pack) hasher(typ objType, size uint64) hash.Hash {
	var h hash.Hash
	if p.hashLen == 32 {
		h = sha256.New()
	} else {
		h = sha1.New()
	}
	fmt.Fprintf(h, "%s %d\x00", typ, size)
	return h
}

// whole reads a non-delta object: held in memory and named by its id when
// it fits the cap, streamed to the engine and named by its offset when not.
func (p *pack) whole(i int32, off int64, typ objType, size uint64) error {
	h := p.hasher(typ, size)
	if size > uint64(p.max) {
		return p.stream(i, off, typ, size, h)
	}
	data, err := p.inflate(size, h)
	if err != nil {
		if len(data) > 0 {
			if serr := p.emit(fmt.Sprintf("%s!@%d (cut short)", p.outer, off), typ, data); serr != nil {
				return serr
			}
		}
		return err
	}
	return p.found(i, string(h.Sum(nil)), &object{off: off, typ: typ, data: data})
}

// stream hands an object too large to hold to the engine as it inflates.
func (p *pack) stream(i int32, off int64, typ objType, size uint64, h hash.Hash) error {
	b, err := p.open(size, h)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("%s!@%d", p.outer, off)
	if typ != typBlob {
		path += " (" + typ.String() + ")"
	}
	used := false
	it := p.member(path, -1)
	it.Open = func() (io.ReadCloser, error) {
		if used {
			return nil, fmt.Errorf("git pack object can only be read once")
		}
		used = true
		return io.NopCloser(b), nil
	}
	if err := p.m.Scan(it); err != nil {
		return err
	}
	// Whatever the engine left unread is read through, to reach the next
	// entry and to finish the object's id.
	if _, err := io.Copy(io.Discard, b); err != nil {
		return err
	}
	id := string(h.Sum(nil))
	p.index.built(i, typ, id)
	p.release(id, off)
	return nil
}

// found scans a decoded object, holds it as a possible base, and queues
// the deltas that were waiting for it.
func (p *pack) found(i int32, id string, o *object) error {
	p.index.built(i, o.typ, id)
	p.cache.keep(o)
	if err := p.emit(p.name(id, o.typ), o.typ, o.data); err != nil {
		return err
	}
	p.release(id, o.off)
	return nil
}

// name is the display path of a decoded object.
func (p *pack) name(id string, typ objType) string {
	s := p.outer + "!" + hex.EncodeToString([]byte(id))
	if typ != typBlob {
		s += " (" + typ.String() + ")"
	}
	return s
}

// emit hands one decoded object to the engine: a tree as its entry names,
// anything else as it is.
func (p *pack) emit(path string, typ objType, data []byte) error {
	if typ == typTree {
		if names, ok := treeNames(data, p.hashLen); ok {
			data = names
		}
	}
	it := p.member(path, int64(len(data)))
	it.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return p.m.Scan(it)
}

// member is a member item of the container, without its content.
func (p *pack) member(path string, size int64) scanner.Item {
	return scanner.Item{
		Path:     path,
		Source:   p.parent.Source,
		Object:   p.parent.Object,
		Size:     size,
		Template: p.parent.Template,
		// Members are neither files nor blobs of the scanned repository:
		// counting them would inflate the coverage the user compares.
		Counts:   scanner.CountNone,
		Once:     true,
		Encoding: p.encoding,
	}
}

// treeNames lists a tree's entry names, one per line, so a key in a file
// name is matched as text. ok is false when the tree does not parse (then
// its raw bytes are scanned instead).
func treeNames(data []byte, hashLen int) ([]byte, bool) {
	out := make([]byte, 0, len(data)/2)
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		nul := bytes.IndexByte(data, 0)
		if sp < 0 || nul < sp || nul+1+hashLen > len(data) {
			return nil, false
		}
		out = append(append(out, data[sp+1:nul]...), '\n')
		data = data[nul+1+hashLen:]
	}
	return out, true
}
