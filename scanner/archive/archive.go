// Package archive is the scanner's container Decoder for compressed files and
// archives: gzip (.gz), bzip2 (.bz2), xz, zstd, zlib-headed files, zip
// (.zip and zip-based formats such as .jar, .whl, .apk, .docx, whose text is
// also read joined across runs), tar (with GNU and PAX sparse members), and
// tars compressed by any of these, nested to a bounded depth; and PDF, whose
// Flate streams it inflates.
//
// Containers are recognised by their first bytes, never by their name
// alone. Members become scanner.Items whose Path is
// "outer.zip!inner/path" (one '!' per level), so findings and coverage
// name the member; a compressed stream whose content is a tar is one
// archive ("x.tar.gz!member"), not two levels.
//
// Everything decodable is decoded: a gzip stream up to the cut, tar members
// up to a truncation, a zip without a usable central directory from its
// local headers. Damage is then returned as an error matching
// scanner.ErrMalformed, which the engine records as a note, since it also
// scans every container's raw bytes. Sparse tar members are read as their
// data fragments (scanner.HoleReader), never as the zeros of their holes.
//
// Hostile input is bounded: the engine charges every decoded byte to the
// top-level item's budget; this package caps members per top-level item
// and nesting depth (Options), and reports each cut-off as a coverage
// error. Member names are sanitised: no leading '/', no "." or ".."
// components, no control characters.
package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"

	"github.com/xaiscan/xaiscan/scanner"
)

// Defaults for Options.
const (
	// DefaultMaxDepth opens archives nested 6 deep: a jar in a fat jar in
	// a layer of an image tarball, a fuzz corpus zip in a module zip. The
	// decoded-bytes budget, not the depth, is what bounds a nested bomb.
	DefaultMaxDepth   = 6
	DefaultMaxMembers = 100_000
	DefaultMaxMemZip  = 64 << 20
	DefaultMaxSpool   = 4 << 30
	// DefaultMaxDictionary covers xz -9 and zstd -19 (64 and 8 MiB);
	// larger windows are hand-chosen, and cost that much per worker.
	DefaultMaxDictionary = 64 << 20
)

// Options bound what the Expander will do. Zero fields take the defaults.
type Options struct {
	// MaxDepth is how many container levels are opened: 3 opens a zip in
	// a tar.gz in a gz, and scans a container found deeper as raw bytes
	// only (reported as an error: its members went unread). At most
	// scanner.MaxNesting.
	MaxDepth int
	// MaxMembers caps the members of one top-level archive, nested levels
	// included.
	MaxMembers int64
	// MaxMemZip is the largest zip read from a stream (standard input, a
	// git blob, a member of another archive) that is held in memory to get
	// the random access zip needs; larger ones are spooled to a temporary
	// file in TempDir ("" means os.TempDir()), removed after use, up to
	// MaxSpool bytes. (A member's bytes are charged to the engine's budget
	// as they are spooled.)
	MaxMemZip int64
	MaxSpool  int64
	TempDir   string
	// MaxDictionary caps the memory an xz dictionary or a zstd window
	// may take, per stream being decoded: the header's claim is cut to it
	// before anything is allocated, and a stream that does need more is
	// decoded up to there and reported as an error.
	MaxDictionary int
}

func (o *Options) fill() {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	o.MaxDepth = min(o.MaxDepth, scanner.MaxNesting)
	if o.MaxMembers <= 0 {
		o.MaxMembers = DefaultMaxMembers
	}
	if o.MaxMemZip <= 0 {
		o.MaxMemZip = DefaultMaxMemZip
	}
	if o.MaxSpool <= 0 {
		o.MaxSpool = DefaultMaxSpool
	}
	if o.MaxDictionary <= 0 {
		o.MaxDictionary = DefaultMaxDictionary
	}
}

// Expander opens containers; build it with New. It is a scanner.Decoder
// of whole items only.
type Expander struct {
	scanner.NoSpans
	opts Options
	// members maps the items this expander handed to the engine (by
	// memberKey) to their nesting state while they are being scanned. The
	// engine scans a member synchronously inside Members.Scan, so an entry
	// lives exactly as long as that call.
	members sync.Map
}

var _ scanner.Decoder = (*Expander)(nil)

// New returns an Expander with opts, defaults filled in.
func New(opts Options) *Expander {
	opts.fill()
	return &Expander{opts: opts}
}

// kind is a container format.
type kind int

const (
	kindNone kind = iota
	kindGzip
	kindZip
	kindTar
	kindBzip2
	kindXz
	kindZstd
	kindZlib
)

func (k kind) String() string {
	return [...]string{"", "gzip", "zip", "tar", "bzip2", "xz", "zstd", "zlib"}[k]
}

// sniff recognises a container from its first bytes.
func sniff(head []byte) kind {
	switch {
	case len(head) >= 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		return kindGzip
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")),
		bytes.HasPrefix(head, []byte("PK\x07\x08")):
		return kindZip
	case isTar(head):
		return kindTar
	case isBzip2(head):
		return kindBzip2
	case isXz(head):
		return kindXz
	case isZstd(head):
		return kindZstd
	case isZlib(head):
		return kindZlib
	}
	return kindNone
}

// isBzip2 reports a bzip2 stream: "BZh", the block size digit, then the
// magic of the first block (or of the end of an empty stream), so a text
// file that merely starts with "BZh" is not taken for one.
func isBzip2(head []byte) bool {
	if len(head) < 10 || !bytes.HasPrefix(head, []byte("BZh")) || head[3] < '1' || head[3] > '9' {
		return false
	}
	return bytes.HasPrefix(head[4:], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) ||
		bytes.HasPrefix(head[4:], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})
}

// isTar reports a POSIX or GNU tar header ("ustar" at offset 257).
func isTar(head []byte) bool {
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// session is the state shared by a top-level archive and everything nested
// in it: the member cap is per top-level archive.
type session struct {
	membersLeft atomic.Int64
}

// level is what the expander knows about an item it is scanning.
type level struct {
	depth int // containers around the item: 0 for a top-level item
	s     *session
	// m is the container's Members, for reports about the item.
	m scanner.Members
}

// memberKey identifies a member item between Expand (which registers it)
// and Opens/Open (which look it up when the engine scans it).
func memberKey(it scanner.Item) string {
	return it.Source + "\x00" + it.Object + "\x00" + it.Path
}

func (e *Expander) levelOf(it scanner.Item) (level, bool) {
	v, ok := e.members.Load(memberKey(it))
	if !ok {
		return level{}, false
	}
	return v.(level), true
}

// Opens implements scanner.Decoder: it opens the containers it
// recognises, unless the item is already MaxDepth containers deep (then
// the item is scanned as raw bytes only, and the cut-off reported).
func (e *Expander) Opens(it scanner.Item, head []byte) bool {
	k := sniff(head)
	if k == kindNone {
		return false
	}
	lv, nested := e.levelOf(it)
	if nested && lv.depth >= e.opts.MaxDepth {
		lv.m.Skip(scanner.ErrorAt(it.Path,
			fmt.Sprintf("%s archive nested deeper than %d levels: scanned as raw bytes, members not opened (--archive-depth)", k, e.opts.MaxDepth)))
		return false
	}
	return true
}

// Open implements scanner.Decoder.
func (e *Expander) Open(ctx context.Context, it scanner.Item, r io.Reader, m scanner.Members) error {
	lv, nested := e.levelOf(it)
	if !nested {
		lv.s = &session{}
		lv.s.membersLeft.Store(e.opts.MaxMembers)
	}
	x := &expansion{e: e, ctx: ctx, parent: it, topLevel: !nested, depth: lv.depth + 1, s: lv.s, m: m}
	return x.run(r)
}

// expansion is one container being expanded.
type expansion struct {
	e      *Expander
	ctx    context.Context
	parent scanner.Item
	// topLevel is set when parent came from the source, not from another
	// archive: only then may it be opened a second time (zip).
	topLevel bool
	depth    int // depth of the members
	s        *session
	m        scanner.Members
	// enc is the Encoding of the members: the format that yields them
	// ("zip", "xz/tar").
	enc   string
	names map[string]bool // member paths whose names were scanned (names.go)
}

func (x *expansion) run(r io.Reader) error {
	// An in-memory item arrives as a *bytes.Reader at offset 0: keep it,
	// zip can use it for random access as it is.
	if br, ok := r.(*bytes.Reader); ok {
		head := make([]byte, 512)
		n, _ := br.ReadAt(head, 0)
		if sniff(head[:n]) == kindZip {
			return x.zipAt(br, br.Size())
		}
		return x.stream(sniff(head[:n]), bufio.NewReaderSize(br, 64<<10))
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	return x.stream(sniff(head), br)
}

// stream expands a container of kind k read from br.
func (x *expansion) stream(k kind, br *bufio.Reader) error {
	switch k {
	case kindGzip:
		return x.gzip(br)
	case kindZip:
		return x.zip(br)
	case kindTar:
		return x.tar(br)
	case kindBzip2:
		return x.bzip2(br)
	case kindXz:
		return x.xz(br)
	case kindZstd:
		return x.zstd(br)
	case kindZlib:
		return x.zlib(br)
	}
	// Opens saw a container; the content changed since.
	return errors.New("not a recognised archive (content changed while it was read?)")
}

// member hands one member to the engine, which scans it (and expands it,
// if it is a container) before member returns. open is called at most
// once, by the engine, while the member is scanned; the reader it returns
// may be a scanner.HoleReader.
func (x *expansion) member(name string, open func() (io.Reader, error)) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	if x.s.membersLeft.Add(-1) < 0 {
		return fmt.Errorf("member limit (%d per archive) reached: remaining members not scanned", x.e.opts.MaxMembers)
	}
	clean, odd := sanitizeName(name)
	path := x.outer() + "!" + clean
	if odd {
		x.m.Skip(scanner.ExcludedAt(path, fmt.Sprintf("member name %q rewritten to %q", name, clean)))
	}
	if err := x.scanNames(clean); err != nil {
		return err
	}
	child := scanner.Item{
		Path:   path,
		Source: x.parent.Source,
		Object: x.parent.Object,
		// Sizes in archive headers are the archive author's claim; the
		// budget, not the header, bounds what is read.
		Size:     -1,
		Template: x.parent.Template,
		Encoding: x.enc,
		// Members are neither files nor blobs: counting them would inflate
		// the coverage the user compares with their file count.
		Counts: scanner.CountNone,
		// A member streams out of its archive: it cannot be re-read.
		Once: true,
	}
	used := false
	child.Open = func() (io.ReadCloser, error) {
		if used {
			return nil, errors.New("archive member can only be read once")
		}
		used = true
		rd, err := open()
		if err != nil {
			return nil, err
		}
		if h, ok := rd.(scanner.HoleReader); ok {
			return holeCloser{h}, nil
		}
		return io.NopCloser(rd), nil
	}
	key := memberKey(child)
	x.e.members.Store(key, level{depth: x.depth, s: x.s, m: x.m})
	defer x.e.members.Delete(key)
	return x.m.Scan(child)
}

// holeCloser is a member reader with holes, as an io.ReadCloser.
type holeCloser struct{ scanner.HoleReader }

func (holeCloser) Close() error { return nil }

// outer is the display path of the container: its Path, or for a git
// blob (scanned before its paths are known) its object id, which the git
// source's attribution replaces with the blob's path.
func (x *expansion) outer() string {
	if x.parent.Path != "" {
		return x.parent.Path
	}
	if x.parent.Object != "" {
		return x.parent.Object
	}
	return "(" + x.parent.Source + ")"
}

// sanitizeName turns an archive member name into a safe display path:
// slash-separated, relative, without "." or ".." components or control
// characters. odd reports that the name had to be changed (beyond turning
// '\' into '/' and dropping a trailing '/').
func sanitizeName(name string) (clean string, odd bool) {
	n := strings.ReplaceAll(name, "\\", "/")
	var parts []string
	for _, p := range strings.Split(n, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			odd = true
			continue
		}
		parts = append(parts, p)
	}
	if strings.HasPrefix(n, "/") {
		odd = true
	}
	clean = strings.Join(parts, "/")
	clean = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			odd = true
			return '?'
		}
		return r
	}, clean)
	if clean == "" {
		clean, odd = "(unnamed)", name != ""
	}
	return clean, odd
}

// readError turns a decoder's error into a formatError (a damaged
// container, scanner.ErrMalformed) naming the problem plainly. Only errors
// that decoders make about their input are converted: the reader's own
// errors (an unreadable file, the spent budget, cancellation) pass through
// unchanged, so a read failure is never mistaken for damage.
func readError(format string, err error) error {
	var fe formatError
	var ce flate.CorruptInputError
	var kce kflate.CorruptInputError
	var se bzip2.StructuralError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return formatError{"truncated " + format}
	case errors.As(err, &ce), errors.As(err, &kce), errors.As(err, &se), errors.Is(err, gzip.ErrHeader),
		errors.Is(err, gzip.ErrChecksum), errors.Is(err, kgzip.ErrHeader), errors.Is(err, kgzip.ErrChecksum), isZipFormatError(err):
		return formatError{"corrupt " + format + ": " + err.Error()}
	}
	return err
}

// formatError is a corrupt or truncated container: it matches
// scanner.ErrMalformed.
type formatError struct{ msg string }

func (f formatError) Error() string { return f.msg }

// Is makes a formatError match scanner.ErrMalformed.
func (f formatError) Is(target error) bool { return target == scanner.ErrMalformed }

// mapReader passes io.EOF through and turns a decoder's other errors into
// formatErrors (see readError).
type mapReader struct {
	r      io.Reader
	format string
}

func (m *mapReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err != nil && err != io.EOF {
		err = readError(m.format, err)
	}
	return n, err
}
