package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// Archives are built here rather than with archive_test.go's helpers, so
// the fuzz targets stand alone.

type fzFile struct {
	name string
	data []byte
}

func fzTar(files ...fzFile) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		if tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}) != nil {
			return nil
		}
		tw.Write(f.data)
	}
	if tw.Close() != nil {
		return nil
	}
	return b.Bytes()
}

func fzZip(method uint16, files ...fzFile) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
		if err != nil {
			return nil
		}
		w.Write(f.data)
	}
	if zw.Close() != nil {
		return nil
	}
	return b.Bytes()
}

func fzGzip(name string, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Name = name
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// fzBzip2 compresses with the bzip2 binary, when there is one (Go has
// only a decompressor).
func fzBzip2(data []byte) []byte {
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		return nil
	}
	return out
}

// Bounds the fuzzed expander runs with.
const (
	fzMaxBytes   = 512 << 10
	fzMaxMembers = 64
)

// fzScan runs the engine and the expander over one item, as a file and
// as a stream.
func fzScan(t *testing.T, name string, data []byte) []scanner.Result {
	t.Helper()
	eng := scanner.New(scanner.Options{Workers: 1, ChunkSize: 4096, MaxDecodedBytes: fzMaxBytes,
		Decoders: []scanner.Decoder{New(Options{MaxMembers: fzMaxMembers})}})
	var out []scanner.Result
	for _, it := range []scanner.Item{
		{Path: name, Source: scanner.SourceFile, Data: data, Size: int64(len(data)), Counts: scanner.CountFile},
		{Path: name, Source: scanner.SourceStdin, Size: -1, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }},
	} {
		res, err := eng.Run(context.Background(), scanner.ItemList([]scanner.Item{it}))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		out = append(out, res)
	}
	return out
}

// checkMemberPath fails unless every member part of p (after outer!) is
// a safe display path: relative, no "." or ".." or empty component, no
// C0 control or DEL. (A member's own name may hold '!', so the levels of
// a path are ambiguous; empty levels are passed over.)
func checkMemberPath(t *testing.T, outer, p string) {
	t.Helper()
	if !strings.HasPrefix(p, outer+"!") {
		return
	}
	for _, m := range strings.Split(p[len(outer)+1:], "!") {
		if m == "" {
			continue // a '!' in a member's own name
		}
		for _, c := range strings.Split(m, "/") {
			if c == "" || c == "." || c == ".." {
				t.Fatalf("member path %q has a %q component", p, c)
			}
		}
		for i := 0; i < len(m); i++ {
			if m[i] < 0x20 || m[i] == 0x7f {
				t.Fatalf("member path %q holds control byte %#x", p, m[i])
			}
		}
	}
}

// FuzzExpand: any bytes, scanned as a file and as a stream, never panic
// the expander or the engine; every member path is sanitised; what is
// read stays within the decompression budget; and content that is not a
// container yields no members.
func FuzzExpand(f *testing.F) {
	k := []byte("K=" + rulestest.APIKey() + "\n")
	tarball := fzTar(fzFile{"dir/a.env", k}, fzFile{"../up/b.txt", []byte("b")}, fzFile{"/abs\x1b[2J.txt", k})
	f.Add(tarball)
	f.Add(fzGzip("a.tar", tarball))
	f.Add(fzGzip("x\\..\\y.txt", k))
	f.Add(fzZip(zip.Deflate, fzFile{"a/b.env", k}, fzFile{"./c/../d", []byte("d")}, fzFile{"inner.zip", fzZip(zip.Store, fzFile{"deep.txt", k})}))
	f.Add(fzZip(zip.Store, fzFile{"z", nil}))
	f.Add(fzTar(fzFile{"n.tar.gz", fzGzip("", fzTar(fzFile{"m.zip", fzZip(zip.Deflate, fzFile{"k", k})}))}))
	f.Add(fzGzip("bomb", make([]byte, 2<<20)))
	if b := fzBzip2(tarball); b != nil {
		f.Add(b)
	}
	f.Add(fzTar(fzFile{"!bang", k}, fzFile{"x!y/z", k}))
	f.Add([]byte("PK\x03\x04 not really a zip"))
	f.Add([]byte("\x1f\x8b\x08 truncated gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const outer = "in.bin"
		head := data[:min(len(data), 512)]
		container := New(Options{}).Opens(scanner.Item{Path: outer, Source: scanner.SourceFile}, head)
		for _, res := range fzScan(t, outer, data) {
			if limit := 2*int64(len(data)) + fzMaxBytes + 1<<20; res.Coverage.Bytes > limit {
				t.Fatalf("read %d bytes from %d (limit %d)", res.Coverage.Bytes, len(data), limit)
			}
			var paths []string
			for _, fd := range res.Findings {
				paths = append(paths, fd.Path)
			}
			for _, s := range res.Coverage.Skipped {
				paths = append(paths, s.Path)
			}
			for _, p := range paths {
				checkMemberPath(t, outer, p)
				if !container && strings.HasPrefix(p, outer+"!") {
					t.Fatalf("member %q of content that is no container", p)
				}
			}
		}
	})
}

// FuzzMemberName: a member of any name, in a tar and a zip, is reported
// under a sanitised name; the sanitised name is left as it is (stable),
// and a name that needed no change is reported unchanged.
func FuzzMemberName(f *testing.F) {
	for _, n := range []string{"a/b.env", "../../etc/passwd", "/abs/x", "a\\b\\c", "./x/./y", "dir/", "\x1b]0;title\x07.txt", "ok\ttab", "\u009b2J", "x\x00y", "", ".", "a//b", "ünï/cödé", "\xcc0", "a!b"} {
		f.Add(n)
	}
	key := "K=" + rulestest.APIKey() + "\n"
	f.Fuzz(func(t *testing.T, name string) {
		if strings.HasSuffix(name, "/") || strings.ContainsRune(name, '!') {
			return // directories have no content; '!' separates levels
		}
		for _, build := range []func(string) []byte{
			func(n string) []byte { return fzTar(fzFile{n, []byte(key)}) },
			func(n string) []byte { return fzZip(zip.Deflate, fzFile{n, []byte(key)}) },
		} {
			arc := build(name)
			if arc == nil {
				continue // the writer refuses the name
			}
			got := memberOfKey(t, arc)
			if got == "" {
				continue // e.g. a zip "directory" or a tar header the reader skips
			}
			clean := strings.TrimPrefix(got, "in.bin!")
			checkMemberPath(t, "in.bin", got)
			if safeName(name) && clean != name {
				t.Fatalf("name %q needed no change, reported as %q", name, clean)
			}
			if again := memberOfKey(t, build(clean)); again != got {
				t.Fatalf("name %q: sanitised to %q, which is reported as %q", name, clean, again)
			}
		}
	})
}

// safeName reports a member name that is already a safe display path.
func safeName(n string) bool {
	// Names that are not UTF-8 are rewritten (bytes become U+FFFD).
	if n == "" || strings.ContainsAny(n, "\\") || !utf8.ValidString(n) {
		return false
	}
	for _, c := range strings.Split(n, "/") {
		if c == "" || c == "." || c == ".." {
			return false
		}
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x20 || n[i] == 0x7f {
			return false
		}
	}
	return true
}

// memberOfKey scans an archive holding one member with a key and returns
// the path the finding names ("" when there is none).
func memberOfKey(t *testing.T, arc []byte) string {
	t.Helper()
	res := fzScan(t, "in.bin", arc)[0]
	for _, fd := range res.Findings {
		if strings.HasPrefix(fd.Path, "in.bin!") {
			return fd.Path
		}
	}
	return ""
}
