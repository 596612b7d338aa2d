// Package archive is the scanner's Expander for compressed files and
// archives: gzip (.gz), zip (.zip and zip-based formats such as .jar, .whl,
// .apk, .docx), tar, and gzip-compressed tar (.tar.gz, .tgz), nested to a
// bounded depth.
//
// Containers are recognised by their first bytes, never by their name
// alone. Members become scanner.Items whose Path is
// "outer.zip!inner/path" (one '!' per level), so findings and coverage
// name the member; a gzip stream whose content is a tar is one archive
// ("x.tar.gz!member"), not two levels.
//
// Hostile input is bounded: decompressed bytes per top-level archive
// (every nested level included), decompression ratio, member count and
// nesting depth are capped (Options). Whatever a cap cuts off, and every
// corrupt or truncated container, is reported — as the error Expand returns
// (which the engine records as a Skipped entry with Error set against the
// archive), as a read error of the member being scanned (recorded against
// the member), or through Options.Report. Member names are sanitised: no
// leading '/', no "." or ".." components, no control characters.
package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/xaiscan/xaiscan/scanner"
)

// Defaults for Options.
const (
	DefaultMaxDepth   = 3
	DefaultMaxBytes   = 1 << 30
	DefaultMaxRatio   = 100
	DefaultRatioFloor = 8 << 20
	DefaultMaxMembers = 100_000
	DefaultMaxMemZip  = 64 << 20
)

// Options bound what an Expander will do. Zero fields take the defaults.
type Options struct {
	// MaxDepth is how many container levels are opened: 3 opens a zip in
	// a tar.gz in a gz, and scans a container found deeper as raw bytes
	// (reported).
	MaxDepth int
	// MaxBytes caps the decompressed bytes read from one top-level
	// archive, all nested levels included.
	MaxBytes int64
	// MaxRatio caps decompressed/compressed bytes, per zip member and per
	// gzip stream, once more than RatioFloor bytes came out: real data
	// rarely compresses beyond 20:1, bombs do 1000:1.
	MaxRatio   int64
	RatioFloor int64
	// MaxMembers caps the members of one top-level archive, nested levels
	// included.
	MaxMembers int64
	// MaxMemZip is the largest zip read from a stream (standard input, a
	// git blob, a member of another archive) that is held in memory to get
	// the random access zip needs; larger ones are spooled to a temporary
	// file in TempDir ("" means os.TempDir()), removed after use.
	MaxMemZip int64
	TempDir   string
	// Report, if set, receives what the expander cut off or changed while
	// it carried on: members skipped by a cap, nested containers beyond
	// MaxDepth, encrypted zip members (Error set), and renamed member paths
	// (Error false). It may be called from several goroutines at once. When
	// nil, the entries with Error set are folded into the error Expand
	// returns for the top-level item, and the others are dropped.
	Report func(scanner.Skipped)
}

func (o *Options) fill() {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	if o.RatioFloor <= 0 {
		o.RatioFloor = DefaultRatioFloor
	}
	if o.MaxMembers <= 0 {
		o.MaxMembers = DefaultMaxMembers
	}
	if o.MaxMemZip <= 0 {
		o.MaxMemZip = DefaultMaxMemZip
	}
}

// Expander opens containers; build it with New.
type Expander struct {
	opts Options
	// members maps the items this expander handed to the engine (by
	// memberKey) to their nesting state while they are being scanned. The
	// engine scans a member synchronously inside Expand's scan callback,
	// so an entry lives exactly as long as that call.
	members sync.Map
}

var _ scanner.Expander = (*Expander)(nil)

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
)

func (k kind) String() string {
	return [...]string{"", "gzip", "zip", "tar", "bzip2"}[k]
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
// in it: the caps are per top-level archive.
type session struct {
	bytesLeft   atomic.Int64
	membersLeft atomic.Int64
	mu          sync.Mutex
	cut         []string // cut-offs to fold into the top-level error when Report is nil
}

// level is what the expander knows about an item it is scanning.
type level struct {
	depth int // containers around the item: 0 for a top-level item
	s     *session
}

// memberKey identifies a member item between Expand (which registers it)
// and Wants/Expand (which look it up when the engine scans it).
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

// Wants implements scanner.Expander: it opens gzip, zip and tar content,
// unless the item is already MaxDepth containers deep (then the item is
// scanned as raw bytes and the cut-off reported).
func (e *Expander) Wants(it scanner.Item, head []byte) bool {
	k := sniff(head)
	if k == kindNone {
		return false
	}
	lv, nested := e.levelOf(it)
	if nested && lv.depth >= e.opts.MaxDepth {
		e.report(lv.s, scanner.Skipped{Path: it.Path, Kind: scanner.KindError,
			Reason: fmt.Sprintf("%s archive nested deeper than %d levels: scanned as raw bytes, members not opened", k, e.opts.MaxDepth)})
		return false
	}
	return true
}

// report records a cut-off or a rename.
func (e *Expander) report(s *session, sk scanner.Skipped) {
	if e.opts.Report != nil {
		e.opts.Report(sk)
		return
	}
	if sk.IsError() && s != nil {
		s.mu.Lock()
		s.cut = append(s.cut, sk.Path+": "+sk.Reason)
		s.mu.Unlock()
	}
}

// Expand implements scanner.Expander.
func (e *Expander) Expand(ctx context.Context, it scanner.Item, r io.Reader, scan func(scanner.Item)) error {
	lv, nested := e.levelOf(it)
	if !nested {
		lv.s = &session{}
		lv.s.bytesLeft.Store(e.opts.MaxBytes)
		lv.s.membersLeft.Store(e.opts.MaxMembers)
	}
	x := &expansion{e: e, ctx: ctx, parent: it, topLevel: !nested, depth: lv.depth + 1, s: lv.s, scan: scan}
	err := x.run(r)
	if !nested && e.opts.Report == nil {
		lv.s.mu.Lock()
		cut := lv.s.cut
		lv.s.mu.Unlock()
		if len(cut) > 0 {
			const show = 5
			msg := "not fully scanned: " + strings.Join(cut[:min(show, len(cut))], "; ")
			if len(cut) > show {
				msg += fmt.Sprintf("; and %d more", len(cut)-show)
			}
			err = errors.Join(err, errors.New(msg))
		}
	}
	return err
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
	scan     func(scanner.Item)
}

func (x *expansion) run(r io.Reader) error {
	// An in-memory item arrives as a *bytes.Reader at offset 0: keep it,
	// zip can use it for random access as it is.
	if br, ok := r.(*bytes.Reader); ok {
		head := make([]byte, 512)
		n, _ := br.ReadAt(head, 0)
		switch sniff(head[:n]) {
		case kindGzip:
			return x.gzip(br)
		case kindZip:
			return x.zipAt(br, br.Size())
		case kindTar:
			return x.tar(br)
		case kindBzip2:
			return x.bzip2(br)
		}
		return errors.New("not a recognised archive (content changed while it was read?)")
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	switch sniff(head) {
	case kindGzip:
		return x.gzip(br)
	case kindZip:
		return x.zip(br)
	case kindTar:
		return x.tar(br)
	case kindBzip2:
		return x.bzip2(br)
	}
	// Wants saw a container; the content changed since.
	return errors.New("not a recognised archive (content changed while it was read?)")
}

// member hands one member to the engine, which scans it (and expands it,
// if it is a container) before member returns. open is called at most
// once, by the engine, while scan runs.
func (x *expansion) member(name string, open func() (io.Reader, error)) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	if x.s.membersLeft.Add(-1) < 0 {
		return capError{fmt.Sprintf("member limit (%d) reached: remaining members not scanned", x.e.opts.MaxMembers)}
	}
	clean, odd := sanitizeName(name)
	path := x.outer() + "!" + clean
	if odd {
		x.e.report(x.s, scanner.Skipped{Path: path,
			Reason: fmt.Sprintf("member name %q rewritten to %q", name, clean), Kind: scanner.KindExcluded})
	}
	child := scanner.Item{
		Path:   path,
		Source: x.parent.Source,
		Object: x.parent.Object,
		// Sizes in archive headers are the archive author's claim; the
		// budget, not the header, bounds what is read.
		Size:     -1,
		Template: x.parent.Template,
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
		return io.NopCloser(&budgetReader{r: rd, s: x.s, max: x.e.opts.MaxBytes}), nil
	}
	key := memberKey(child)
	x.e.members.Store(key, level{depth: x.depth, s: x.s})
	defer x.e.members.Delete(key)
	x.scan(child)
	if x.s.bytesLeft.Load() <= 0 {
		return capError{fmt.Sprintf("decompressed size limit (%s) reached: remaining members not scanned", size2str(x.e.opts.MaxBytes))}
	}
	return nil
}

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

// budgetReader charges every byte read to the session's decompressed-bytes
// budget, and fails once it is spent.
type budgetReader struct {
	r   io.Reader
	s   *session
	max int64
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.s.bytesLeft.Load() <= 0 {
		return 0, capError{fmt.Sprintf("decompressed size limit (%s) reached: rest not scanned", size2str(b.max))}
	}
	n, err := b.r.Read(p)
	b.s.bytesLeft.Add(-int64(n))
	return n, err
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

func size2str(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// readError turns a decompressor's or reader's error into one that names
// the problem plainly and, crucially, does not match io.EOF or
// io.ErrUnexpectedEOF: the engine reads with io.ReadFull and treats those
// as a normal end of content, which would hide a truncated archive. Errors
// this package already made (caps, inner formats) pass through unchanged.
func readError(format string, err error) error {
	var ce capError
	var fe formatError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce), errors.As(err, &fe):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return formatError{"truncated " + format}
	}
	return formatError{"corrupt " + format + ": " + err.Error()}
}

// formatError is a corrupt or truncated container.
type formatError struct{ msg string }

func (f formatError) Error() string { return f.msg }

// capError is a cap that tripped.
type capError struct{ msg string }

func (c capError) Error() string { return c.msg }

// newBufReader buffers decompressed content so its first bytes can be
// sniffed without consuming them.
func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }
