package rules_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
)

var (
	corpusOnce sync.Once
	corpus     []byte
)

// realisticCorpus returns at least 64 MiB of real, key-free source text:
// the Go distribution's own sources, repeated if needed.
func realisticCorpus(b *testing.B) []byte {
	corpusOnce.Do(func() {
		const want = 64 << 20
		var buf bytes.Buffer
		root := filepath.Join(runtime.GOROOT(), "src")
		for buf.Len() < want {
			before := buf.Len()
			_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || buf.Len() >= want {
					return nil
				}
				if data, err := os.ReadFile(p); err == nil {
					buf.Write(data)
				}
				return nil
			})
			if buf.Len() == before {
				break
			}
		}
		corpus = buf.Bytes()
	})
	if len(corpus) < 64<<20 {
		b.Skipf("could not assemble a 64 MiB corpus from GOROOT (got %d bytes)", len(corpus))
	}
	return corpus
}

// BenchmarkFind measures the rules over key-free source text; compare
// with BenchmarkIndexBaseline, the bare SIMD search it is built on.
func BenchmarkFind(b *testing.B) {
	data := realisticCorpus(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		rules.Find(data, func(rules.Match) { n++ })
	}
	if n != 0 {
		b.Fatalf("found %d keys in key-free text", n)
	}
}

// BenchmarkIndexBaseline is the floor: bytes.Index over the same text.
func BenchmarkIndexBaseline(b *testing.B) {
	data := realisticCorpus(b)
	needle := []byte(rules.Prefix)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; ; {
			k := bytes.Index(data[j:], needle)
			if k < 0 {
				break
			}
			j += k + 1
		}
	}
}
