package archive

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/xaiscan/xaiscan/scanner"
)

// gzip expands a gzip file: one or more gzip members back to back, read
// as one stream, as gzip -d does. A tar inside is expanded at this same
// level ("x.tar.gz!member"); anything else is the one member, named after
// the gzip header's original name or the outer name without ".gz".
func (x *expansion) gzip(br *bufio.Reader) error {
	zr, err := kgzip.NewReader(br)
	if err != nil {
		return readError("gzip stream", err)
	}
	defer zr.Close()
	zr.Multistream(false)
	gs := &gzipStreams{zr: zr, br: br}
	x.enc = "gzip"
	return x.decompressed("gzip stream", gs, zr.Name, ".tgz", ".gz", func() error { return gs.tail })
}

// bzip2 expands a bzip2 stream as gzip does (".tar.bz2", ".tbz2", ".bz2").
// Go's bzip2 reader reads concatenated streams itself.
func (x *expansion) bzip2(br *bufio.Reader) error {
	x.enc = "bzip2"
	return x.decompressed("bzip2 stream", bzip2.NewReader(br), "", ".tbz2", ".bz2", func() error { return nil })
}

// decompressed expands the content of a compressed stream zr: a tar
// inside is expanded at this same level; anything else is the one member,
// named origName (from the stream's header) or the outer name without its
// compression suffix (tarExt names a tar: ".tgz" -> ".tar"). tail reports
// damage found after the content ended (garbage after a gzip stream).
func (x *expansion) decompressed(format string, zr io.Reader, origName, tarExt, ext string, tail func() error) error {
	br := newBufReader(&mapReader{r: zr, format: format})
	head, _ := br.Peek(512)
	if isTar(head) {
		if err := x.tar(br); err != nil {
			return err
		}
		return tail()
	}
	if origName == "" && x.parent.View {
		// A stream decoded from text (base64 of a gzip in a YAML file)
		// has no name: its content is still that file's.
		return x.viewMember(br, tail)
	}
	name := path.Base(strings.ReplaceAll(origName, "\\", "/"))
	if origName == "" || name == "." || name == "/" {
		// (The outer name's last level: a member's path holds its
		// container's, "a.zip!x.gz".)
		outer := x.outer()
		name = path.Base(outer[strings.LastIndexByte(outer, '!')+1:])
		switch lower := strings.ToLower(name); {
		case strings.HasSuffix(lower, tarExt):
			name = name[:len(name)-len(tarExt)] + ".tar"
		case strings.HasSuffix(lower, ext):
			name = name[:len(name)-len(ext)]
		}
	}
	if err := x.member(name, func() (io.Reader, error) { return br, nil }); err != nil {
		return err
	}
	return tail()
}

// viewMember hands on the content of a compressed stream decoded from
// text as a view of the same file: same path, no member name.
func (x *expansion) viewMember(br io.Reader, tail func() error) error {
	if err := x.ctx.Err(); err != nil {
		return err
	}
	child := scanner.Item{Path: x.parent.Path, Source: x.parent.Source, Object: x.parent.Object, Size: -1,
		Template: x.parent.Template, Counts: scanner.CountNone, Once: true, Encoding: x.enc, View: true,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(br), nil }}
	if err := x.m.Scan(child); err != nil {
		return err
	}
	return tail()
}

// gzipStreams reads the members of a gzip file one after the other. What
// follows the last member ends the content: zeros (padding) silently,
// other bytes as damage (the engine scans them raw).
type gzipStreams struct {
	zr   *kgzip.Reader
	br   *bufio.Reader
	done bool
	err  error // why the stream ended early, if it did
	tail error // damage after the last member
}

func (g *gzipStreams) Read(p []byte) (int, error) {
	for {
		if g.done {
			if g.err != nil {
				return 0, g.err
			}
			return 0, io.EOF
		}
		n, err := g.zr.Read(p)
		if err != io.EOF {
			return n, err
		}
		more, err := g.next()
		if !more {
			g.done, g.err = true, err
		}
		if n > 0 {
			return n, nil
		}
	}
}

// next moves to the next gzip member, or reports that there is none.
func (g *gzipStreams) next() (more bool, err error) {
	head, err := g.br.Peek(3)
	switch {
	case len(head) == 0 && err == io.EOF:
		return false, nil
	case len(head) == 0:
		return false, err
	case len(head) == 3 && head[0] == 0x1f && head[1] == 0x8b && head[2] == 8:
		if err := g.zr.Reset(g.br); err != nil {
			return false, readError("gzip stream", err)
		}
		g.zr.Multistream(false)
		return true, nil
	}
	// Padding is zeros; look at a bounded stretch of what follows (the
	// engine scans all of it raw anyway).
	var z zeroCheck
	if _, err := io.CopyN(&z, g.br, maxPadding); err != nil && err != errNonZero && err != io.EOF {
		return false, err
	}
	if z.nonzero {
		g.tail = formatError{"data after the end of the gzip stream is not gzip"}
	}
	return false, nil
}

// maxPadding is how much of what follows the end of a stream is checked
// for being zero padding.
const maxPadding = 1 << 20

// zeroCheck is a writer that fails at the first byte that is not zero.
type zeroCheck struct{ nonzero bool }

var errNonZero = errors.New("non-zero byte")

func (z *zeroCheck) Write(p []byte) (int, error) {
	for _, c := range p {
		if c != 0 {
			z.nonzero = true
			return 0, errNonZero
		}
	}
	return len(p), nil
}

// fileLike is an opened regular file: what zip needs for random access.
type fileLike interface {
	io.ReaderAt
	io.Closer
	Stat() (fs.FileInfo, error)
}

// zip expands a zip read from a stream. zip needs random access: a regular
// file is opened again and read in place; anything else is held in memory
// or spooled to a temporary file. (The engine scans the stream's bytes raw
// as they pass, so nothing here needs to read them twice.)
func (x *expansion) zip(r io.Reader) error {
	if x.topLevel && x.parent.Source == scanner.SourceFile && x.parent.Open != nil {
		if rc, err := x.parent.Open(); err == nil {
			if f, ok := rc.(fileLike); ok {
				if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
					defer f.Close()
					return x.zipAt(f, st.Size())
				}
			}
			rc.Close()
		}
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, x.e.opts.MaxMemZip+1))
	if err != nil {
		return readError("zip archive", err)
	}
	if n <= x.e.opts.MaxMemZip {
		return x.zipAt(bytes.NewReader(buf.Bytes()), n)
	}
	f, err := os.CreateTemp(x.e.opts.TempDir, "xaiscan-zip-*")
	if err != nil {
		return fmt.Errorf("cannot spool zip archive to a temporary file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	limit := x.e.opts.MaxSpool
	total, err := io.Copy(f, io.LimitReader(io.MultiReader(&buf, r), limit+1))
	if err != nil {
		return fmt.Errorf("cannot spool zip archive to a temporary file: %w", readError("zip archive", err))
	}
	if total > limit {
		return fmt.Errorf("zip archive read from a stream is larger than %s: members not scanned", scanner.SizeString(limit))
	}
	return x.zipAt(f, total)
}

// zipAt expands a zip with random access to its bytes, by its central
// directory; without a usable one, from its local headers.
func (x *expansion) zipAt(ra io.ReaderAt, size int64) error {
	x.enc = "zip"
	zr, err := zip.NewReader(ra, size)
	if zr != nil {
		zr.RegisterDecompressor(zipBzip2, newBzip2Reader)
	}
	if err == nil {
		err = misplacedMembers(zr)
	}
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if !isZipFormatError(err) {
			return err
		}
		lerr := x.zipLocal(io.NewSectionReader(ra, 0, size))
		if lerr != nil && !errors.Is(lerr, scanner.ErrMalformed) {
			return lerr
		}
		return formatError{fmt.Sprintf("zip archive without a readable central directory (%v): members read from their local headers", err)}
	}
	for _, f := range zr.File {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		mode := f.Mode()
		if mode.IsDir() || strings.HasSuffix(f.Name, "/") || mode&os.ModeSymlink != 0 {
			x.nameOnly(f.Name)
			continue
		}
		if skip := x.undecodable(f.Name, f.Flags, f.Method); skip {
			continue
		}
		var rc io.ReadCloser
		err := x.member(f.Name, func() (io.Reader, error) {
			var err error
			if rc, err = f.Open(); err != nil {
				return nil, readError("zip member", err)
			}
			return &mapReader{r: rc, format: "zip member"}, nil
		})
		if rc != nil {
			rc.Close()
		}
		if err != nil {
			return err
		}
		if isOOXMLText(f.Name) {
			if err := x.ooxmlText(f); err != nil {
				return err
			}
		}
	}
	return nil
}

// misplacedMembers checks that the central directory's offsets lead to
// local headers. A directory whose end record gives a wrong offset (a
// damaged or hand-edited archive) parses, yet every member then fails to
// open; the local headers still hold each member, so the caller reads them
// front to back instead. The error wraps zip.ErrFormat.
func misplacedMembers(zr *zip.Reader) error {
	for _, f := range zr.File {
		if _, err := f.DataOffset(); err != nil { // (the name is untrusted: not quoted)
			return fmt.Errorf("no local header at the offset the central directory gives a member: %w", zip.ErrFormat)
		}
	}
	return nil
}

// Zip compression methods this package decodes, beyond store and deflate.
const (
	zipBzip2 = 12
	// zipAES marks a member encrypted with AES (WinZip's AE-x).
	zipAES = 99
)

// zipMethods names the compression methods of the zip specification
// (APPNOTE 4.4.5) that this package does not decode: content another tool
// could read, so leaving it unread is an error. Any other number is no
// method at all: damage.
var zipMethods = map[uint16]string{
	1: "shrink", 2: "reduce", 3: "reduce", 4: "reduce", 5: "reduce", 6: "implode",
	9: "deflate64", 10: "IBM TERSE (old)", 14: "LZMA", 16: "IBM z/OS CMPSC", 18: "IBM TERSE",
	19: "IBM LZ77", 20: "zstd (old id)", 93: "zstd", 94: "MP3", 95: "xz", 96: "JPEG",
	97: "WavPack", 98: "PPMd",
}

// undecodable reports (and records) a zip member this package cannot
// decode. An encrypted member is a note: without its password no tool can
// read it (its raw bytes were scanned). A member compressed with a method
// of the specification this package lacks is an error; one with a method
// number the specification does not define is damage (a note).
func (x *expansion) undecodable(name string, flags, method uint16) bool {
	clean, _ := sanitizeName(name)
	p := x.outer() + "!" + clean
	switch {
	case flags&0x1 != 0 || method == zipAES:
		x.m.Skip(scanner.NoteAt(p, "encrypted zip member: unreadable without its password (its raw bytes were scanned)"))
		return true
	case method == zip.Store || method == zip.Deflate || method == zipBzip2:
		return false
	case zipMethods[method] != "":
		x.m.Skip(scanner.ErrorAt(p, fmt.Sprintf("zip member compressed with %s (method %d), which xaiscan does not decode: not scanned", zipMethods[method], method)))
	default:
		x.m.Skip(scanner.NoteAt(p, fmt.Sprintf("zip member with unknown compression method %d: damaged (its raw bytes were scanned)", method)))
	}
	return true
}

// newBzip2Reader is the zip decompressor for method 12.
func newBzip2Reader(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) }

// isZipFormatError reports archive/zip's errors about its input.
func isZipFormatError(err error) bool {
	return errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// newBufReader buffers decompressed content so its first bytes can be
// sniffed without consuming them.
func newBufReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }
