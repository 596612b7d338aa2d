package rules_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

var corpus = sync.OnceValues(func() ([]byte, error) { return rulestest.GoSource(64 << 20) })

// realisticCorpus returns 64 MiB of real, key-free source text: the Go
// distribution's own sources.
func realisticCorpus(b *testing.B) []byte {
	c, err := corpus()
	if err != nil || len(c) < 64<<20 {
		b.Skipf("could not assemble a 64 MiB corpus from GOROOT (%d bytes, %v)", len(c), err)
	}
	return c
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
