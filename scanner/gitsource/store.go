package gitsource

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"container/list"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"

	"github.com/xaiscan/xaiscan/scanner"
)

// Object types as they appear in pack headers (and as we use them for loose
// objects too).
const (
	typCommit   int8 = 1
	typTree     int8 = 2
	typBlob     int8 = 3
	typTag      int8 = 4
	typOfsDelta int8 = 6
	typRefDelta int8 = 7
)

func typeName(t int8) string {
	switch t {
	case typCommit:
		return "commit"
	case typTree:
		return "tree"
	case typBlob:
		return "blob"
	case typTag:
		return "tag"
	case typOfsDelta, typRefDelta:
		return "delta"
	}
	return "object"
}

// errMissing reports an object that is in no pack and no loose file.
var errMissing = errors.New("object not found in the object store")

// trustedAlloc is the largest size taken from a header and allocated up
// front; larger objects grow as their data arrives.
const trustedAlloc = 64 << 20

// maxObjectSize bounds the inflated size we accept from an object header,
// so a corrupt header cannot make us allocate without limit.
const maxObjectSize = 4 << 30

// store is a read-only view of a repository's object store (its objects
// directory and alternates) that is safe for concurrent use: pack files are
// read with ReadAt (pread), loose files are opened per read, and the only
// shared mutable state is a locked LRU of resolved delta bases. go-git's
// own storage is not safe for concurrent reads, which is why the engine's
// workers read through this instead.
type store struct {
	dirs  []string // objects directories: the repository's, then alternates
	packs []*pack
	// loose maps every loose object to its file; it is filled once, before
	// any concurrent use.
	loose map[plumbing.Hash]string
	// orphans are pack indexes whose pack file is gone.
	orphans []string

	cache *lru
	// all holds every object id in the store, for has.
	all *hashSet
}

// pack is one packfile with its index.
type pack struct {
	name string // base name, for messages
	path string
	f    *os.File
	size int64
	idx  *idxfile.MemoryIndex
	n    int

	sortOnce sync.Once
	offsets  []int64 // every object's offset, ascending (lazily built)
}

// openStore opens the objects directory and its alternates. Packs whose
// index cannot be read, alternates that name nothing, and directories that
// cannot be listed are returned as problems (the caller reports them); the
// rest of the store stays usable.
func openStore(objectsDir string) (*store, []problem) {
	s := &store{loose: map[plumbing.Hash]string{}, cache: newLRU(96 << 20)}
	var probs []problem
	s.addDir(objectsDir, objectsDir, 0, map[string]bool{}, &probs)
	for _, dir := range s.dirs {
		s.openPacks(dir, &probs)
		s.scanLoose(dir, &probs)
	}
	n := len(s.loose)
	for _, p := range s.packs {
		n += p.n
	}
	s.all = newHashSet(n)
	for _, p := range s.packs {
		for _, names := range p.idx.Names {
			for i := 0; i+20 <= len(names); i += 20 {
				s.all.add(names[i : i+20])
			}
		}
	}
	for h := range s.loose {
		s.all.add(h[:])
	}
	s.checkOrphans(&probs)
	return s, probs
}

// addDir adds an objects directory and, recursively, the alternates its
// info/alternates file lists (git follows five levels). An alternate that
// does not exist or cannot be read is a problem: the objects git would
// find there are missing to us.
func (s *store) addDir(dir, top string, depth int, seen map[string]bool, probs *[]problem) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if seen[dir] || depth > 5 {
		return
	}
	seen[dir] = true
	s.dirs = append(s.dirs, dir)
	altFile := filepath.Join(dir, "info", "alternates")
	b, err := os.ReadFile(altFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			*probs = append(*probs, problem{path: objectsPath(top, altFile), reason: fmt.Sprintf("cannot read the alternates file: %v; the objects it lends are missing", unwrapPath(err))})
		}
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		alt := absFrom(dir, line)
		if err := checkAlternate(alt); err != nil {
			*probs = append(*probs, problem{path: objectsPath(top, altFile), reason: fmt.Sprintf("alternate %s %v; the objects it lends are missing", alt, err)})
			continue
		}
		s.addDir(alt, top, depth+1, seen, probs)
	}
}

// checkAlternate says what is wrong with an alternates entry, if anything.
func checkAlternate(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("does not exist")
	case err != nil:
		return fmt.Errorf("cannot be read: %v", unwrapPath(err))
	case !fi.IsDir():
		return errors.New("is not a directory")
	}
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("cannot be read: %v", unwrapPath(err))
	}
	return nil
}

// objectsPath names a file of the store for messages: relative to the
// repository's objects directory's parent ("objects/info/alternates"), or
// absolute for an alternate elsewhere.
func objectsPath(top, path string) string {
	if rel, err := filepath.Rel(filepath.Dir(top), path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(path)
}

// openPacks opens every pack of an objects directory. A pack without a
// readable index, and an index whose pack is gone, are problems.
func (s *store) openPacks(dir string, probs *[]problem) {
	ents, err := os.ReadDir(filepath.Join(dir, "pack"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			*probs = append(*probs, problem{path: filepath.ToSlash(filepath.Join(filepath.Base(dir), "pack")), reason: fmt.Sprintf("cannot list the packs: %v", unwrapPath(err))})
		}
		return
	}
	have := map[string]bool{}
	for _, e := range ents {
		have[e.Name()] = true
	}
	for _, e := range ents { // ReadDir sorts by name
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".pack"):
			path := filepath.Join(dir, "pack", name)
			p, err := openPack(path)
			if err != nil {
				*probs = append(*probs, problem{path: relPack(path), reason: err.Error()})
				continue
			}
			s.packs = append(s.packs, p)
		case strings.HasSuffix(name, ".idx") && !have[strings.TrimSuffix(name, ".idx")+".pack"]:
			s.orphans = append(s.orphans, filepath.Join(dir, "pack", name))
		}
	}
}

// checkOrphans judges the pack indexes whose pack file is gone, once every
// pack is open: if the store holds every object such an index lists, it
// is a leftover (a note); otherwise the pack was deleted with objects
// nothing else holds (an error).
func (s *store) checkOrphans(probs *[]problem) {
	for _, path := range s.orphans {
		lost := -1
		if b, err := os.ReadFile(path); err == nil {
			idx := idxfile.NewMemoryIndex()
			if decodeIdx(b, idx) == nil {
				lost = 0
				for _, names := range idx.Names {
					for i := 0; i+20 <= len(names); i += 20 {
						if !s.all.has(names[i : i+20]) {
							lost++
						}
					}
				}
			}
		}
		switch {
		case lost == 0:
			*probs = append(*probs, problem{path: relPack(path), reason: "pack index without its pack file, a leftover: every object it lists is in the store", note: true})
		case lost > 0:
			*probs = append(*probs, problem{path: relPack(path), reason: fmt.Sprintf("pack index without its pack file: the pack was deleted, and %d objects it held are in no other pack", lost)})
		default:
			*probs = append(*probs, problem{path: relPack(path), reason: "pack index without its pack file: the pack was deleted, and the objects it held may be missing"})
		}
	}
}

// problem is something unreadable found while opening the store or the
// refs: an error, or with note set a harmless oddity worth listing.
type problem struct {
	path, reason string
	note         bool
}

// skipped is the problem as a coverage entry.
func (p problem) skipped() scanner.Skipped {
	if p.note {
		return scanner.NoteAt(p.path, p.reason)
	}
	return scanner.ErrorAt(p.path, p.reason)
}

func relPack(path string) string {
	return filepath.ToSlash(filepath.Join(filepath.Base(filepath.Dir(filepath.Dir(path))), filepath.Base(filepath.Dir(path)), filepath.Base(path)))
}

func (s *store) scanLoose(dir string, probs *[]problem) {
	for i := 0; i < 256; i++ {
		sub := fmt.Sprintf("%02x", i)
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if !os.IsNotExist(err) {
				*probs = append(*probs, problem{path: "objects/" + sub, reason: "cannot list loose objects: " + err.Error()})
			}
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if len(name) != 38 {
				continue
			}
			h, ok := parseHex(sub + name)
			if !ok {
				continue
			}
			if _, dup := s.loose[h]; !dup {
				s.loose[h] = filepath.Join(dir, sub, name)
			}
		}
	}
}

func openPack(path string) (*pack, error) {
	idxPath := strings.TrimSuffix(path, ".pack") + ".idx"
	ib, err := os.ReadFile(idxPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("the pack's index %s is missing, so its objects cannot be found (git index-pack rebuilds it)", filepath.Base(idxPath))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the pack's index %s: %v", filepath.Base(idxPath), unwrapPath(err))
	}
	idx := idxfile.NewMemoryIndex()
	if err := decodeIdx(ib, idx); err != nil {
		return nil, fmt.Errorf("corrupt pack index %s: %w", filepath.Base(idxPath), err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open pack: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot stat pack: %w", err)
	}
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != "PACK" {
		f.Close()
		return nil, fmt.Errorf("not a pack file (bad header)")
	}
	n, _ := idx.Count()
	if cnt := int64(uint32(hdr[8])<<24 | uint32(hdr[9])<<16 | uint32(hdr[10])<<8 | uint32(hdr[11])); cnt != n {
		f.Close()
		return nil, fmt.Errorf("pack header says %d objects, its index %d", cnt, n)
	}
	return &pack{name: filepath.Base(path), path: path, f: f, size: st.Size(), idx: idx, n: int(n)}, nil
}

// decodeIdx decodes an index, turning a decoder panic on garbage into an
// error: corrupt input must never crash the scan.
func decodeIdx(b []byte, idx *idxfile.MemoryIndex) (err error) {
	if err := checkIdxSize(b); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return idxfile.NewDecoder(bytes.NewReader(b)).Decode(idx)
}

// checkIdxSize applies git's size rule for a version 2 pack index (the
// only version go-git reads): header, fanout table, 28 bytes an object,
// two checksums, and up to 8 bytes more an object for large offsets.
// go-git allocates for the object count the fanout table claims before
// reading the objects: a 1.5 KB index claiming 4 billion took 4 GB.
func checkIdxSize(b []byte) error {
	const fixed = 8 + 256*4 + 2*20
	if len(b) < fixed || string(b[:4]) != "\xfftOc" {
		return nil // the decoder says what is wrong
	}
	n := uint64(binary.BigEndian.Uint32(b[8+255*4:]))
	if least := fixed + 28*n; uint64(len(b)) < least || uint64(len(b)) > least+8*n {
		return fmt.Errorf("a %d-byte index cannot hold the %d objects it lists", len(b), n)
	}
	return nil
}

func (s *store) close() {
	for _, p := range s.packs {
		p.f.Close()
	}
}

// count is how many objects the store lists (copies in several packs
// count once per copy).
func (s *store) count() int {
	n := len(s.loose)
	for _, p := range s.packs {
		n += p.n
	}
	return n
}

// has reports whether the store holds h (in a pack or loose).
func (s *store) has(h plumbing.Hash) bool { return s.all.has(h[:]) }

// sortedOffsets returns the pack's object offsets in ascending order, so
// the end of an object's compressed data (the next offset) is known.
func (p *pack) sortedOffsets() []int64 {
	p.sortOnce.Do(func() {
		offs := make([]int64, 0, p.n)
		it, err := p.idx.EntriesByOffset()
		if err != nil {
			return
		}
		for {
			e, err := it.Next()
			if err != nil {
				break
			}
			offs = append(offs, int64(e.Offset))
		}
		it.Close()
		p.offsets = offs
	})
	return p.offsets
}

// end returns where the compressed data of the object at off ends.
func (p *pack) end(off int64) int64 {
	offs := p.sortedOffsets()
	i := sort.Search(len(offs), func(i int) bool { return offs[i] > off })
	if i < len(offs) {
		return offs[i]
	}
	return p.size - 20
}

// objHeader is a pack entry's header.
type objHeader struct {
	kind     int8
	size     int64
	dataOff  int64 // first byte of the zlib stream
	baseOff  int64 // ofs-delta base offset
	baseHash plumbing.Hash
}

// header parses the entry header at off from b, which holds the bytes
// starting at off (at least 32 of them unless the pack ends sooner).
func parseHeader(b []byte, off int64) (objHeader, error) {
	var h objHeader
	if len(b) == 0 {
		return h, fmt.Errorf("offset %d is past the end of the pack", off)
	}
	c := b[0]
	h.kind = int8((c >> 4) & 7)
	size := int64(c & 15)
	shift := uint(4)
	i := 1
	for c&0x80 != 0 {
		if i >= len(b) || shift > 60 {
			return h, fmt.Errorf("truncated object header at offset %d", off)
		}
		c = b[i]
		i++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	if size < 0 || size > maxObjectSize { // < 0: the varint overflowed
		return h, fmt.Errorf("object at offset %d claims an implausible size %d", off, size)
	}
	h.size = size
	switch h.kind {
	case typCommit, typTree, typBlob, typTag:
	case typOfsDelta:
		if i >= len(b) {
			return h, fmt.Errorf("truncated delta header at offset %d", off)
		}
		c = b[i]
		i++
		rel := int64(c & 0x7f)
		for c&0x80 != 0 {
			if i >= len(b) || rel > 1<<50 {
				return h, fmt.Errorf("truncated delta header at offset %d", off)
			}
			c = b[i]
			i++
			rel = ((rel + 1) << 7) | int64(c&0x7f)
		}
		h.baseOff = off - rel
		if rel <= 0 || h.baseOff < 12 {
			return h, fmt.Errorf("delta at offset %d has an invalid base offset", off)
		}
	case typRefDelta:
		if i+20 > len(b) {
			return h, fmt.Errorf("truncated delta header at offset %d", off)
		}
		copy(h.baseHash[:], b[i:i+20])
		i += 20
	default:
		return h, fmt.Errorf("invalid object type %d at offset %d", h.kind, off)
	}
	h.dataOff = off + int64(i)
	return h, nil
}

func (p *pack) header(off int64) (objHeader, error) {
	var b [32]byte
	n, err := p.f.ReadAt(b[:], off)
	if err != nil && !errors.Is(err, io.EOF) {
		return objHeader{}, err
	}
	return parseHeader(b[:n], off)
}

// zlib readers are large; reuse them.
var zpool sync.Pool

func getZlib(r io.Reader) (io.ReadCloser, error) {
	if z, ok := zpool.Get().(io.ReadCloser); ok {
		if err := z.(zlib.Resetter).Reset(r, nil); err != nil {
			zpool.Put(z)
			return nil, err
		}
		return z, nil
	}
	return zlib.NewReader(r)
}

func putZlib(z io.ReadCloser) { zpool.Put(z) }

var bufrPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// inflateAt inflates exactly size bytes from the zlib stream that starts at
// dataOff and ends before end, verifying the stream's checksum.
func (p *pack) inflateAt(dataOff, end, size int64) ([]byte, error) {
	if end <= dataOff || end > p.size {
		return nil, fmt.Errorf("object data at offset %d lies outside the pack", dataOff)
	}
	clen := end - dataOff
	var src io.Reader
	var br *bufio.Reader
	var cbuf *[]byte
	if clen <= 1<<20 {
		cbuf = getBuf(int(clen))
		b := (*cbuf)[:clen]
		if _, err := p.f.ReadAt(b, dataOff); err != nil {
			putBuf(cbuf)
			return nil, err
		}
		src = bytes.NewReader(b)
	} else {
		br = bufrPool.Get().(*bufio.Reader)
		br.Reset(io.NewSectionReader(p.f, dataOff, clen))
		src = br
	}
	defer func() {
		if cbuf != nil {
			putBuf(cbuf)
		}
		if br != nil {
			br.Reset(nil)
			bufrPool.Put(br)
		}
	}()
	return inflate(src, size)
}

// inflate reads exactly size bytes from the zlib stream in src and checks
// that the stream ends there with a valid checksum. On error it also
// returns the bytes that were decompressed before it (all of them when
// only the checksum is off), so a caller can still scan them.
func inflate(src io.Reader, size int64) ([]byte, error) {
	z, err := getZlib(src)
	if err != nil {
		return nil, fmt.Errorf("corrupt compressed data: %w", err)
	}
	defer putZlib(z)
	out, err := readExact(z, size)
	if err != nil {
		return out, fmt.Errorf("corrupt compressed data: %w", err)
	}
	return out, nil
}

// readExact reads exactly size bytes from r and checks that r ends there
// (which, for a zlib reader, also verifies the checksum). A header may lie
// about the size: past trustedAlloc, the buffer grows with the data that
// actually arrives instead of being allocated up front. On error, the
// bytes read before it are returned with it.
func readExact(r io.Reader, size int64) ([]byte, error) {
	var out []byte
	if size <= trustedAlloc {
		out = make([]byte, size)
		if n, err := io.ReadFull(r, out); err != nil {
			return out[:n], unexpected(err)
		}
	} else {
		var buf bytes.Buffer
		buf.Grow(trustedAlloc)
		n, err := io.CopyN(&buf, r, size)
		if err != nil || n != size {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return buf.Bytes(), unexpected(err)
		}
		out = buf.Bytes()
	}
	var one [1]byte
	if n, err := r.Read(one[:]); n != 0 || (err != nil && err != io.EOF) {
		if err == nil {
			err = errors.New("more data than the header's size")
		}
		return out, err
	}
	return out, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Buffers for compressed data come from pools by size class: class c
// holds buffers of at least 4 KiB << 2c bytes.
var bufPools [8]sync.Pool

func getBuf(n int) *[]byte {
	c := 0
	for 4096<<(2*c) < n && c < len(bufPools)-1 {
		c++
	}
	if b, ok := bufPools[c].Get().(*[]byte); ok {
		if cap(*b) >= n {
			return b
		}
		bufPools[c].Put(b)
	}
	b := make([]byte, max(4096<<(2*c), n))
	return &b
}

func putBuf(b *[]byte) {
	c := 0
	for c+1 < len(bufPools) && 4096<<(2*(c+1)) <= cap(*b) {
		c++
	}
	bufPools[c].Put(b)
}

// read returns the type and content of object h, resolving deltas through
// the shared cache. Safe for concurrent use.
func (s *store) read(h plumbing.Hash) (int8, []byte, error) {
	return s.readDepth(h, 0)
}

func (s *store) readDepth(h plumbing.Hash, depth int) (int8, []byte, error) {
	if depth > 10000 {
		return 0, nil, errors.New("delta chain too deep (cycle?)")
	}
	for _, p := range s.packs {
		off, err := p.idx.FindOffset(h)
		if err != nil {
			continue
		}
		t, b, err := s.readPacked(p, off, depth)
		if err != nil {
			return t, b, fmt.Errorf("%s at offset %d: %w", p.name, off, err)
		}
		return t, b, nil
	}
	if path, ok := s.loose[h]; ok {
		return readLoose(path)
	}
	return 0, nil, errMissing
}

type cacheKey struct {
	p   *pack
	off int64
}

type cached struct {
	typ  int8
	data []byte
}

func (s *store) readPacked(p *pack, off int64, depth int) (int8, []byte, error) {
	if c, ok := s.cache.get(cacheKey{p, off}); ok {
		return c.typ, c.data, nil
	}
	h, err := p.header(off)
	if err != nil {
		return 0, nil, err
	}
	end := p.end(off)
	var typ int8
	var data []byte
	switch h.kind {
	case typOfsDelta, typRefDelta:
		var base []byte
		if h.kind == typOfsDelta {
			typ, base, err = s.readPacked(p, h.baseOff, depth+1)
		} else {
			typ, base, err = s.readDepth(h.baseHash, depth+1)
		}
		if err != nil {
			return 0, nil, fmt.Errorf("delta base: %w", err)
		}
		delta, err := p.inflateAt(h.dataOff, end, h.size)
		if err != nil {
			return 0, nil, err
		}
		data, err = applyDelta(base, delta)
		if err != nil {
			return 0, nil, err
		}
	default:
		typ = h.kind
		data, err = p.inflateAt(h.dataOff, end, h.size)
		if err != nil {
			// What was decompressed is returned with the error (and not
			// cached): a blob's readable part is still scanned.
			return typ, data, err
		}
	}
	s.cache.put(cacheKey{p, off}, cached{typ, data})
	return typ, data, nil
}

// readLoose reads a loose object file. When the object is damaged past its
// header, its type and the bytes decompressed before the damage are
// returned with the error.
func readLoose(path string) (int8, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	br := bufrPool.Get().(*bufio.Reader)
	br.Reset(f)
	defer func() { br.Reset(nil); bufrPool.Put(br) }()
	z, err := getZlib(br)
	if err != nil {
		return 0, nil, fmt.Errorf("loose object: corrupt compressed data: %w", err)
	}
	defer putZlib(z)
	zr := bufio.NewReaderSize(z, 512)
	hdr, err := zr.ReadString(0)
	if err != nil {
		return 0, nil, fmt.Errorf("loose object: bad header: %w", unexpected(err))
	}
	typ, size, err := parseLooseHeader(hdr[:len(hdr)-1])
	if err != nil {
		return 0, nil, err
	}
	out, err := readExact(zr, size)
	if err != nil {
		return typ, out, fmt.Errorf("loose object: corrupt compressed data: %w", err)
	}
	return typ, out, nil
}

// looseType reads only the header of a loose object.
func looseType(path string) (int8, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	z, err := getZlib(bufio.NewReaderSize(f, 512))
	if err != nil {
		return 0, 0, fmt.Errorf("loose object: corrupt compressed data: %w", err)
	}
	defer putZlib(z)
	var b [64]byte
	n, err := io.ReadFull(z, b[:])
	if err != nil && err != io.ErrUnexpectedEOF {
		return 0, 0, fmt.Errorf("loose object: corrupt compressed data: %w", unexpected(err))
	}
	i := bytes.IndexByte(b[:n], 0)
	if i < 0 {
		return 0, 0, errors.New("loose object: bad header")
	}
	return parseLooseHeader(string(b[:i]))
}

func parseLooseHeader(hdr string) (int8, int64, error) {
	t, sz, ok := strings.Cut(hdr, " ")
	if !ok {
		return 0, 0, errors.New("loose object: bad header")
	}
	var typ int8
	switch t {
	case "commit":
		typ = typCommit
	case "tree":
		typ = typTree
	case "blob":
		typ = typBlob
	case "tag":
		typ = typTag
	default:
		return 0, 0, fmt.Errorf("loose object: unknown type %q", t)
	}
	size, err := strconv.ParseInt(sz, 10, 64)
	if err != nil || size < 0 || size > maxObjectSize {
		return 0, 0, errors.New("loose object: bad size in header")
	}
	return typ, size, nil
}

func parseHex(s string) (plumbing.Hash, bool) {
	var h plumbing.Hash
	if len(s) != 40 {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

// lru is a byte-bounded, locked LRU of resolved objects (delta bases,
// trees) for random access reads.
type lru struct {
	mu    sync.Mutex
	limit int
	size  int
	ll    *list.List
	m     map[cacheKey]*list.Element
}

type lruEntry struct {
	k cacheKey
	v cached
}

func newLRU(limit int) *lru {
	return &lru{limit: limit, ll: list.New(), m: map[cacheKey]*list.Element{}}
}

func (c *lru) get(k cacheKey) (cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry).v, true
	}
	return cached{}, false
}

func (c *lru) put(k cacheKey, v cached) {
	if len(v.data) > c.limit/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	c.m[k] = c.ll.PushFront(&lruEntry{k, v})
	c.size += len(v.data) + 64
	for c.size > c.limit {
		e := c.ll.Back()
		en := e.Value.(*lruEntry)
		c.ll.Remove(e)
		delete(c.m, en.k)
		c.size -= len(en.v.data) + 64
	}
}

// stream returns a reader of the inflated object whose zlib data lies in
// [dataOff, end), for blobs scanned without being held in memory. It checks
// the size and the stream's checksum at the end.
func (p *pack) stream(dataOff, end, size int64) (io.ReadCloser, error) {
	if end <= dataOff || end > p.size {
		return nil, fmt.Errorf("%s: object data at offset %d lies outside the pack", p.name, dataOff)
	}
	br := bufrPool.Get().(*bufio.Reader)
	br.Reset(io.NewSectionReader(p.f, dataOff, end-dataOff))
	z, err := getZlib(br)
	if err != nil {
		br.Reset(nil)
		bufrPool.Put(br)
		return nil, fmt.Errorf("%s at offset %d: corrupt compressed data: %w", p.name, dataOff, err)
	}
	return &packReader{p: p, off: dataOff, br: br, z: z, left: size}, nil
}

type packReader struct {
	p    *pack
	off  int64
	br   *bufio.Reader
	z    io.ReadCloser
	left int64
}

func (r *packReader) Read(b []byte) (int, error) {
	if r.z == nil {
		return 0, io.EOF
	}
	if r.left == 0 {
		var one [1]byte
		if n, err := r.z.Read(one[:]); n != 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = errors.New("more data than the header's size")
			}
			return 0, fmt.Errorf("%s at offset %d: corrupt compressed data: %w", r.p.name, r.off, err)
		}
		return 0, io.EOF
	}
	if int64(len(b)) > r.left {
		b = b[:r.left]
	}
	n, err := r.z.Read(b)
	r.left -= int64(n)
	if err == io.EOF {
		if r.left > 0 {
			return n, fmt.Errorf("%s at offset %d: corrupt compressed data: %w", r.p.name, r.off, io.ErrUnexpectedEOF)
		}
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("%s at offset %d: corrupt compressed data: %w", r.p.name, r.off, err)
	}
	return n, nil
}

func (r *packReader) Close() error {
	if r.z != nil {
		putZlib(r.z)
		r.z = nil
		r.br.Reset(nil)
		bufrPool.Put(r.br)
	}
	return nil
}

// hashSet is an exact-enough membership set of object ids for connectivity
// checks, which test every entry of every tree: an open-addressing table of
// each id's first 64 bits (ids are uniformly random, so those bits are the
// hash). Two distinct ids sharing 64 bits is a 2^-64 event per pair. It
// costs 16 bytes per object, against go-git's index lookup (a binary
// search over byte slices) that dominated the profile.
type hashSet struct {
	slots []uint64
	mask  uint64
}

func newHashSet(n int) *hashSet {
	size := 1024
	for size < 2*n {
		size <<= 1
	}
	return &hashSet{slots: make([]uint64, size), mask: uint64(size - 1)}
}

func hashPrefix(h []byte) uint64 {
	v := uint64(h[0])<<56 | uint64(h[1])<<48 | uint64(h[2])<<40 | uint64(h[3])<<32 |
		uint64(h[4])<<24 | uint64(h[5])<<16 | uint64(h[6])<<8 | uint64(h[7])
	if v == 0 {
		v = 1 // 0 marks an empty slot
	}
	return v
}

func (s *hashSet) add(h []byte) {
	v := hashPrefix(h)
	for i := v & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = v
			return
		case v:
			return
		}
	}
}

func (s *hashSet) has(h []byte) bool {
	v := hashPrefix(h)
	for i := v & s.mask; ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case 0:
			return false
		case v:
			return true
		}
	}
}
