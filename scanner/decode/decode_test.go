package decode

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
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
	for _, d := range Decoders() {
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

// TestDecodersRegistry: the registry holds both decoders, and neither
// claims containers.
func TestDecodersRegistry(t *testing.T) {
	ds := Decoders()
	if len(ds) != 2 {
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
