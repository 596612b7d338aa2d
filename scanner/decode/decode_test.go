package decode

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// found is one key that look saw: the key, the chain of encodings it was
// under (outermost first) and where the outermost encoded text starts.
type found struct {
	key, chain string
	at         int
}

// look does in one window what the recursive engine of issue 11 does: the
// rules on the bytes, then every decoder's spans decoded and looked at
// again, up to depth levels. at is the outermost location of b (-1 at the
// top: a finding there is located at its own offset).
func look(t testing.TB, b []byte, chain string, at, depth int, out *[]found) {
	t.Helper()
	rules.Find(b, func(m rules.Match) {
		loc := at
		if loc < 0 {
			loc = m.Start
		}
		*out = append(*out, found{string(b[m.Start:m.End]), chain, loc})
	})
	if depth == 0 {
		return
	}
	for _, d := range []scanner.Decoder{Base64Text{}, UTF16Text{}} {
		d.Spans(b, func(s scanner.Span) {
			checkSpan(t, b, s)
			dec, err := d.DecodeSpan(nil, b[s.Start:s.End], s)
			if err != nil {
				t.Fatalf("%s span [%d,%d): %v", s.Encoding, s.Start, s.End, err)
			}
			loc := at
			if loc < 0 {
				loc = s.Start
			}
			look(t, dec, scanner.JoinEncoding(chain, s.Encoding), loc, depth-1, out)
		})
	}
}

// lookAll runs look at the engine's default depth.
func lookAll(t testing.TB, b []byte) []found {
	t.Helper()
	var out []found
	look(t, b, "", -1, 4, &out)
	return out
}

// checkSpan fails on a span outside its window or empty.
func checkSpan(t testing.TB, w []byte, s scanner.Span) {
	t.Helper()
	if s.Start < 0 || s.End > len(w) || s.Start >= s.End || s.Encoding == "" {
		t.Fatalf("span %+v in a window of %d bytes", s, len(w))
	}
}

// spansOf collects one decoder's spans of w.
func spansOf(d scanner.Decoder, w []byte) []scanner.Span {
	var ss []scanner.Span
	d.Spans(w, func(s scanner.Span) { ss = append(ss, s) })
	return ss
}

// wantOne fails unless exactly key was found, once, under chain.
func wantOne(t *testing.T, what string, got []found, key, chain string) found {
	t.Helper()
	if len(got) != 1 || got[0].key != key || got[0].chain != chain {
		var s []string
		for _, f := range got {
			s = append(s, rules.Redact(f.key)+" under "+f.chain)
		}
		t.Fatalf("%s: found %d keys %v, want 1 under %q", what, len(got), s, chain)
	}
	return got[0]
}

// wantNone fails if anything was found.
func wantNone(t *testing.T, what string, got []found) {
	t.Helper()
	if len(got) != 0 {
		t.Fatalf("%s: found %d keys (first under %q), want none", what, len(got), got[0].chain)
	}
}

// wrap cuts s into lines of cols characters ended by eol.
func wrap(s string, cols int, eol string) string {
	var b strings.Builder
	for len(s) > cols {
		b.WriteString(s[:cols] + eol)
		s = s[cols:]
	}
	b.WriteString(s)
	return b.String()
}

// windows is the engine's view of b in two windows: the first b[:cut]
// (cut even: windows start at even offsets) and the next one starting ov
// bytes before cut (the overlap the engine keeps), in which runs of the
// first are resumed at from = ov. The first window owns the spans that
// start before the second does; the second owns the rest, except those
// inside a run that was continued. It returns the spans with offsets in b.
func windows(d scanner.Decoder, b []byte, cut, ov int) []scanner.Span {
	w1, w2 := b[:cut], b[cut-ov:]
	var out []scanner.Span
	contEnd := 0
	for _, s := range spansOf(d, w1) {
		if s.Start >= cut-ov {
			continue
		}
		if s.End == cut {
			s.End = cut - ov + d.Continue(w2, ov, s)
			contEnd = max(contEnd, s.End)
		}
		out = append(out, s)
	}
	for _, s := range spansOf(d, w2) {
		s.Start += cut - ov
		s.End += cut - ov
		if s.Start >= contEnd {
			out = append(out, s)
		}
	}
	return out
}

// decoding keeps the spans of b that decode to something.
func decoding(d scanner.Decoder, b []byte, ss []scanner.Span) []scanner.Span {
	var out []scanner.Span
	for _, s := range ss {
		if dec, _ := d.DecodeSpan(nil, b[s.Start:s.End], s); len(dec) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// keysIn decodes spans of b and returns the keys the rules find in them.
func keysIn(t testing.TB, d scanner.Decoder, b []byte, ss []scanner.Span) []string {
	t.Helper()
	var keys []string
	for _, s := range ss {
		dec, err := d.DecodeSpan(nil, b[s.Start:s.End], s)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rules.FindAll(dec) {
			keys = append(keys, string(dec[m.Start:m.End]))
		}
	}
	return keys
}

var b64Encodings = map[string]*base64.Encoding{
	"std": base64.StdEncoding, "std-raw": base64.RawStdEncoding,
	"url": base64.URLEncoding, "url-raw": base64.RawURLEncoding,
}

// TestDecodersRegistry: the registry holds the base64, UTF-16 and escape
// decoders, and none claims containers.
func TestDecodersRegistry(t *testing.T) {
	ds := Decoders()
	if len(ds) != 6 {
		t.Fatalf("%d decoders", len(ds))
	}
	for _, d := range ds {
		if d.Opens(scanner.Item{Path: "a.gz"}, []byte{0x1f, 0x8b, 8, 0}) {
			t.Errorf("%T opens a container", d)
		}
	}
	if _, ok := ds[0].(Base64Text); !ok {
		t.Errorf("first decoder is %T", ds[0])
	}
}

// checkConsistent is the fuzz oracle of a span decoder on w: spans within
// the window and decodable without panic, and the two-window view (cut
// at an even offset, with overlap ov) ending every continued run where
// the whole window's spans end, with the same decoding.
func checkConsistent(t *testing.T, d scanner.Decoder, w []byte, cut, ov int) {
	whole := spansOf(d, w)
	byStart := map[[2]int]scanner.Span{}
	for _, s := range whole {
		checkSpan(t, w, s)
		dec, err := d.DecodeSpan(nil, w[s.Start:s.End], s)
		if err != nil || len(dec) > len(w) {
			t.Fatalf("span %+v: %d bytes decoded, %v", s, len(dec), err)
		}
		byStart[[2]int{s.Start, s.Tag}] = s
	}
	cut &^= 1
	if cut <= 0 || cut >= len(w) {
		return
	}
	ov = min(ov&^1, cut)
	w1, w2 := w[:cut], w[cut-ov:]
	for _, s := range spansOf(d, w1) {
		checkSpan(t, w1, s)
		if s.End < cut {
			if _, ok := byStart[[2]int{s.Start, s.Tag}]; !ok {
				t.Fatalf("span %+v of the first window is not in the whole one", s)
			}
			continue
		}
		e := d.Continue(w2, ov, s)
		if e < ov || e > len(w2) {
			t.Fatalf("Continue from %d returned %d in %d bytes", ov, e, len(w2))
		}
		s.End = cut - ov + e
		dec, _ := d.DecodeSpan(nil, w[s.Start:s.End], s)
		ws, ok := byStart[[2]int{s.Start, s.Tag}]
		if !ok && s.Tag == tagRealigned {
			// Which realigned spans a run gets depends on its first
			// line's length, which a window can cut: a split run may be
			// realigned where the whole one is realigned on its second
			// line instead. An extra decoding, never a lost one (the
			// engine reports a key reached twice on a line once).
			continue
		}
		if !ok {
			if len(dec) > 0 {
				t.Fatalf("continued span %+v decodes to %d bytes but is not in the whole window", s, len(dec))
			}
			continue
		}
		if ws.End != s.End {
			t.Fatalf("continued span ends at %d, whole at %d (%+v)", s.End, ws.End, ws)
		}
		if wd, _ := d.DecodeSpan(nil, w[ws.Start:ws.End], ws); !bytes.Equal(wd, dec) {
			t.Fatalf("continued span decodes otherwise than whole")
		}
	}
}

func FuzzBase64Spans(f *testing.F) {
	key := rulestest.APIKey()
	b64 := base64.StdEncoding.EncodeToString
	f.Add([]byte(b64([]byte("A="+key))), uint16(60), uint8(8))
	f.Add([]byte(`{"d":"`+strings.ReplaceAll(wrap(b64([]byte("\xff/"+key)), 64, `\n`), "/", `\/`)+`"}`), uint16(100), uint8(0))
	f.Add([]byte("secrets/"+base64.RawURLEncoding.EncodeToString([]byte(key))+" x"), uint16(64), uint8(2))
	f.Add([]byte("-----BEGIN X-----\r\n"+wrap(b64([]byte(key+key)), 64, "\r\n")+"\r\n-----END X-----"), uint16(90), uint8(40))
	f.Add([]byte("eGFpLhhaS4YWkt\n\r\\"+strings.Repeat("QUFB", 40)), uint16(30), uint8(4))
	f.Fuzz(func(t *testing.T, w []byte, cut uint16, ov uint8) {
		checkConsistent(t, Base64Text{}, w, int(cut), int(ov))
	})
}

func FuzzUTF16Spans(f *testing.F) {
	key := rulestest.APIKey()
	f.Add(encUTF16("a="+key, false, true), uint16(90), uint8(2))
	f.Add(append([]byte{1}, encUTF16(key, true, false)...), uint16(100), uint8(40))
	f.Add(encUTF16("café "+key+" é", false, false), uint16(50), uint8(10))
	f.Add([]byte("x\x00a\x00i\x00-\x00\x00\x00"), uint16(4), uint8(2))
	f.Fuzz(func(t *testing.T, w []byte, cut uint16, ov uint8) {
		// The engine's windows overlap by far more than 2 bytes; a run
		// starting on a window's last byte needs that (UTF16Text.Continue).
		checkConsistent(t, UTF16Text{}, w, int(cut), max(int(ov), 2))
	})
}

// dataItem and openItem hold the same content as an in-memory item and as
// a streamed one (read in chunks by the engine).
func dataItem(path string, b []byte) scanner.Item {
	return scanner.Item{Path: path, Source: scanner.SourceFile, Data: b, Size: int64(len(b)), Counts: scanner.CountFile}
}

func openItem(path string, b []byte) scanner.Item {
	return scanner.Item{Path: path, Source: scanner.SourceFile, Size: int64(len(b)), Counts: scanner.CountFile,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// filler returns n bytes of key-free text lines, and how many lines it holds.
func filler(n int) (string, int) {
	var b strings.Builder
	lines := 0
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog\n", i)
		lines++
	}
	// End on a space: what follows starts a new token.
	s := b.String()[:n]
	if n > 0 {
		s = s[:n-1] + " "
	}
	return s, strings.Count(s, "\n")
}
