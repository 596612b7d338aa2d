package archive

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/decode"
)

func dataItem(path string, b []byte) scanner.Item {
	return scanner.Item{Path: path, Source: scanner.SourceFile, Data: b, Size: int64(len(b)), Counts: scanner.CountFile}
}

// streamItem is content that can only be read once, front to back, as
// standard input is.
func streamItem(path string, b []byte) scanner.Item {
	return scanner.Item{Path: path, Source: scanner.SourceStdin, Size: -1,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// scan runs the real engine with small chunks and the expander.
func scan(t testing.TB, opts Options, items ...scanner.Item) scanner.Result {
	t.Helper()
	return scanBudget(t, opts, 0, items...)
}

// scanBudget is scan with a decoded-bytes budget (0: the default).
func scanBudget(t testing.TB, opts Options, budget int64, items ...scanner.Item) scanner.Result {
	t.Helper()
	decs := append([]scanner.Decoder{New(opts)}, decode.Decoders()...)
	res, err := scanner.New(scanner.Options{Decoders: decs, ChunkSize: 4096, Workers: 2, MaxDecodedBytes: budget}).
		Run(context.Background(), scanner.ItemList(items))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type file struct {
	name string
	data []byte
}

func makeZip(t testing.TB, method uint16, files ...file) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func makeTar(t testing.TB, files ...file) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}
		if strings.HasSuffix(f.name, "/") {
			h.Name, h.Typeflag, h.Mode = strings.TrimSuffix(f.name, "/"), tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(f.data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gz(t testing.TB, name string, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Name = name
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withKeyAt returns about size bytes of text lines with key on its own
// line starting near offset at, and the key's line number.
func withKeyAt(size, at int, key string) ([]byte, int) {
	var b strings.Builder
	line := 1
	for b.Len() < at {
		fmt.Fprintf(&b, "config line %d = some value\n", line)
		line++
	}
	b.WriteString("XAI_API_KEY=" + key + "\n")
	for b.Len() < size {
		b.WriteString("trailing text, nothing secret here\n")
	}
	return []byte(b.String()), line
}

// TestFormats puts a key at the start, in the middle (straddling the
// engine's first chunk boundary at 5120 bytes with ChunkSize 4096) and at
// the end of a member, in every format, as in-memory and as streamed items.
func TestFormats(t *testing.T) {
	key := rulestest.APIKey()
	positions := map[string]int{"start": 0, "straddle": 5120 - 40, "middle": 20000, "end": 40000}
	for pos, at := range positions {
		content, line := withKeyAt(40000, at, key)
		if pos == "end" {
			content, line = withKeyAt(0, 40000, key)
			content = bytes.TrimSuffix(content, []byte("\n"))
		}
		tarball := makeTar(t, file{"dir/", nil}, file{"dir/other.txt", []byte("hello\n")}, file{"dir/app.env", content})
		cases := []struct {
			path, member string
			data         []byte
		}{
			{"a.gz", "a.gz!app.env", gz(t, "app.env", content)},
			{"app.env.gz", "app.env.gz!app.env", gz(t, "", content)},
			{"a.zip", "a.zip!dir/app.env", makeZip(t, zip.Deflate, file{"dir/other.txt", []byte("x")}, file{"dir/app.env", content})},
			{"stored.zip", "stored.zip!dir/app.env", makeZip(t, zip.Store, file{"dir/app.env", content})},
			{"lib.jar", "lib.jar!dir/app.env", makeZip(t, zip.Deflate, file{"META-INF/MANIFEST.MF", []byte("Manifest-Version: 1.0\n")}, file{"dir/app.env", content})},
			{"a.tar", "a.tar!dir/app.env", tarball},
			{"a.tar.gz", "a.tar.gz!dir/app.env", gz(t, "", tarball)},
			{"a.tgz", "a.tgz!dir/app.env", gz(t, "a.tar", tarball)},
		}
		for _, c := range cases {
			res := scan(t, Options{}, dataItem(c.path, c.data), streamItem(c.path, c.data))
			if len(res.Coverage.Skipped) != 0 {
				t.Errorf("%s %s: skipped %+v", pos, c.path, res.Coverage.Skipped)
			}
			if len(res.Findings) != 2 {
				t.Errorf("%s %s: %d findings, want 2", pos, c.path, len(res.Findings))
				continue
			}
			for _, f := range res.Findings {
				want := c.member
				if f.Path != want || f.Key != key || f.Line != line || f.Column != len("XAI_API_KEY=")+1 {
					t.Errorf("%s %s: %s %s line %d col %d, want %s line %d", pos, c.path, f.Path, f.Secret, f.Line, f.Column, want, line)
				}
			}
		}
	}
}

// TestRealFile scans a zip on disk (read in place through *os.File) and a
// base64 and a UTF-16 key inside archive members.
func TestRealFile(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	u16 := []byte{0xff, 0xfe}
	for _, c := range "k=" + k2 + "\r\n" {
		u16 = append(u16, byte(c), 0)
	}
	data := makeZip(t, zip.Deflate,
		file{"k8s/secret.yaml", []byte("data:\n  key: " + base64.StdEncoding.EncodeToString([]byte(k1)) + "\n")},
		file{"profile.ps1", u16})
	p := filepath.Join(t.TempDir(), "bundle.zip")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	it := scanner.Item{Path: "bundle.zip", Source: scanner.SourceFile, Size: int64(len(data)), Counts: scanner.CountFile,
		Open: func() (io.ReadCloser, error) { return os.Open(p) }}
	res := scan(t, Options{}, it)
	if len(res.Findings) != 2 || res.Coverage.Files != 1 {
		t.Fatalf("%d findings, %d files", len(res.Findings), res.Coverage.Files)
	}
	f0, f1 := res.Findings[0], res.Findings[1]
	if f0.Path != "bundle.zip!k8s/secret.yaml" || f0.Key != k1 || f0.Encoding != "zip/base64" || f0.Line != 2 {
		t.Errorf("base64: %s line %d %s", f0.Path, f0.Line, f0.Encoding)
	}
	if f1.Path != "bundle.zip!profile.ps1" || f1.Key != k2 || f1.Encoding != "zip/utf-16le" || f1.Line != 1 {
		t.Errorf("utf-16: %s line %d %s", f1.Path, f1.Line, f1.Encoding)
	}
}

// nested builds a zip in a tar.gz in a gz, the key deep inside.
func nested(t testing.TB, key string) []byte {
	inner := makeZip(t, zip.Deflate, file{"deep/secret.env", []byte("KEY=" + key + "\n")})
	tgz := gz(t, "", makeTar(t, file{"pkg/readme", []byte("hi\n")}, file{"pkg/inner.zip", inner}))
	return gz(t, "bundle.tar.gz", tgz)
}

func TestNested(t *testing.T) {
	key := rulestest.APIKey()
	data := nested(t, key)
	res := scan(t, Options{}, dataItem("bundle.gz", data), streamItem("-", data))
	if len(res.Findings) != 2 || len(res.Coverage.Skipped) != 0 {
		t.Fatalf("%d findings, skipped %+v", len(res.Findings), res.Coverage.Skipped)
	}
	for _, f := range res.Findings {
		if !strings.HasSuffix(f.Path, "!bundle.tar.gz!pkg/inner.zip!deep/secret.env") || f.Key != key || f.Line != 1 {
			t.Errorf("%s line %d", f.Path, f.Line)
		}
	}
}

// A container nested deeper than MaxDepth is scanned as raw bytes only,
// and its unread members are an error naming it.
func TestDepthCap(t *testing.T) {
	key := rulestest.APIKey()
	res := scan(t, Options{MaxDepth: 2}, dataItem("bundle.gz", nested(t, key)))
	if len(res.Findings) != 0 {
		t.Fatalf("%d findings beyond the depth cap", len(res.Findings))
	}
	if len(res.Coverage.Skipped) != 1 || !res.Coverage.Partial() {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
	s := res.Coverage.Skipped[0]
	if s.Path != "bundle.gz!bundle.tar.gz!pkg/inner.zip" || !strings.Contains(s.Reason, "zip archive nested deeper than 2 levels") {
		t.Errorf("skipped %+v", s)
	}
}

// gzipBomb returns a multi-stream gzip file that inflates to n MiB of
// zeros: one compressed MiB repeated, so the test never holds the output.
func gzipBomb(t testing.TB, mib int) []byte {
	one := gz(t, "", make([]byte, 1<<20))
	return bytes.Repeat(one, mib)
}

// A bomb is stopped by the decoded-bytes budget, with an error that names
// the item, the budget and the flag, after about the budget's bytes.
func TestGzipBomb(t *testing.T) {
	bomb := gzipBomb(t, 2048) // 2 GiB of zeros in about 2 MB
	for _, it := range []scanner.Item{dataItem("bomb.gz", bomb), streamItem("bomb-stdin.gz", bomb)} {
		res := scanBudget(t, Options{}, 32<<20, it)
		if !res.Coverage.Partial() || res.Coverage.Bytes > 40<<20 {
			t.Fatalf("%s: partial %v after %d bytes", it.Path, res.Coverage.Partial(), res.Coverage.Bytes)
		}
		if len(res.Coverage.Skipped) != 1 {
			t.Fatalf("%s: skipped %+v", it.Path, res.Coverage.Skipped)
		}
		s := res.Coverage.Skipped[0]
		if s.Path != it.Path || !strings.Contains(s.Reason, "decoded-bytes budget of 32 MiB reached at "+it.Path+"!") ||
			!strings.Contains(s.Reason, "--max-decoded-bytes") {
			t.Errorf("%s: %+v", it.Path, s)
		}
	}
}

// TestZipBomb: the budget is shared by the whole archive, so once one
// member spent it, the rest is not decoded (and that is the error).
func TestZipBomb(t *testing.T) {
	key := rulestest.APIKey()
	data := makeZip(t, zip.Deflate, file{"before.env", []byte("K=" + key + "\n")}, file{"zeros.bin", make([]byte, 24<<20)}, file{"after.env", []byte("K=" + key + "\n")})
	res := scanBudget(t, Options{}, 16<<20, dataItem("bomb.zip", data))
	if len(res.Findings) != 1 || res.Findings[0].Path != "bomb.zip!before.env" {
		t.Fatalf("findings %+v", res.Findings)
	}
	if len(res.Coverage.Skipped) != 1 {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
	if s := res.Coverage.Skipped[0]; s.Path != "bomb.zip" || !s.IsError() || !strings.Contains(s.Reason, "budget of 16 MiB reached at bomb.zip!zeros.bin") {
		t.Errorf("skipped %+v", s)
	}
}

func TestMemberCap(t *testing.T) {
	var files []file
	for i := range 50 {
		files = append(files, file{fmt.Sprintf("f%02d", i), []byte("x\n")})
	}
	res := scan(t, Options{MaxMembers: 10}, dataItem("many.zip", makeZip(t, zip.Deflate, files...)))
	if len(res.Coverage.Skipped) != 1 || !strings.Contains(res.Coverage.Skipped[0].Reason, "member limit (10 per archive) reached") {
		t.Fatalf("%+v", res.Coverage.Skipped)
	}
}

// A truncated container is decoded up to the cut: the key before it is
// found in its member, and the damage is a note (the raw bytes were
// scanned too), not an error.
func TestTruncated(t *testing.T) {
	key := rulestest.APIKey()
	content, line := withKeyAt(3000, 100, key)
	random := make([]byte, 20000) // incompressible, so cuts land in data
	rand.Read(random)
	withTail := append(append([]byte(nil), content...), random...)
	tarball := makeTar(t, file{"b.env", withTail}, file{"a.bin", random})
	zipped := makeZip(t, zip.Deflate, file{"b.env", content}, file{"a.bin", random})
	cases := []struct {
		name, member string // member "": nothing decodable
		data         []byte
		reason       string
	}{
		{"cut.gz", "cut.gz!b.env", gz(t, "b.env", withTail)[:5000], "truncated gzip stream"},
		{"header.gz", "", gz(t, "", random)[:6], "truncated gzip stream"},
		{"cut.zip", "cut.zip!b.env", zipped[:len(zipped)/2], "without a readable central directory"},
		{"cut.tar", "cut.tar!b.env", tarball[:4000], "truncated tar archive (in member b.env, at byte 3488)"},
		{"cut.tar.gz", "cut.tar.gz!b.env", gz(t, "", tarball)[:4500], "truncated gzip stream"},
	}
	for _, c := range cases {
		for _, it := range []scanner.Item{dataItem(c.name, c.data), streamItem(c.name, c.data)} {
			res := scan(t, Options{}, it)
			if res.Coverage.Partial() || len(res.Coverage.Skipped) != 1 {
				t.Errorf("%s (%s): skipped %+v", c.name, it.Source, res.Coverage.Skipped)
				continue
			}
			if s := res.Coverage.Skipped[0]; s.Kind != scanner.KindNote || s.Path != c.name || !strings.Contains(s.Reason, c.reason) {
				t.Errorf("%s (%s): %+v, want a note with %q", c.name, it.Source, s, c.reason)
			}
			want := 1
			if c.member == "" {
				want = 0
			}
			if len(res.Findings) != want {
				t.Errorf("%s (%s): %d findings, want %d", c.name, it.Source, len(res.Findings), want)
				continue
			}
			if want == 1 {
				if f := res.Findings[0]; f.Path != c.member || f.Key != key || f.Line != line {
					t.Errorf("%s (%s): found at %s:%d", c.name, it.Source, f.Path, f.Line)
				}
			}
		}
	}
}

func TestPathTricks(t *testing.T) {
	key := rulestest.APIKey()
	data := makeZip(t, zip.Deflate,
		file{"../../etc/x", []byte("A=" + key + "\n")},
		file{"/abs/y", []byte("B=" + key + "\n")},
		file{"ok/./z\n", []byte("C=" + key + "\n")})
	res := scan(t, Options{}, dataItem("evil.zip", data))
	got := res.Coverage.Skipped
	var paths []string
	for _, f := range res.Findings {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, ",") != "evil.zip!abs/y,evil.zip!etc/x,evil.zip!ok/z?" {
		t.Errorf("paths %q", paths)
	}
	if len(got) != 3 {
		t.Fatalf("reported %+v", got)
	}
	for _, s := range got {
		if s.IsError() || !strings.Contains(s.Reason, "rewritten to") {
			t.Errorf("%+v", s)
		}
	}
}

// TestSniff: containers are recognised by content, not by name.
func TestSniff(t *testing.T) {
	key := rulestest.APIKey()
	empty := makeZip(t, zip.Deflate)
	res := scan(t, Options{},
		dataItem("notes.zip", []byte("K="+key+"\n")),                                         // text named .zip
		dataItem("notes.txt", makeZip(t, zip.Deflate, file{"k", []byte("K=" + key + "\n")})), // zip named .txt
		dataItem("empty.zip", empty))
	if len(res.Findings) != 2 || res.Findings[0].Path != "notes.txt!k" || res.Findings[1].Path != "notes.zip" {
		t.Fatalf("%+v", res.Findings)
	}
	if len(res.Coverage.Skipped) != 0 {
		t.Fatalf("%+v", res.Coverage.Skipped)
	}
}

// TestSpool: a zip read from a stream beyond MaxMemZip goes through a
// temporary file, which is removed.
func TestSpool(t *testing.T) {
	key := rulestest.APIKey()
	random := make([]byte, 64<<10)
	rand.Read(random)
	data := makeZip(t, zip.Store, file{"noise", random}, file{"k.env", []byte("K=" + key + "\n")})
	dir := t.TempDir()
	res := scan(t, Options{MaxMemZip: 4096, TempDir: dir}, streamItem("-", data))
	if len(res.Findings) != 1 || res.Findings[0].Path != "-!k.env" {
		t.Fatalf("%d findings, skipped %+v", len(res.Findings), res.Coverage.Skipped)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
	// Too big to spool.
	res = scan(t, Options{MaxMemZip: 4096, MaxSpool: 16 << 10, TempDir: dir}, streamItem("-", data))
	if len(res.Coverage.Skipped) != 1 || !strings.Contains(res.Coverage.Skipped[0].Reason, "larger than 16 KiB") {
		t.Fatalf("%+v", res.Coverage.Skipped)
	}
}

func TestSanitizeName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b.txt": "a/b.txt", "dir/": "dir", `win\path\f`: "win/path/f",
		"../../etc/x": "etc/x", "/abs": "abs", "C:/x": "C:/x", "a/../b": "a/b", "": "(unnamed)", "..": "(unnamed)",
		"bell\a": "bell?",
	} {
		if got, _ := sanitizeName(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// TestGitBlob: a blob has no path while it is scanned; members are named
// after its object id, which the git source replaces with the blob's path.
func TestGitBlob(t *testing.T) {
	key := rulestest.APIKey()
	blob := scanner.Item{Source: scanner.SourceGit, Object: strings.Repeat("ab", 20), Size: -1, Counts: scanner.CountBlob,
		Data: makeZip(t, zip.Deflate, file{"conf/app.env", []byte("K=" + key + "\n")})}
	res := scan(t, Options{}, blob)
	if len(res.Findings) != 1 || res.Coverage.Blobs != 1 {
		t.Fatalf("%d findings", len(res.Findings))
	}
	if f := res.Findings[0]; f.Path != blob.Object+"!conf/app.env" || f.Object != blob.Object || f.Source != scanner.SourceGit {
		t.Errorf("%s %s %s", f.Path, f.Object, f.Source)
	}
}

// Text that happens to start like a bzip2 stream is not taken for one.
func TestSniffBzip2NeedsBlockMagic(t *testing.T) {
	if k := sniff([]byte("BZh9 is how a bzip2 stream starts, but this is text")); k != kindNone {
		t.Fatalf("text sniffed as %v", k)
	}
	real := []byte("BZh9\x31\x41\x59\x26\x53\x59rest")
	if k := sniff(real); k != kindBzip2 {
		t.Fatalf("bzip2 header sniffed as %v", k)
	}
}
