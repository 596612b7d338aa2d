package gitfile

import (
	"bytes"
	"io"
	"math/rand"
	"testing"
)

// TestSpoolReadAt: what passes through the spool reads back the same at
// any offset, across its memory chunks and in its temporary file, and
// stops being covered past its cap.
func TestSpoolReadAt(t *testing.T) {
	src := make([]byte, 700<<10)
	rand.New(rand.NewSource(1)).Read(src)
	for _, c := range []struct {
		name        string
		memMax, max int64
	}{{"memory", 1 << 30, 1 << 30}, {"file", 100 << 10, 1 << 30}, {"capped", 1 << 30, 300 << 10}} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TMPDIR", t.TempDir())
			s := newSpool(bytes.NewReader(src), c.memMax, c.max)
			defer s.close()
			buf := make([]byte, 777) // odd reads, so chunk edges fall inside them
			for {
				if _, err := s.Read(buf); err == io.EOF {
					break
				}
			}
			if c.name == "file" && s.f == nil {
				t.Fatal("spool past memMax is not in a file")
			}
			want := min(int64(len(src)), c.max)
			if c.name == "capped" {
				want = s.n
				if s.n > c.max || s.has(c.max+1) || s.why == "" {
					t.Fatalf("capped spool covers %d bytes (cap %d), why %q", s.n, c.max, s.why)
				}
			}
			for _, off := range []int64{0, 64<<10 - 5, 192<<10 - 1, 300 << 10, want - 10} {
				got := make([]byte, 100)
				n, err := s.ReadAt(got, off)
				if off >= want {
					if n != 0 || err != io.EOF {
						t.Errorf("ReadAt(%d) past the %d bytes kept: %d bytes, err %v", off, want, n, err)
					}
					continue
				}
				end := min(off+100, want)
				if !bytes.Equal(got[:n], src[off:end]) || (err != nil) != (end < off+100) {
					t.Errorf("ReadAt(%d): %d bytes, err %v: not the source's", off, n, err)
				}
			}
		})
	}
}
