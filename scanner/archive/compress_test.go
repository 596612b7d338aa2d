package archive

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// xzOf compresses data as xz with a dictionary of dict bytes (0: 8 MiB).
func xzOf(t testing.TB, data []byte, dict int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := xz.WriterConfig{DictCap: dict}.NewWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zstdOf(t testing.TB, data []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zlibOf(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// TestNewFormats puts a key at the start, straddling a chunk boundary, in
// the middle and at the end of an xz, zstd and zlib member, alone and
// around a tar, in memory and streamed.
func TestNewFormats(t *testing.T) {
	key := rulestest.APIKey()
	positions := map[string]int{"start": 0, "straddle": 5120 - 40, "middle": 20000, "end": 40000}
	for pos, at := range positions {
		content, line := withKeyAt(40000, at, key)
		if pos == "end" {
			content, line = withKeyAt(0, 40000, key)
			content = bytes.TrimSuffix(content, []byte("\n"))
		}
		tarball := makeTar(t, file{"dir/other.txt", []byte("hello\n")}, file{"dir/app.env", content})
		cases := []struct {
			path, member, enc string
			data              []byte
		}{
			{"app.env.xz", "app.env.xz!app.env", "xz", xzOf(t, content, 0)},
			{"a.tar.xz", "a.tar.xz!dir/app.env", "xz/tar", xzOf(t, tarball, 0)},
			{"a.txz", "a.txz!dir/app.env", "xz/tar", xzOf(t, tarball, 1<<16)},
			{"app.env.zst", "app.env.zst!app.env", "zstd", zstdOf(t, content)},
			{"a.tar.zst", "a.tar.zst!dir/app.env", "zstd/tar", zstdOf(t, tarball)},
			{"app.env.zz", "app.env.zz!app.env", "zlib", zlibOf(t, content)},
			{"blob", "blob!blob", "zlib", zlibOf(t, content)},
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
				if f.Path != c.member || f.Key != key || f.Line != line || f.Column != len("XAI_API_KEY=")+1 {
					t.Errorf("%s %s: %s line %d col %d, want %s line %d", pos, c.path, f.Path, f.Line, f.Column, c.member, line)
				}
			}
		}
	}
}

// TestMemberEncoding: members carry the format that yielded them.
func TestMemberEncoding(t *testing.T) {
	content := []byte("hello\n")
	tarball := makeTar(t, file{"a", content})
	for _, c := range []struct {
		data []byte
		enc  string
	}{{xzOf(t, content, 0), "xz"}, {xzOf(t, tarball, 0), "xz/tar"}, {zstdOf(t, tarball), "zstd/tar"}, {zlibOf(t, content), "zlib"},
		{gz(t, "", tarball), "gzip/tar"}, {tarball, "tar"}} {
		rec := &recorder{}
		x := &expansion{e: New(Options{}), ctx: t.Context(), parent: dataItem("f", c.data), topLevel: true, depth: 1, s: &session{}, m: rec}
		x.s.membersLeft.Store(10)
		if err := x.run(bytes.NewReader(c.data)); err != nil {
			t.Fatalf("%s: %v", c.enc, err)
		}
		if len(rec.members) != 1 || rec.members[0].Encoding != c.enc {
			t.Errorf("%s: members %+v", c.enc, rec.members)
		}
	}
}

// recorder is a scanner.Members that reads every member whole.
type recorder struct {
	members []scanner.Item
	data    [][]byte
	skipped []scanner.Skipped
}

func (r *recorder) Scan(it scanner.Item) error {
	rc, err := it.Open()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	_, err = b.ReadFrom(rc)
	r.members = append(r.members, it)
	r.data = append(r.data, b.Bytes())
	return err
}

func (r *recorder) Skip(s scanner.Skipped) { r.skipped = append(r.skipped, s) }

// keyThenRandom is a key on line 1001 followed by incompressible bytes,
// so a cut late in the compressed file lands in data after the key.
func keyThenRandom(key string) ([]byte, int) {
	content, line := withKeyAt(3000, 1000*27, key)
	random := make([]byte, 400_000)
	rand.Read(random)
	return append(content, random...), line
}

// Truncated and corrupt streams decode up to the damage: the key before
// it is found, and the damage is a note.
func TestNewFormatsDamaged(t *testing.T) {
	key := rulestest.APIKey()
	content, line := keyThenRandom(key)
	x, zs, zl := xzOf(t, content, 0), zstdOf(t, content, zstd.WithEncoderConcurrency(1)), zlibOf(t, content)
	corrupt := func(b []byte) []byte {
		c := append([]byte(nil), b...)
		for i := len(c) - 200_000; i < len(c)-100_000; i += 97 {
			c[i] ^= 0x55
		}
		return c
	}
	cases := []struct {
		path, want string
		data       []byte
	}{
		{"log.xz", "truncated xz stream", x[:len(x)-100_000]},
		{"log.xz", "corrupt xz stream", corrupt(x)},
		{"log.zst", "truncated zstd stream", zs[:len(zs)-100_000]},
		{"log.zst", "corrupt zstd stream", corrupt(zs)},
		{"log.zz", "truncated zlib stream", zl[:len(zl)-100_000]},
		{"log.zz", "corrupt zlib stream", corrupt(zl)},
	}
	for _, c := range cases {
		for _, it := range both(c.path, c.data) {
			res := scan(t, Options{}, it)
			noted(t, res, c.path, c.want)
			foundAt(t, res, key, fmt.Sprintf("%s!log:%d", c.path, line))
		}
	}
}

// xzDictBomb is a valid 100-byte xz file whose block header declares a
// 1.5 GiB dictionary.
func xzDictBomb(t testing.TB, content []byte) []byte {
	b := xzOf(t, content, 1<<20)
	// The block header follows the 12-byte stream header: size byte,
	// flags, the LZMA2 filter (id 0x21, 1 property byte), padding, CRC32.
	hdr := b[12 : 12+int(b[12]+1)*4]
	i := bytes.Index(hdr[2:], []byte{0x21, 0x01})
	if i < 0 {
		t.Fatalf("no LZMA2 filter in % x", hdr)
	}
	hdr[2+i+2] = 37 // (2|1) << (37/2 + 11) = 1.5 GiB
	binary.LittleEndian.PutUint32(hdr[len(hdr)-4:], crc32.ChecksumIEEE(hdr[:len(hdr)-4]))
	return b
}

// An xz header declaring a 1.5 GiB dictionary is decoded with the cap's
// dictionary at most (here: of the default 64 MiB, not one byte of the
// claim beyond it), and a file whose matches reach beyond the cap is
// decoded up to there and reported as an error naming the item and cap.
func TestXzDictionaryBomb(t *testing.T) {
	key := rulestest.APIKey()
	bomb := xzDictBomb(t, []byte("K="+key+"\n"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := scan(t, Options{}, dataItem("bomb.xz", bomb), streamItem("bomb-stdin.xz", bomb))
	runtime.ReadMemStats(&after)
	if len(res.Findings) != 2 || len(res.Coverage.Skipped) != 0 {
		t.Fatalf("findings %d, skipped %+v", len(res.Findings), res.Coverage.Skipped)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*DefaultMaxDictionary+32<<20 {
		t.Fatalf("allocated %d MiB for two 1.5 GiB dictionaries capped at 64 MiB", got>>20)
	}
	// With a 1 MiB cap the same file allocates 1 MiB of dictionary.
	runtime.GC()
	runtime.ReadMemStats(&before)
	res = scan(t, Options{MaxDictionary: 1 << 20}, dataItem("bomb.xz", bomb))
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; len(res.Findings) != 1 || got > 24<<20 {
		t.Fatalf("%d findings, allocated %d MiB", len(res.Findings), got>>20)
	}

	// Matches 512 KiB back: a 256 KiB dictionary cannot hold them.
	random := make([]byte, 512<<10)
	rand.Read(random)
	far := xzOf(t, append(append([]byte("K="+key+"\n"), random...), random...), 1<<20)
	for _, it := range both("far.xz", far) {
		res := scan(t, Options{MaxDictionary: 256 << 10}, it)
		foundAt(t, res, key, "far.xz!far:1")
		if len(res.Coverage.Skipped) != 1 || !res.Coverage.Partial() {
			t.Fatalf("skipped %+v", res.Coverage.Skipped)
		}
		if s := res.Coverage.Skipped[0]; s.Path != "far.xz!far" || !strings.Contains(s.Reason, "dictionary larger than the cap of 256 KiB") {
			t.Errorf("skipped %+v", s)
		}
	}
}

// A zstd frame declaring a window over the cap is decoded with the
// window cut to the cap (nothing larger is allocated); only a match that
// reaches further back than the cap stops it, as an error naming the item
// and the cap.
func TestZstdWindowBomb(t *testing.T) {
	key := rulestest.APIKey()
	data := append([]byte("K="+key+"\n"), make([]byte, 8<<20)...)
	big := zstdOf(t, data, zstd.WithWindowSize(8<<20), zstd.WithSingleSegment(false))
	bomb := append([]byte(nil), big...)
	if bomb[4]&0x20 != 0 {
		t.Fatal("single-segment frame")
	}
	bomb[5] = 20<<3 | 4 // 1 GiB + 4 * (1 GiB / 8): a 1.5 GiB window
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, it := range both("w.zst", bomb) {
		res := scan(t, Options{MaxDictionary: 1 << 20}, it)
		foundAt(t, res, key, "w.zst!w:1")
		if len(res.Coverage.Skipped) != 0 {
			t.Fatalf("skipped %+v", res.Coverage.Skipped)
		}
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 24<<20 {
		t.Fatalf("allocated %d MiB", got>>20)
	}

	random := make([]byte, 2<<20)
	rand.Read(random)
	far := zstdOf(t, append(append([]byte("K="+key+"\n"), random...), random...), zstd.WithWindowSize(4<<20), zstd.WithSingleSegment(false))
	for _, it := range both("far.zst", far) {
		res := scan(t, Options{MaxDictionary: 1 << 20}, it)
		foundAt(t, res, key, "far.zst!far:1")
		if len(res.Coverage.Skipped) != 1 || !res.Coverage.Partial() {
			t.Fatalf("skipped %+v", res.Coverage.Skipped)
		}
		if s := res.Coverage.Skipped[0]; s.Path != "far.zst!far" || !strings.Contains(s.Reason, "window larger than the cap of 1 MiB") {
			t.Errorf("skipped %+v", s)
		}
	}
	res := scan(t, Options{}, dataItem("far.zst", far))
	if len(res.Coverage.Skipped) != 0 {
		t.Fatalf("default cap: skipped %+v", res.Coverage.Skipped)
	}

	// A single-segment frame (window = content size) claiming 1.5 GiB of
	// content: decoded with the cap's window; its short content is damage.
	small := zstdOf(t, append([]byte("K="+key+"\n"), make([]byte, 100_000)...), zstd.WithSingleSegment(true))
	if small[4]&0x20 == 0 || small[4]>>6 != 2 || small[4]&3 != 0 {
		t.Fatalf("frame header descriptor %#x", small[4])
	}
	binary.LittleEndian.PutUint32(small[5:], 3<<29)
	runtime.GC()
	runtime.ReadMemStats(&before)
	res = scan(t, Options{}, streamItem("claim.zst", small))
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 2*DefaultMaxDictionary {
		t.Fatalf("allocated %d MiB", got>>20)
	}
	foundAt(t, res, key, "claim.zst!claim:1")
	noted(t, res, "claim.zst", "corrupt zstd stream")
}

// Files that merely start like zlib ("x^2", "x\x9c" then text) are not
// zlib: no member, no note, no error.
func TestZlibWeakMagic(t *testing.T) {
	key := rulestest.APIKey()
	for _, s := range []string{"x^2 + y^2 = z^2\nK=" + key + "\n", "x\x9c", "x\x01", "x\xda" + strings.Repeat("text ", 200),
		"x^" + strings.Repeat("a", 600), "x\x9c\x03\x00"} {
		for _, it := range both("f.txt", []byte(s)) {
			res := scan(t, Options{}, it)
			if len(res.Coverage.Skipped) != 0 {
				t.Errorf("%q: skipped %+v", s[:2], res.Coverage.Skipped)
			}
			for _, f := range res.Findings {
				if f.Path != "f.txt" {
					t.Errorf("%q: finding in %s", s[:2], f.Path)
				}
			}
		}
	}
}
