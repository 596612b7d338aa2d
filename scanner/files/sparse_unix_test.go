//go:build linux || darwin || freebsd

package files_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/archive"
	"github.com/xaiscan/xaiscan/scanner/files"
)

// sparseFile writes a file of size bytes holding data runs at offsets, and
// skips the test when the filesystem does not report its holes.
func sparseFile(t *testing.T, size int64, runs map[int64][]byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sparse.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Skipf("cannot make a %d-byte sparse file here: %v", size, err)
	}
	for at, b := range runs {
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
	}
	if hole, err := f.Seek(0, unix.SEEK_HOLE); err != nil || hole >= size {
		t.Skipf("this filesystem does not report holes (SEEK_HOLE: %d, %v)", hole, err)
	}
	return p
}

// A 50 GB sparse file with a key at its end: only its data is read, and
// the key is at its real line and column.
func TestSparseFileHolesSkipped(t *testing.T) {
	key := rulestest.APIKey()
	const size = 50 << 30
	tail := []byte("log\nk=" + key + "\n")
	p := sparseFile(t, size, map[int64][]byte{size - int64(len(tail)): tail})
	res := scan(t, []string{p}, files.Options{})
	// The first MiB is read before the file is checked for holes.
	if res.Coverage.Bytes > 2<<20 || len(res.Coverage.Skipped) != 0 {
		t.Fatalf("read %d bytes, skipped %+v", res.Coverage.Bytes, res.Coverage.Skipped)
	}
	if len(res.Findings) != 1 {
		t.Fatalf("findings %+v", res.Findings)
	}
	if f := res.Findings[0]; f.Line != 2 || f.Column != 3 || f.Offset != size-int64(len(key))-1 {
		t.Errorf("at %d:%d offset %d", f.Line, f.Column, f.Offset)
	}
}

// A sparse file that starts like a container: the expander gets the holes
// as zeros (bounded), and the bytes after them are still scanned raw.
func TestSparseFileThatStartsAsGzip(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("k=" + k1 + "\n"))
	zw.Close()
	const size = 8 << 30
	p := sparseFile(t, size, map[int64][]byte{0: z.Bytes(), size - 100: []byte("k=" + k2 + "\n")})
	eng := scanner.New(scanner.Options{Decoders: []scanner.Decoder{archive.New(archive.Options{})}})
	res, err := eng.Run(context.Background(), files.New([]string{p}, files.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || res.Coverage.Bytes > 4<<20 || res.Coverage.Partial() {
		t.Fatalf("findings %+v, %d bytes, skipped %+v", res.Findings, res.Coverage.Bytes, res.Coverage.Skipped)
	}
	if res.Findings[0].Key != k2 || res.Findings[1].Key != k1 || res.Findings[1].Path != filepath.ToSlash(p)+"!sparse.img" {
		t.Fatalf("findings %+v", res.Findings)
	}
}
