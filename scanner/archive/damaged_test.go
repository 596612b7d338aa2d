package archive

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/rand"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// both returns the content as an in-memory item and as a stream read once.
func both(path string, data []byte) []scanner.Item {
	return []scanner.Item{dataItem(path, data), streamItem(path, data)}
}

// noted asserts a clean-but-noted result: one note on path whose reason
// holds want, and no error.
func noted(t *testing.T, res scanner.Result, path, want string) {
	t.Helper()
	if res.Coverage.Partial() || len(res.Coverage.Skipped) != 1 {
		t.Fatalf("%s: skipped %+v", path, res.Coverage.Skipped)
	}
	if s := res.Coverage.Skipped[0]; s.Kind != scanner.KindNote || s.Path != path || !strings.Contains(s.Reason, want) {
		t.Fatalf("%s: %+v, want a note with %q", path, s, want)
	}
}

func foundAt(t *testing.T, res scanner.Result, key string, where ...string) {
	t.Helper()
	var got []string
	for _, f := range res.Findings {
		if f.Key != key {
			t.Errorf("%s: another key", f.Path)
		}
		got = append(got, fmt.Sprintf("%s:%d", f.Path, f.Line))
	}
	if strings.Join(got, " ") != strings.Join(where, " ") {
		t.Fatalf("found at %v, want %v", got, where)
	}
}

// A gzip file padded with zeros (tape blocking) is clean; one followed by
// other bytes is noted, and those bytes are scanned raw. Members of a
// multi-member gzip are one stream.
func TestGzipTails(t *testing.T) {
	key := rulestest.APIKey()
	multi := append(gz(t, "app.log", []byte("one\ntwo\n")), gz(t, "", []byte("three\nk="+key+"\n"))...)
	padded := append(append([]byte(nil), multi...), make([]byte, 10240)...)
	for _, it := range both("padded.gz", padded) {
		res := scan(t, Options{}, it)
		foundAt(t, res, key, "padded.gz!app.log:4")
		if len(res.Coverage.Skipped) != 0 {
			t.Fatalf("padded: %+v", res.Coverage.Skipped)
		}
	}
	key2 := rulestest.APIKey()
	garbage := append(append([]byte(nil), multi...), []byte("\x00\x00trailer k2="+key2+"\n")...)
	for _, it := range both("garbage.gz", garbage) {
		res := scan(t, Options{}, it)
		noted(t, res, "garbage.gz", "data after the end of the gzip stream")
		if len(res.Findings) != 2 || res.Findings[0].Key != key2 || res.Findings[0].Path != "garbage.gz" ||
			res.Findings[1].Path != "garbage.gz!app.log" {
			t.Fatalf("findings %+v", res.Findings)
		}
	}
}

// cutAt returns data up to (not including) the first occurrence of sig
// at or after from.
func cutAt(t *testing.T, data []byte, sig string, from int) []byte {
	t.Helper()
	i := bytes.Index(data[from:], []byte(sig))
	if i < 0 {
		t.Fatalf("no %q", sig)
	}
	return data[:from+i]
}

// rawZip builds a zip whose members carry their sizes in the local header
// (no data descriptor), stored or deflated.
func rawZip(t *testing.T, method uint16, files ...file) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		comp := f.data
		if method == zip.Deflate {
			var c bytes.Buffer
			fw, _ := flate.NewWriter(&c, flate.BestSpeed)
			fw.Write(f.data)
			fw.Close()
			comp = c.Bytes()
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: f.name, Method: method, CRC32: crc32.ChecksumIEEE(f.data),
			CompressedSize64: uint64(len(comp)), UncompressedSize64: uint64(len(f.data))})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(comp)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A zip without a usable central directory is read from its local
// headers: stored and deflated members, with and without data descriptors
// (stored data then ends at the descriptor that matches its length).
func TestZipWithoutCentralDirectory(t *testing.T) {
	key := rulestest.APIKey()
	random := make([]byte, 30000)
	rand.Read(random)
	content := []byte("a\nk=" + key + "\n")
	zips := map[string][]byte{
		// Go's zip writer gives every member a data descriptor.
		"dd-store":   makeZip(t, zip.Store, file{"noise", random}, file{"d/k.env", content}),
		"dd-deflate": makeZip(t, zip.Deflate, file{"noise", random}, file{"d/k.env", content}),
		"store":      rawZip(t, zip.Store, file{"noise", random}, file{"d/k.env", content}),
		"deflate":    rawZip(t, zip.Deflate, file{"noise", random}, file{"d/k.env", content}),
	}
	for name, z := range zips {
		noCD := cutAt(t, z, "PK\x01\x02", 0)
		badCD := append([]byte(nil), z...)
		copy(badCD[len(noCD):], "garbage!")
		for variant, data := range map[string][]byte{"truncated": noCD, "corrupt": badCD} {
			path := name + "-" + variant + ".zip"
			for _, it := range both(path, data) {
				res := scan(t, Options{}, it)
				noted(t, res, path, "members read from their local headers")
				foundAt(t, res, key, path+"!d/k.env:2")
			}
		}
	}
}

// A zip whose end record gives a wrong central-directory offset parses,
// but no member opens at the offsets it names: the members are read from
// their local headers, as without a central directory (not an error about
// each member's offset).
func TestZipMisplacedCentralDirectory(t *testing.T) {
	key := rulestest.APIKey()
	random := make([]byte, 30000)
	rand.Read(random)
	z := makeZip(t, zip.Deflate, file{"noise", random}, file{"d/k.env", []byte("a\nk=" + key + "\n")})
	end := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if end < 0 {
		t.Fatal("no end of central directory record")
	}
	bad := append([]byte(nil), z...)
	copy(bad[end+16:end+20], []byte{0xff, 0xff, 0xff, 0x7f}) // offset of the central directory
	if _, err := zip.NewReader(bytes.NewReader(bad), int64(len(bad))); err != nil {
		t.Fatalf("archive/zip rejects the damaged archive (%v): the test no longer covers a directory that parses", err)
	}
	for _, it := range both("moved.zip", bad) {
		res := scan(t, Options{}, it)
		noted(t, res, "moved.zip", "members read from their local headers")
		foundAt(t, res, key, "moved.zip!d/k.env:2")
	}
}

// A truncated tar: the members before the cut are scanned whole, the
// member it cuts into up to the cut.
func TestTarTruncated(t *testing.T) {
	key, key2 := rulestest.APIKey(), rulestest.APIKey()
	tail := make([]byte, 10000)
	rand.Read(tail)
	tarball := makeTar(t, file{"a.env", []byte("k=" + key + "\n")}, file{"b.bin", append([]byte("k="+key2+"\n"), tail...)})
	cut := tarball[:512+512+512+2000]
	for _, it := range both("cut.tar", cut) {
		res := scan(t, Options{}, it)
		noted(t, res, "cut.tar", "truncated tar archive (in member b.bin")
		if len(res.Findings) != 2 || res.Findings[0].Path != "cut.tar!a.env" || res.Findings[1].Path != "cut.tar!b.bin" ||
			res.Findings[1].Key != key2 {
			t.Fatalf("findings %+v", res.Findings)
		}
	}
}

// A damaged header is skipped to the next valid one, as GNU tar does: the
// members after it are still scanned.
func TestTarResync(t *testing.T) {
	key := rulestest.APIKey()
	tarball := makeTar(t, file{"a.txt", []byte("hello\n")}, file{"b.env", []byte("k=" + key + "\n")})
	copy(tarball[148:], "garbage!") // a.txt's checksum
	for _, it := range both("bad.tar", tarball) {
		res := scan(t, Options{}, it)
		noted(t, res, "bad.tar", "corrupt tar header at byte 0")
		foundAt(t, res, key, "bad.tar!b.env:1")
	}
}

// A log that compresses far beyond 200:1 is read whole: only the
// decoded-bytes budget bounds decoding, not a ratio.
func TestCompressibleLog(t *testing.T) {
	key := rulestest.APIKey()
	var log bytes.Buffer
	lines := 0
	for log.Len() < 24<<20 {
		log.WriteString("2026-01-02T03:04:05Z level=info msg=\"request served\" status=200 path=/healthz\n")
		lines++
	}
	log.WriteString("XAI_API_KEY=" + key + "\n")
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zw.Write(log.Bytes())
	zw.Close()
	if ratio := log.Len() / z.Len(); ratio < 200 {
		t.Fatalf("ratio %d:1, want > 200:1", ratio)
	}
	res := scan(t, Options{}, streamItem("app.log.gz", z.Bytes()))
	if len(res.Coverage.Skipped) != 0 {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
	foundAt(t, res, key, fmt.Sprintf("app.log.gz!app.log:%d", lines+1))
}

// nest42 builds a 42.zip-style nest: depth levels of zips, each holding
// 16 copies of the level below; the bottom holds 1 MiB of zeros 16 times.
func nest42(t *testing.T, depth int) []byte {
	level := makeZip(t, zip.Deflate, file{"zeros", make([]byte, 1<<20)})
	for d := 0; d < depth; d++ {
		var files []file
		for i := range 16 {
			files = append(files, file{fmt.Sprintf("l%d-%02d.zip", d, i), level})
		}
		level = makeZip(t, zip.Deflate, files...)
	}
	return level
}

// A 42.zip-style nest (16^4 MiB at the bottom) stops within the budget;
// a nest deeper than the depth cap stops there, as errors.
func TestNestedBomb(t *testing.T) {
	bomb := nest42(t, 4)
	const budget = 48 << 20
	res := scanBudget(t, Options{MaxDepth: 8}, budget, dataItem("42.zip", bomb))
	if !res.Coverage.Partial() || res.Coverage.Bytes > budget+int64(len(bomb))+1<<20 {
		t.Fatalf("partial %v after %d bytes", res.Coverage.Partial(), res.Coverage.Bytes)
	}
	if len(res.Coverage.Skipped) != 1 || !strings.Contains(res.Coverage.Skipped[0].Reason, "budget of 48 MiB reached") {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
	deep := makeZip(t, zip.Deflate, file{"bottom.txt", []byte("bottom\n")})
	for d := 0; d < DefaultMaxDepth+2; d++ {
		deep = makeZip(t, zip.Deflate, file{"a.zip", deep}, file{"b.zip", deep})
	}
	res = scan(t, Options{}, dataItem("deep.zip", deep))
	if !res.Coverage.Partial() || len(res.Coverage.Skipped) != 1<<DefaultMaxDepth {
		t.Fatalf("default depth: %d skipped", len(res.Coverage.Skipped))
	}
	for _, s := range res.Coverage.Skipped {
		if !strings.Contains(s.Reason, fmt.Sprintf("nested deeper than %d levels", DefaultMaxDepth)) || strings.Count(s.Path, "!") != DefaultMaxDepth {
			t.Errorf("%+v", s)
		}
	}
}

// bzip2 decodes block by block: a key in a block before the cut is found.
func TestBzip2Truncated(t *testing.T) {
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 binary to make a bzip2 file with")
	}
	key := rulestest.APIKey()
	content, line := withKeyAt(400_000, 1000, key)
	random := make([]byte, 300_000)
	rand.Read(random)
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, append(content, random...), 0o600)
	out, err := exec.Command("bzip2", "-1", "-c", p).Output() // 100 kB blocks
	if err != nil {
		t.Fatal(err)
	}
	cut := out[:len(out)-50_000]
	for _, it := range both("log.bz2", cut) {
		res := scan(t, Options{}, it)
		noted(t, res, "log.bz2", "bzip2")
		foundAt(t, res, key, fmt.Sprintf("log.bz2!log:%d", line))
	}
}

// rawMember is a zip member written as given: method, flags, bytes.
type rawMember struct {
	name          string
	method, flags uint16
	data          []byte // compressed as the method says
	size          int    // uncompressed size
}

func rawMethodsZip(t *testing.T, members ...rawMember) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range members {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: m.method, Flags: m.flags,
			CompressedSize64: uint64(len(m.data)), UncompressedSize64: uint64(m.size)})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Zip members by method: bzip2 (12) is decoded; an encrypted member is a
// note (no tool reads it without its password); a method of the
// specification xaiscan lacks (LZMA) is an error; a number that is no
// method is damage, a note.
func TestZipMethods(t *testing.T) {
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("no bzip2 binary to compress a member with")
	}
	key := rulestest.APIKey()
	content := []byte("a\nk=" + key + "\n")
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(content)
	bz, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	z := rawMethodsZip(t,
		rawMember{"bz.env", 12, 0, bz, len(content)},
		rawMember{"secret.bin", 0, 1, []byte("ciphertext"), 10},
		rawMember{"aes.bin", 99, 0, []byte("ciphertext"), 10},
		rawMember{"lzma.bin", 14, 0, []byte("lzma data"), 20},
		rawMember{"odd.bin", 4242, 0, []byte("?"), 1})
	want := map[string]string{
		"m.zip!secret.bin": "note encrypted zip member", "m.zip!aes.bin": "note encrypted zip member",
		"m.zip!lzma.bin": "error zip member compressed with LZMA (method 14)",
		"m.zip!odd.bin":  "note zip member with unknown compression method 4242",
	}
	for name, data := range map[string][]byte{"central directory": z, "local headers": cutAt(t, z, "PK\x01\x02", 0)} {
		res := scan(t, Options{}, dataItem("m.zip", data))
		foundAt(t, res, key, "m.zip!bz.env:2")
		got := map[string]string{}
		for _, s := range res.Coverage.Skipped {
			got[s.Path] = s.Kind + " " + s.Reason
		}
		for p, w := range want {
			if !strings.HasPrefix(got[p], w) {
				t.Errorf("%s: %s: %q, want %q", name, p, got[p], w)
			}
		}
	}
}
