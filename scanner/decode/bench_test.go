package decode

import (
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// corpusSize is how much key-free source text the benchmarks scan.
const corpusSize = 64 << 20

var corpus = sync.OnceValue(func() []byte {
	c, _ := rulestest.GoSource(corpusSize)
	return c
})

func loadCorpus(b *testing.B) []byte {
	c := corpus()
	if len(c) < corpusSize/2 {
		b.Skipf("GOROOT sources too small (%d bytes)", len(c))
	}
	return c
}

// benchSpans runs span decoders' Spans over the corpus in 1 MiB windows,
// as the engine would, without the engine's own costs: the gate on
// ordinary source text.
func benchSpans(b *testing.B, ds ...scanner.Decoder) {
	c := loadCorpus(b)
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	spans := 0
	for range b.N {
		for off := 0; off < len(c); off += scanner.DefaultChunkSize {
			w := c[off:min(off+scanner.DefaultChunkSize, len(c))]
			for _, d := range ds {
				d.Spans(w, func(scanner.Span) { spans++ })
			}
		}
	}
	b.ReportMetric(float64(spans)/float64(b.N), "spans/op")
}

// BenchmarkRulesFind is the baseline for the Spans benchmarks, in the
// same run: the rules' own scan of the same bytes in the same windows.
func BenchmarkRulesFind(b *testing.B) {
	c := loadCorpus(b)
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	n := 0
	for range b.N {
		for off := 0; off < len(c); off += scanner.DefaultChunkSize {
			rules.Find(c[off:min(off+scanner.DefaultChunkSize, len(c))], func(rules.Match) { n++ })
		}
	}
	if n != 0 {
		b.Fatalf("%d keys in key-free text", n)
	}
}

func BenchmarkSpansBase64(b *testing.B) { benchSpans(b, Base64Text{}) }
func BenchmarkSpansUTF16(b *testing.B)  { benchSpans(b, UTF16Text{}) }
func BenchmarkSpansAll(b *testing.B)    { benchSpans(b, Decoders()...) }

// BenchmarkDecodeSpanBase64 decodes a key-free base64 blob wrapped at 76
// columns, as one span: the cost of a decoded view, per encoded byte.
func BenchmarkDecodeSpanBase64(b *testing.B) {
	blob := []byte(wrap(base64.StdEncoding.EncodeToString(loadCorpus(b)[:4<<20]), 76, "\n"))
	ss := spansOf(Base64Text{}, blob)
	if len(ss) == 0 {
		b.Fatal("no span")
	}
	dst := make([]byte, 0, len(blob))
	b.SetBytes(int64(len(blob)))
	b.ResetTimer()
	for range b.N {
		dst, _ = Base64Text{}.DecodeSpan(dst[:0], blob[ss[0].Start:ss[0].End], ss[0])
	}
}

// BenchmarkDecodeSpanUTF16 decodes a key-free UTF-16LE text as one span.
func BenchmarkDecodeSpanUTF16(b *testing.B) {
	u := encUTF16(strings.ReplaceAll(string(loadCorpus(b)[:4<<20]), "\x00", ""), false, false)
	dst := make([]byte, 0, len(u))
	s := scanner.Span{Start: 0, End: len(u), Encoding: EncodingUTF16LE}
	b.SetBytes(int64(len(u)))
	b.ResetTimer()
	for range b.N {
		dst, _ = UTF16Text{}.DecodeSpan(dst[:0], u, s)
	}
}

// benchHotSpans runs Spans over one 1 MiB window of source text that stays
// in cache: the gate's compute cost alone, less noisy than the corpus.
// BenchmarkHotRulesFind is its baseline.
func benchHotSpans(b *testing.B, ds ...scanner.Decoder) {
	w := loadCorpus(b)[8<<20 : 8<<20+scanner.DefaultChunkSize]
	b.SetBytes(int64(len(w)))
	b.ResetTimer()
	for range b.N {
		for _, d := range ds {
			d.Spans(w, func(scanner.Span) {})
		}
	}
}

func BenchmarkHotRulesFind(b *testing.B) {
	w := loadCorpus(b)[8<<20 : 8<<20+scanner.DefaultChunkSize]
	b.SetBytes(int64(len(w)))
	b.ResetTimer()
	for range b.N {
		rules.Find(w, func(rules.Match) {})
	}
}

func BenchmarkHotSpansBase64(b *testing.B) { benchHotSpans(b, Base64Text{}) }
func BenchmarkHotSpansUTF16(b *testing.B)  { benchHotSpans(b, UTF16Text{}) }
func BenchmarkHotSpansAll(b *testing.B)    { benchHotSpans(b, Decoders()...) }
