package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
)

// gzip expands a gzip stream: a tar inside is expanded at this same level
// ("x.tar.gz!member"); anything else is the one member, named after the
// gzip header's original name or the outer name without ".gz".
func (x *expansion) gzip(r io.Reader) error {
	cr := &countReader{r: r}
	zr, err := gzip.NewReader(cr)
	if err != nil {
		return readError("gzip stream", err)
	}
	defer zr.Close()
	return x.decompressed("gzip stream", zr, cr, zr.Name, ".tgz", ".gz")
}

// bzip2 expands a bzip2 stream as gzip does (".tar.bz2", ".tbz2", ".bz2").
func (x *expansion) bzip2(r io.Reader) error {
	cr := &countReader{r: r}
	return x.decompressed("bzip2 stream", bzip2.NewReader(cr), cr, "", ".tbz2", ".bz2")
}

// decompressed expands the content of a compressed stream zr read from cr:
// a tar inside is expanded at this same level; anything else is the one
// member, named origName (from the stream's header) or the outer name
// without its compression suffix (tarExt names a tar: ".tgz" -> ".tar").
func (x *expansion) decompressed(format string, zr io.Reader, cr *countReader, origName, tarExt, ext string) error {
	rr := &ratioReader{r: zr, format: format, comp: func() int64 { return cr.n }, e: x.e}
	br := newBufReader(rr)
	head, _ := br.Peek(512)
	if isTar(head) {
		return x.tar(br)
	}
	name := path.Base(strings.ReplaceAll(origName, "\\", "/"))
	if origName == "" || name == "." || name == "/" {
		name = path.Base(x.outer())
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
	// A cap that tripped on the stream is reported on the member by the
	// engine; say here too that the archive as a whole was cut short.
	if rr.err != nil {
		var ce capError
		if errors.As(rr.err, &ce) {
			return rr.err
		}
	}
	return nil
}

// tar expands a tar stream member by member. Only regular files have
// content to scan; directories, links and devices are passed over.
func (x *expansion) tar(r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, tar.ErrInsecurePath):
			// Names are sanitised (and the rewrite reported) by member.
		case err != nil:
			return readError("tar archive", err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00' && hdr.Typeflag != tar.TypeGNUSparse {
			continue
		}
		err = x.member(hdr.Name, func() (io.Reader, error) {
			return &mapReader{r: tr, format: "tar archive"}, nil
		})
		if err != nil {
			return err
		}
	}
}

// zip expands a zip read from a stream. zip needs random access: a regular
// file is opened again and read in place; anything else is held in memory
// or spooled to a temporary file.
func (x *expansion) zip(r io.Reader) error {
	if x.topLevel && x.parent.Source == scanner.SourceFile && x.parent.Open != nil {
		if rc, err := x.parent.Open(); err == nil {
			if f, ok := rc.(*os.File); ok {
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
	limit := x.e.opts.MaxBytes
	total, err := io.Copy(f, io.LimitReader(io.MultiReader(&buf, r), limit+1))
	if err != nil {
		return fmt.Errorf("cannot spool zip archive to a temporary file: %w", readError("zip archive", err))
	}
	if total > limit {
		return fmt.Errorf("zip archive read from a stream is larger than %s: not scanned", size2str(limit))
	}
	return x.zipAt(f, total)
}

// zipAt expands a zip with random access to its bytes.
func (x *expansion) zipAt(ra io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return fmt.Errorf("truncated or corrupt zip archive: %w", err)
	}
	for _, f := range zr.File {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		mode := f.Mode()
		if mode.IsDir() || strings.HasSuffix(f.Name, "/") || mode&os.ModeSymlink != 0 {
			continue
		}
		if f.Flags&0x1 != 0 {
			clean, _ := sanitizeName(f.Name)
			x.e.report(x.s, scanner.Skipped{Path: x.outer() + "!" + clean, Kind: scanner.KindError,
				Reason: "encrypted zip member: not scanned"})
			continue
		}
		var rc io.ReadCloser
		err := x.member(f.Name, func() (io.Reader, error) {
			var err error
			if rc, err = f.Open(); err != nil {
				return nil, readError("zip member", err)
			}
			comp := max(int64(f.CompressedSize64), 1)
			return &ratioReader{r: rc, format: "zip member", comp: func() int64 { return comp }, e: x.e}, nil
		})
		if rc != nil {
			rc.Close()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// countReader counts the bytes read through it: the compressed side of a
// gzip stream, for the ratio cap.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// mapReader passes io.EOF through and turns every other error into one the
// engine cannot mistake for a normal end (see readError).
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

// ratioReader is a mapReader that also fails, for good, once more than
// RatioFloor bytes came out and more than MaxRatio times the compressed
// bytes consumed so far.
type ratioReader struct {
	r      io.Reader
	format string
	comp   func() int64
	e      *Expander
	out    int64
	err    error
}

func (rr *ratioReader) Read(p []byte) (int, error) {
	if rr.err != nil {
		return 0, rr.err
	}
	n, err := rr.r.Read(p)
	rr.out += int64(n)
	o := &rr.e.opts
	if rr.out > o.RatioFloor && rr.out/o.MaxRatio > rr.comp() {
		rr.err = capError{fmt.Sprintf("%s decompresses more than %d:1 (a zip bomb?): rest not scanned", rr.format, o.MaxRatio)}
		return n, rr.err
	}
	if err != nil && err != io.EOF {
		rr.err = readError(rr.format, err)
		return n, rr.err
	}
	return n, err
}
