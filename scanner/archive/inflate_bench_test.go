package archive

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkInflate compares Go's gzip reader with klauspost's on a real
// gzip file (XAISCAN_BENCH_GZ, or one of the Go distribution's), in the
// same run: the evidence for which inflate the gzip decoder uses.
func BenchmarkInflate(b *testing.B) {
	p := os.Getenv("XAISCAN_BENCH_GZ")
	if p == "" {
		b.Skip("XAISCAN_BENCH_GZ not set")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		b.Skip(err)
	}
	var out int64
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			zr, err := stdgzip.NewReader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			out, _ = io.Copy(io.Discard, zr)
			b.SetBytes(out)
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		for b.Loop() {
			zr, err := kgzip.NewReader(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			out, _ = io.Copy(io.Discard, zr)
			b.SetBytes(out)
		}
	})
}
