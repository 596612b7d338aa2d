package decode

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// corpusSize is how much key-free source text the benchmarks scan.
const corpusSize = 64 << 20

var corpus = sync.OnceValue(func() []byte {
	c, _ := rulestest.GoSource(corpusSize)
	return c
})

// corpusFiles lists realistic key-free text: the Go distribution's own
// sources (testdata excluded), up to corpusSize bytes.
var corpusFiles = sync.OnceValue(func() []string {
	files, _ := rulestest.GoSourceFiles(corpusSize)
	return files
})

func loadCorpus(b *testing.B) []byte {
	c := corpus()
	if len(c) < corpusSize/2 {
		b.Skipf("GOROOT sources too small (%d bytes)", len(c))
	}
	return c
}

// benchDetectors runs detectors over the corpus in 1 MiB windows, as the
// engine would, without the engine's own costs.
func benchDetectors(b *testing.B, dets ...scanner.Detector) {
	c := loadCorpus(b)
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	hits := 0
	for range b.N {
		for off := 0; off < len(c); off += scanner.DefaultChunkSize {
			w := c[off:min(off+scanner.DefaultChunkSize, len(c))]
			for _, d := range dets {
				d.Detect(w, func(scanner.Hit) { hits++ })
			}
		}
	}
	if hits != 0 {
		b.Fatalf("%d hits in key-free text", hits)
	}
}

func BenchmarkDetectPlain(b *testing.B)  { benchDetectors(b, scanner.Plain{}) }
func BenchmarkDetectBase64(b *testing.B) { benchDetectors(b, Base64{}) }
func BenchmarkDetectUTF16(b *testing.B)  { benchDetectors(b, UTF16{}) }
func BenchmarkDetectAll(b *testing.B)    { benchDetectors(b, scanner.Plain{}, Encoded{}) }

// benchEngine scans the corpus through the real engine as one streamed
// item on one worker: chunking, line counting and allow checks included.
func benchEngine(b *testing.B, dets []scanner.Detector) {
	c := loadCorpus(b)
	eng := scanner.New(scanner.Options{Detectors: dets, Workers: 1})
	src := scanner.ItemList{{Path: "corpus", Source: scanner.SourceFile, Size: int64(len(c)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(c)), nil }}}
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	for range b.N {
		res, err := eng.Run(context.Background(), src)
		if err != nil || len(res.Findings) != 0 {
			b.Fatalf("err %v, %d findings", err, len(res.Findings))
		}
	}
}

func BenchmarkEnginePlain(b *testing.B) { benchEngine(b, []scanner.Detector{scanner.Plain{}}) }
func BenchmarkEngineAll(b *testing.B) {
	benchEngine(b, append([]scanner.Detector{scanner.Plain{}}, Detectors()...))
}

// Decoders' own throughput on content that is all encoded: a long base64
// blob and a UTF-16 text, both key-free.
func BenchmarkDecodeBase64Blob(b *testing.B) {
	c := loadCorpus(b)[:8<<20]
	enc := []byte(base64Std(c))
	benchWindows(b, Base64{}, enc)
}

func BenchmarkDecodeUTF16Text(b *testing.B) {
	c := loadCorpus(b)[:8<<20]
	benchWindows(b, UTF16{}, encUTF16(string(c), false, true))
}

func benchWindows(b *testing.B, d scanner.Detector, data []byte) {
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		for off := 0; off < len(data); off += scanner.DefaultChunkSize {
			d.Detect(data[off:min(off+scanner.DefaultChunkSize, len(data))], func(scanner.Hit) {})
		}
	}
}

// benchHot runs detectors over one 1 MiB window that stays in cache, as
// the engine's window does once read: the detectors' compute cost alone.
func benchHot(b *testing.B, dets ...scanner.Detector) {
	w := loadCorpus(b)[8<<20 : 8<<20+scanner.DefaultChunkSize]
	b.SetBytes(int64(len(w)))
	b.ResetTimer()
	for range b.N {
		for _, d := range dets {
			d.Detect(w, func(scanner.Hit) {})
		}
	}
}

func BenchmarkHotPlain(b *testing.B)  { benchHot(b, scanner.Plain{}) }
func BenchmarkHotBase64(b *testing.B) { benchHot(b, Base64{}) }
func BenchmarkHotUTF16(b *testing.B)  { benchHot(b, UTF16{}) }

// benchFiles scans the corpus as the directory source would: one item per
// file, opened and read by the engine's workers (2, one per core here), so
// open/read syscalls and per-item costs are included.
func benchFiles(b *testing.B, dets []scanner.Detector) {
	c := loadCorpus(b)
	files := corpusFiles()
	items := make(scanner.ItemList, len(files))
	for i, p := range files {
		items[i] = scanner.Item{Path: p, Source: scanner.SourceFile, Size: -1, Counts: scanner.CountFile,
			Open: func() (io.ReadCloser, error) { return os.Open(p) }}
	}
	eng := scanner.New(scanner.Options{Detectors: dets})
	b.SetBytes(int64(len(c)))
	b.ResetTimer()
	for range b.N {
		res, err := eng.Run(context.Background(), items)
		if err != nil || len(res.Findings) != 0 {
			b.Fatalf("err %v, %d findings", err, len(res.Findings))
		}
	}
}

func BenchmarkFilesPlain(b *testing.B) { benchFiles(b, []scanner.Detector{scanner.Plain{}}) }
func BenchmarkFilesAll(b *testing.B) {
	benchFiles(b, append([]scanner.Detector{scanner.Plain{}}, Detectors()...))
}
func BenchmarkHotEncoded(b *testing.B) { benchHot(b, Encoded{}) }

// BenchmarkDetectBase64ShortLines is the worst case of the line-break
// search: one base64 run ("0\n0\n..." as in a sparse map listing) with a
// break every other byte.
func BenchmarkDetectBase64ShortLines(b *testing.B) {
	w := bytes.Repeat([]byte("0\n"), scanner.DefaultChunkSize/2)
	b.SetBytes(int64(len(w)))
	for range b.N {
		Encoded{}.Detect(w, func(scanner.Hit) { b.Fatal("hit") })
	}
}
