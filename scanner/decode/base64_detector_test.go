package decode

// Tests of the old Detector API, deleted with it (see base64_detector.go).

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// scan runs the real engine with the plain and decoding detectors and small
// chunks, so keys straddle chunk boundaries.
func scan(t testing.TB, items ...scanner.Item) scanner.Result {
	t.Helper()
	dets := append([]scanner.Detector{scanner.Plain{}}, Detectors()...)
	res, err := scanner.New(scanner.Options{Detectors: dets, ChunkSize: 4096, Workers: 2}).
		Run(context.Background(), scanner.ItemList(items))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func detect(d scanner.Detector, w []byte) []scanner.Hit {
	var hs []scanner.Hit
	d.Detect(w, func(h scanner.Hit) {
		h.Key = bytes.Clone(h.Key)
		hs = append(hs, h)
	})
	return hs
}

// TestBase64Alignments puts a key at every alignment (prefix lengths 0-5),
// in both alphabets, padded and not, between bytes whose encodings use '+',
// '/', '-' and '_'.
func TestBase64Alignments(t *testing.T) {
	for name, enc := range b64Encodings {
		for _, key := range []string{rulestest.APIKey(), rulestest.ManagementKey()} {
			for pre := 0; pre <= 5; pre++ {
				for _, suf := range []string{"", "\n", "\xfb\xff", " tail"} {
					plain := append(bytes.Repeat([]byte{0xfb}, pre), key+suf...)
					if pre > 0 {
						plain[pre-1] = '=' // a boundary byte before the key
					}
					encoded := enc.EncodeToString(plain)
					text := []byte("value: \"" + encoded + "\"\n")
					hs := detect(Base64{}, text)
					if len(hs) != 1 {
						t.Fatalf("%s pre=%d suf=%q: %d hits, want 1", name, pre, suf, len(hs))
					}
					h := hs[0]
					if string(h.Key) != key || h.Encoding != EncodingBase64 {
						t.Fatalf("%s pre=%d: wrong hit %s %s", name, pre, rules.Redact(string(h.Key)), h.Encoding)
					}
					off := strings.Index(string(text), encoded)
					if h.Start < off || h.End > off+len(encoded) || h.End-h.Start < 112 {
						t.Fatalf("%s pre=%d: span [%d,%d) outside encoded text [%d,%d)", name, pre, h.Start, h.End, off, off+len(encoded))
					}
				}
			}
		}
	}
}

func TestBase64Rejects(t *testing.T) {
	key := rulestest.APIKey()
	for name, plain := range map[string]string{
		"word before":   "tax" + key,
		"81 chars":      key + "Z",
		"placeholder":   rules.Prefix + strings.Repeat("abcdefghij", 8),
		"underscore":    "xai_" + key[4:],
		"79 chars":      key[:len(key)-1],
		"no key at all": strings.Repeat("lorem ipsum dolor sit amet ", 20),
	} {
		for _, enc := range b64Encodings {
			if hs := detect(Base64{}, []byte(enc.EncodeToString([]byte(plain)))); len(hs) != 0 {
				t.Errorf("%s: %d hits, want none", name, len(hs))
			}
		}
	}
}

// TestBase64Wrapped decodes across line wraps (base64(1) wraps at 76). The
// quantum-aligned literals (alignments 0 and 2) are never split by a wrap
// at a multiple of 4 columns; alignment 1's literal is, once in 19 places.
func TestBase64Wrapped(t *testing.T) {
	key := rulestest.APIKey()
	for pre := 0; pre < 12; pre++ {
		plain := append([]byte(strings.Repeat("A", pre)+"="), key...)
		enc := base64.StdEncoding.EncodeToString(plain)
		var wrapped strings.Builder
		for i := 0; i < len(enc); i += 76 {
			wrapped.WriteString(enc[i:min(i+76, len(enc))])
			wrapped.WriteString("\r\n")
		}
		hs := detect(Base64{}, []byte(wrapped.String()))
		align := (pre + 1) % 3
		if align == 1 && !strings.Contains(wrapped.String(), string(b64Patterns[1].lit)) {
			continue // the known gap
		}
		if len(hs) != 1 || string(hs[0].Key) != key {
			t.Errorf("pre=%d (alignment %d): %d hits", pre, align, len(hs))
		}
	}
}

// TestK8sSecret scans a Secret manifest with a key as a whole value and a
// key inside an encoded .env file, through the engine.
func TestK8sSecret(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.ManagementKey()
	env := "# app settings\nLOG_LEVEL=debug\nXAI_MANAGEMENT_KEY=" + k2 + "\nREGION=us\n"
	manifest := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: grok\ntype: Opaque\ndata:\n" +
		"  XAI_API_KEY: " + base64.StdEncoding.EncodeToString([]byte(k1)) + "\n" +
		"  app.env: " + base64.StdEncoding.EncodeToString([]byte(env)) + "\n"
	res := scan(t, dataItem("secret.yaml", []byte(manifest)))
	if len(res.Findings) != 2 {
		t.Fatalf("%d findings, want 2", len(res.Findings))
	}
	for i, want := range []struct {
		key  string
		line int
		rule string
	}{{k1, 7, rules.APIKey}, {k2, 8, rules.ManagementKey}} {
		f := res.Findings[i]
		if f.Key != want.key || f.Line != want.line || f.Rule != want.rule || f.Encoding != EncodingBase64 {
			t.Errorf("finding %d: %s line %d rule %s enc %q", i, f.Secret, f.Line, f.Rule, f.Encoding)
		}
	}
	// The whole value sits right after "  XAI_API_KEY: ".
	if f := res.Findings[0]; f.Column != len("  XAI_API_KEY: ")+1 {
		t.Errorf("column %d", f.Column)
	}
}

// TestAllowMarkers: a marker on the encoded text's line, or inside the
// decoded text, or in UTF-16 on the key's line, suppresses the finding.
func TestAllowMarkers(t *testing.T) {
	key := rulestest.APIKey()
	b1 := []byte("k: " + base64.StdEncoding.EncodeToString([]byte(key)) + " # xaiscan:allow\n")
	b2 := []byte("k: " + base64.StdEncoding.EncodeToString([]byte("KEY="+key+" # gitleaks:allow\n")) + "\n")
	u := encUTF16("$k = '"+key+"' # xaiscan:allow\r\n", false, true)
	res := scan(t, dataItem("a", b1), dataItem("b", b2), dataItem("c", u))
	if len(res.Findings) != 0 {
		t.Fatalf("%d findings, want 0: first in %s", len(res.Findings), res.Findings[0].Path)
	}
	if res.Coverage.AllowMarked != 3 {
		t.Errorf("AllowMarked = %d, want 3", res.Coverage.AllowMarked)
	}
	// --no-allow-markers: the same keys are reported, none counted.
	dets := append([]scanner.Detector{scanner.Plain{}}, Detectors()...)
	res, err := scanner.New(scanner.Options{Detectors: dets, IgnoreAllowMarkers: true}).
		Run(context.Background(), scanner.ItemList{dataItem("a", b1), dataItem("b", b2), dataItem("c", u)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 3 || res.Coverage.AllowMarked != 0 {
		t.Errorf("ignoring markers: %d findings (want 3), AllowMarked %d", len(res.Findings), res.Coverage.AllowMarked)
	}
}

func TestUTF16(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.ManagementKey()
	text := "# profile\r\n$env:XAI_API_KEY = \"" + k1 + "\"\r\n\r\n$m=\"" + k2 + "\"\r\n"
	for _, tc := range []struct {
		name    string
		be, bom bool
		enc     string
	}{
		{"le-bom", false, true, EncodingUTF16LE}, {"le", false, false, EncodingUTF16LE},
		{"be-bom", true, true, EncodingUTF16BE}, {"be", true, false, EncodingUTF16BE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encUTF16(text, tc.be, tc.bom)
			res := scan(t, dataItem("p.ps1", b), openItem("q.ps1", b))
			if len(res.Findings) != 4 {
				t.Fatalf("%d findings, want 4", len(res.Findings))
			}
			for _, f := range res.Findings {
				want, line := k1, 2
				if f.Rule == rules.ManagementKey {
					want, line = k2, 4
				}
				if f.Key != want || f.Line != line || f.Encoding != tc.enc {
					t.Errorf("%s: %s line %d (want %d) enc %q", f.Path, f.Secret, f.Line, line, f.Encoding)
				}
			}
		})
	}
	// Odd offset inside binary data, and boundaries in UTF-16.
	bin := append([]byte{0, 1, 2}, encUTF16(k1, false, false)...)
	bin = append(bin, 0xff, 0xfe, 0x00)
	if hs := detect(UTF16{}, bin); len(hs) != 1 || hs[0].Start != 3 || hs[0].End != 3+2*len(k1) {
		t.Fatalf("binary: %+v", hs)
	}
	for _, bad := range []string{"tax" + k1, k1 + "Z", "_" + k1} {
		if hs := detect(UTF16{}, encUTF16(bad, false, false)); len(hs) != 0 {
			t.Errorf("%d hits in a non-key", len(hs))
		}
	}
}

// TestChunkBoundaries places an encoded key at the start, in the middle,
// at the end, and at offsets sweeping across the engine's first chunk
// boundary (ChunkSize 4096: the first window owns starts below 5120), for
// each encoding, in streamed and in-memory items, and checks each key is
// found exactly once on the right line.
func TestChunkBoundaries(t *testing.T) {
	key := rulestest.APIKey()
	type layout struct {
		name   string
		build  func(before string) []byte
		enc    string
		factor int // bytes per character of the surrounding text
	}
	b64 := base64.StdEncoding.EncodeToString([]byte("KEY=" + key + "\n"))
	layouts := []layout{
		{"base64", func(before string) []byte { return []byte(before + b64 + "\n" + strings.Repeat("tail\n", 40)) }, EncodingBase64, 1},
		{"utf-16le", func(before string) []byte {
			return encUTF16(before+key+"\n"+strings.Repeat("tail\n", 40), false, false)
		}, EncodingUTF16LE, 2},
		{"utf-16be", func(before string) []byte {
			return encUTF16(before+key+"\n"+strings.Repeat("tail\n", 40), true, false)
		}, EncodingUTF16BE, 2},
	}
	for _, l := range layouts {
		var items []scanner.Item
		lines := map[string]int{}
		add := func(name string, nbytes int) {
			before, n := filler(nbytes / l.factor)
			b := l.build(before)
			items = append(items, dataItem(name+"/data", b), openItem(name+"/open", b))
			lines[name+"/data"], lines[name+"/open"] = n+1, n+1
		}
		add("start", 0)
		add("middle", 3*4096)
		for off := 5120 - 400; off < 5120+40; off += 7 {
			add(fmt.Sprintf("straddle-%d", off), off)
		}
		add("straddle-2nd", 9216-100)
		// At the end: nothing follows the key.
		before, n := filler(4 * 4096 / l.factor)
		var end []byte
		switch l.enc {
		case EncodingBase64:
			end = []byte(before + base64.RawStdEncoding.EncodeToString([]byte(key)))
		default:
			end = encUTF16(before+key, l.enc == EncodingUTF16BE, false)
		}
		items = append(items, dataItem("end/data", end), openItem("end/open", end))
		lines["end/data"], lines["end/open"] = n+1, n+1

		res := scan(t, items...)
		seen := map[string]int{}
		for _, f := range res.Findings {
			seen[f.Path]++
			if f.Key != key || f.Encoding != l.enc || f.Line != lines[f.Path] {
				t.Errorf("%s %s: %s enc %q line %d, want line %d", l.name, f.Path, f.Secret, f.Encoding, f.Line, lines[f.Path])
			}
		}
		for _, it := range items {
			if seen[it.Path] != 1 {
				t.Errorf("%s %s: found %d times, want once", l.name, it.Path, seen[it.Path])
			}
		}
	}
}

// checkHits is the fuzz oracle: offsets in range and keys that the rules
// accept on their own.
func checkHits(t *testing.T, w []byte, hs []scanner.Hit) {
	for _, h := range hs {
		if h.Start < 0 || h.End > len(w) || h.Start >= h.End {
			t.Fatalf("hit [%d,%d) outside window of %d", h.Start, h.End, len(w))
		}
		if m, ok := rules.MatchAt(h.Key, 0); !ok || m.End != len(h.Key) {
			t.Fatalf("hit key is not a key")
		}
	}
}

// TestEncodedGate checks the combined detector against the two it combines,
// with a UTF-16 key at every offset right after a base64-like run of every
// length (the gate skips samples inside runs; it must not skip the key).
func TestEncodedGate(t *testing.T) {
	key := rulestest.APIKey()
	u := encUTF16(" "+key+" ", false, false)
	b := []byte(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("payload ", 40))))
	for run := 100; run < 300; run += 13 {
		for gap := 0; gap < 100; gap++ {
			w := []byte("text (" + string(b[:run]) + ")" + strings.Repeat(".", gap))
			w = append(w, u...)
			w = append(w, "\n and more text after it\n"...)
			enc := detect(Encoded{}, w)
			sep := append(detect(Base64{}, w), detect(UTF16{}, w)...)
			if len(enc) != 1 || len(sep) != 1 || string(enc[0].Key) != key || enc[0].Start != sep[0].Start {
				t.Fatalf("run %d gap %d: combined %d hits, separate %d", run, gap, len(enc), len(sep))
			}
		}
	}
}

func FuzzBase64(f *testing.F) {
	key := rulestest.APIKey()
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte("A=" + key))))
	f.Add([]byte(base64.URLEncoding.EncodeToString([]byte("\xff\xfe" + key + "\n"))))
	f.Add([]byte("eGFpLhhaS4YWkt\n\r" + strings.Repeat("QUFB", 40)))
	f.Fuzz(func(t *testing.T, w []byte) {
		b, u := detect(Base64{}, w), detect(UTF16{}, w)
		checkHits(t, w, b)
		checkHits(t, w, u)
		if e := detect(Encoded{}, w); len(e) != len(b)+len(u) {
			t.Fatalf("combined detector: %d hits, separate: %d", len(e), len(b)+len(u))
		}
	})
}

func FuzzUTF16(f *testing.F) {
	key := rulestest.APIKey()
	f.Add(encUTF16("a="+key, false, true))
	f.Add(encUTF16(key, true, false)[1:])
	f.Add([]byte("x\x00a\x00i\x00-\x00"))
	f.Fuzz(func(t *testing.T, w []byte) {
		checkHits(t, w, detect(UTF16{}, w))
	})
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// `base64` wraps at 76 columns by default: a key is found at every offset,
// including where a wrap splits the fixed prefix the search looks for.
func TestBase64WrappedAtEveryOffset(t *testing.T) {
	key := rulestest.APIKey()
	for _, width := range []struct {
		cols int
		eol  string
	}{{76, "\n"}, {64, "\r\n"}} { // base64(1), PEM
		for pre := 0; pre < 120; pre++ {
			plain := "KEY_FILE_CONTENT_" + strings.Repeat("p", pre) + "=" + key + "\n"
			enc := base64.StdEncoding.EncodeToString([]byte(plain))
			var wrapped strings.Builder
			for len(enc) > width.cols {
				wrapped.WriteString(enc[:width.cols] + width.eol)
				enc = enc[width.cols:]
			}
			wrapped.WriteString(enc + width.eol)
			var got []string
			Base64{}.Detect([]byte(wrapped.String()), func(h scanner.Hit) { got = append(got, string(h.Key)) })
			if len(got) != 1 || got[0] != key {
				t.Fatalf("width %d, prefix %d: found %d keys", width.cols, pre, len(got))
			}
		}
	}
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
