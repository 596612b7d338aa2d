package decode

import (
	"os"
	"sync"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// escapeCorpora is real key-free text of three kinds: Go source, JSON and
// HTML (with its inline JavaScript), all from GOROOT.
var escapeCorpora = sync.OnceValues(func() (map[string][]byte, error) {
	src, err := rulestest.GoSource(16 << 20)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{"go": src}
	for kind, ext := range map[string]string{"json": ".json", "html": ".html"} {
		files, err := goRootFiles(ext)
		if err != nil {
			return nil, err
		}
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			out[kind] = append(out[kind], b...)
		}
	}
	return out, nil
})

// BenchmarkEscapeGate runs each escape decoder's Spans over ordinary text
// in 1 MiB windows, as the engine does, next to rules.Find over the same
// windows in the same run: the ratio is the gate's cost.
func BenchmarkEscapeGate(b *testing.B) {
	corpora, err := escapeCorpora()
	if err != nil {
		b.Skipf("no GOROOT corpus: %v", err)
	}
	cases := []struct {
		name string
		run  func(w []byte)
	}{
		{"rules.Find", func(w []byte) { rules.Find(w, countMatch) }},
		{"json", func(w []byte) { JSONEscape{}.Spans(w, countSpan) }},
		{"html", func(w []byte) { HTMLEntity{}.Spans(w, countSpan) }},
		{"percent", func(w []byte) { Percent{}.Spans(w, countSpan) }},
		{"qp", func(w []byte) { QuotedPrintable{}.Spans(w, countSpan) }},
	}
	for _, kind := range []string{"go", "json", "html"} {
		data := corpora[kind]
		for _, c := range cases {
			b.Run(kind+"/"+c.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				benchCount = 0
				for range b.N {
					for off := 0; off < len(data); off += scanner.DefaultChunkSize {
						c.run(data[off:min(off+scanner.DefaultChunkSize, len(data))])
					}
				}
				// Spans that reach a window's end are yielded unseen (the
				// rest is in the next window); anything else is a false alarm.
				b.ReportMetric(float64(benchCount)/float64(b.N), "spans/op")
			})
		}
	}
}

// benchCount counts spans and matches; a package-level sink keeps the
// callbacks from allocating, so allocs/op is the decoders' own.
var benchCount int

func countMatch(rules.Match) { benchCount++ }
func countSpan(scanner.Span) { benchCount++ }
