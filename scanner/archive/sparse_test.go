package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// sparseMember is a sparse file: size bytes, data at the given runs.
type sparseMember struct {
	size int64
	runs []sparseRun
}

type sparseRun struct {
	at   int64
	data string
}

func (m sparseMember) frags() []fragment {
	var f []fragment
	for _, r := range m.runs {
		f = append(f, fragment{r.at, int64(len(r.data))})
	}
	return f
}

func (m sparseMember) stored() []byte {
	var b []byte
	for _, r := range m.runs {
		b = append(b, r.data...)
	}
	return b
}

// block is a tar header block under construction.
type block [blockSize]byte

func (b *block) str(off, n int, s string) { copy(b[off:off+n], s) }
func (b *block) oct(off, n int, v int64)  { b.str(off, n, fmt.Sprintf("%0*o\x00", n-1, v)) }

// finish writes the checksum.
func (b *block) finish() []byte {
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	b.str(148, 8, fmt.Sprintf("%06o\x00 ", sum))
	return b[:]
}

func header(name string, typeflag byte, size int64, magic string) *block {
	var b block
	b.str(0, 100, name)
	b.oct(100, 8, 0o644)
	b.oct(108, 8, 0)
	b.oct(116, 8, 0)
	b.oct(124, 12, size)
	b.oct(136, 12, 0)
	b[156] = typeflag
	b.str(257, 8, magic)
	return &b
}

func padTo(b []byte) []byte { return append(b, make([]byte, padding(int64(len(b))))...) }

// gnuSparseTar builds an old GNU sparse tar ('S'), with extension blocks
// when the map has more than 4 fragments.
func gnuSparseTar(name string, m sparseMember) []byte {
	frags := m.frags()
	data := m.stored()
	h := header(name, 'S', int64(len(data)), "ustar  \x00")
	first := frags[:min(4, len(frags))]
	for i, f := range first {
		h.oct(386+24*i, 12, f.offset)
		h.oct(386+24*i+12, 12, f.length)
	}
	rest := frags[len(first):]
	if len(rest) > 0 {
		h[482] = 1
	}
	h.oct(483, 12, m.size)
	out := append([]byte(nil), h.finish()...)
	for len(rest) > 0 {
		var ext block
		n := min(21, len(rest))
		for i, f := range rest[:n] {
			ext.oct(24*i, 12, f.offset)
			ext.oct(24*i+12, 12, f.length)
		}
		rest = rest[n:]
		if len(rest) > 0 {
			ext[504] = 1
		}
		out = append(out, ext[:]...)
	}
	out = append(out, padTo(data)...)
	return append(out, make([]byte, 2*blockSize)...)
}

// paxRecord formats one PAX record, its length included.
func paxRecord(k, v string) string {
	rec := " " + k + "=" + v + "\n"
	n := len(rec)
	for len(fmt.Sprint(n+len(fmt.Sprint(n)))) != len(fmt.Sprint(n)) {
		n++
	}
	n += len(fmt.Sprint(n))
	return fmt.Sprint(n) + rec
}

// pax10SparseTar builds a PAX sparse tar, format 1.0 (the map in the data
// section), as GNU tar --sparse-version=1.0 does.
func pax10SparseTar(name string, m sparseMember) []byte {
	recs := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
		paxRecord("GNU.sparse.name", name) + paxRecord("GNU.sparse.realsize", fmt.Sprint(m.size))
	out := append([]byte(nil), header("PaxHeaders/"+name, 'x', int64(len(recs)), "ustar\x0000").finish()...)
	out = append(out, padTo([]byte(recs))...)
	var mp strings.Builder
	fmt.Fprintf(&mp, "%d\n", len(m.runs))
	for _, f := range m.frags() {
		fmt.Fprintf(&mp, "%d\n%d\n", f.offset, f.length)
	}
	section := append(padTo([]byte(mp.String())), m.stored()...)
	out = append(out, header("GNUSparseFile.0/"+name, '0', int64(len(section)), "ustar\x0000").finish()...)
	out = append(out, padTo(section)...)
	return append(out, make([]byte, 2*blockSize)...)
}

// A sparse member is read as its stored fragments: a tar of a few KB that
// declares 512 MB costs a few KB, and keys are found at their real line,
// column and offset.
func TestSparseTarBuilt(t *testing.T) {
	key, key2 := rulestest.APIKey(), rulestest.APIKey()
	runs := []sparseRun{{0, "head\nk=" + key + "\n"}}
	for i := 1; i <= 30; i++ { // more fragments than the GNU header holds
		runs = append(runs, sparseRun{int64(i) << 24, fmt.Sprintf("block %d\n", i)})
	}
	runs = append(runs, sparseRun{511 << 20, "x=" + key2})
	m := sparseMember{size: 512 << 20, runs: runs}
	lines := 2 + 30 // line of key2
	for format, tarball := range map[string][]byte{"gnu": gnuSparseTar("disk.img", m), "pax-1.0": pax10SparseTar("disk.img", m)} {
		if len(tarball) > 8<<10 {
			t.Fatalf("%s: %d bytes", format, len(tarball))
		}
		for _, it := range both(format+".tar", tarball) {
			res := scan(t, Options{}, it)
			if len(res.Coverage.Skipped) != 0 || res.Coverage.Bytes > 32<<10 {
				t.Fatalf("%s: %d bytes, skipped %+v", format, res.Coverage.Bytes, res.Coverage.Skipped)
			}
			if len(res.Findings) != 2 {
				t.Fatalf("%s: findings %+v", format, res.Findings)
			}
			f1, f2 := res.Findings[0], res.Findings[1]
			if f1.Path != format+".tar!disk.img" || f1.Key != key || f1.Line != 2 || f1.Column != 3 {
				t.Errorf("%s: %s:%d:%d", format, f1.Path, f1.Line, f1.Column)
			}
			if f2.Key != key2 || f2.Line != lines+1 || f2.Offset != 511<<20+2 || f2.Column != int(511<<20+2-(30<<24+9))+1 {
				t.Errorf("%s: key 2 at %d:%d offset %d", format, f2.Line, f2.Column, f2.Offset)
			}
		}
	}
}

// Sparse tars made by GNU tar, in each of its sparse formats.
func TestSparseTarGNU(t *testing.T) {
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("no tar binary")
	}
	if out, _ := exec.Command("tar", "--version").Output(); !bytes.Contains(out, []byte("GNU tar")) {
		t.Skip("tar is not GNU tar")
	}
	dir := t.TempDir()
	key := rulestest.APIKey()
	f, err := os.Create(filepath.Join(dir, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("boot\n"), 0)
	f.WriteAt([]byte("\nk="+key+"\n"), 300<<20)
	f.Truncate(512 << 20)
	f.Close()
	for _, args := range [][]string{
		{"--format=gnu"},
		{"--format=posix", "--sparse-version=0.0"},
		{"--format=posix", "--sparse-version=0.1"},
		{"--format=posix", "--sparse-version=1.0"},
	} {
		out := filepath.Join(dir, "out.tar")
		cmd := exec.Command("tar", append(append([]string{"--sparse", "-cf", out}, args...), "-C", dir, "disk.img")...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar %v: %v\n%s", args, err, msg)
		}
		tarball, _ := os.ReadFile(out)
		if len(tarball) > 1<<20 {
			t.Skipf("tar %v wrote %d bytes: this filesystem does not report holes", args, len(tarball))
		}
		res := scan(t, Options{}, dataItem("out.tar", tarball))
		if len(res.Coverage.Skipped) != 0 || res.Coverage.Bytes > 2<<20 {
			t.Fatalf("tar %v: %d bytes scanned, skipped %+v", args, res.Coverage.Bytes, res.Coverage.Skipped)
		}
		if len(res.Findings) != 1 {
			t.Fatalf("tar %v: findings %+v", args, res.Findings)
		}
		if f := res.Findings[0]; f.Path != "out.tar!disk.img" || f.Line != 3 || f.Column != 3 || f.Offset != 300<<20+3 {
			t.Errorf("tar %v: %s:%d:%d offset %d", args, f.Path, f.Line, f.Column, f.Offset)
		}
	}
}

// logical reads an entry of this package's reader as archive/tar does:
// holes as zeros, up to limit bytes.
func logical(e *tarEntry, limit int64) ([]byte, error) {
	var out []byte
	r := e.reader()
	h, _ := r.(scanner.HoleReader)
	buf := make([]byte, 32<<10)
	for int64(len(out)) < limit {
		if h != nil {
			if off := h.DataOffset(); off > int64(len(out)) {
				out = append(out, make([]byte, min(off, limit)-int64(len(out)))...)
				continue
			}
		}
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	return out[:limit], nil
}

// Differential test: on every tar archive/tar reads without error in
// Go's own test data, this reader finds the same members with the same
// content (holes filled with zeros for the comparison).
func TestTarReaderMatchesArchiveTar(t *testing.T) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("no go command to find Go's test data with: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "src", "archive", "tar", "testdata", "*.tar"))
	if len(files) == 0 {
		t.Skip("Go's archive/tar test data is not installed")
	}
	const limit = 1 << 20
	compared := 0
	for _, name := range files {
		data, _ := os.ReadFile(name)
		want, err := readArchiveTar(data, limit)
		if err != nil {
			continue // damaged on purpose: covered by the notes elsewhere
		}
		tr := newTarReader(bytes.NewReader(data))
		var got []string
		for {
			e, err := tr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(name), err)
			}
			b, err := logical(e, limit)
			if err != nil {
				t.Fatalf("%s: %s: %v", filepath.Base(name), e.name, err)
			}
			// A trailing hole is not produced: nothing is stored there.
			got = append(got, fmt.Sprintf("%s %x", e.name, bytes.TrimRight(b, "\x00")))
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d members, want %d", filepath.Base(name), len(got), len(want))
			continue
		}
		for i := range got {
			if got[i] != want[i] {
				j := 0
				for j < len(got[i]) && j < len(want[i]) && got[i][j] == want[i][j] {
					j++
				}
				t.Errorf("%s: member %d differs at %d:\n got %.80q (len %d)\nwant %.80q (len %d)", filepath.Base(name), i, j, got[i][j:], len(got[i]), want[i][j:], len(want[i]))
			}
		}
		compared++
	}
	if compared < 20 {
		t.Fatalf("only %d archives compared", compared)
	}
}

func readArchiveTar(data []byte, limit int64) ([]string, error) {
	tr := tar.NewReader(bytes.NewReader(data))
	var out []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(tr, limit))
		if err != nil {
			return nil, err
		}
		if len(b) == 0 && h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeGNUSparse {
			continue // no data: not a member to scan
		}
		if isZeros(b) {
			continue // nothing stored: no member to scan (an all-hole sparse file)
		}
		out = append(out, fmt.Sprintf("%s %x", h.Name, bytes.TrimRight(b, "\x00")))
	}
}
