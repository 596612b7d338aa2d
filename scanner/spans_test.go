package scanner_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// hexSpans is a span decoder for tests: "<" hex digits ">" is a run, the
// bytes the digits stand for its decoding. It exercises every path of the
// engine's span machinery without depending on a real encoding.
type hexSpans struct{ scanner.NoContainer }

func (hexSpans) Spans(w []byte, yield func(scanner.Span)) {
	for i := 0; i < len(w); i++ {
		if w[i] != '<' {
			continue
		}
		end := hexEnd(w, i+1)
		if end > i+1 {
			yield(scanner.Span{Start: i, End: end, Encoding: "hex"})
		}
		i = end - 1
	}
}

// hexEnd is where a run of hex digits starting at from ends: past its '>',
// or at the end of w if it goes on.
func hexEnd(w []byte, from int) int {
	for j := from; j < len(w); j++ {
		c := w[j]
		switch {
		case c == '>':
			return j + 1
		case !strings.ContainsRune("0123456789abcdef", rune(c)):
			return j
		}
	}
	return len(w)
}

func (hexSpans) Continue(w []byte, from int, _ scanner.Span) int { return hexEnd(w, from) }

func (hexSpans) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	digits := bytes.TrimSuffix(text[1:], []byte(">"))
	out := make([]byte, len(digits)/2)
	n, err := hex.Decode(out, digits[:len(out)*2])
	return append(dst, out[:n]...), err
}

// hexOf wraps s in one level of the test encoding.
func hexOf(s string) string { return "<" + hex.EncodeToString([]byte(s)) + ">" }

// spreadSpans is a line-keeping test decoder: "~" then text with a '.'
// after every byte, up to a "~~".
type spreadSpans struct{ scanner.NoContainer }

func (spreadSpans) Spans(w []byte, yield func(scanner.Span)) {
	for i := 0; ; {
		j := bytes.IndexByte(w[i:], '~')
		if j < 0 {
			return
		}
		s := i + j
		e := bytes.Index(w[s+1:], []byte("~~"))
		end := len(w)
		if e >= 0 {
			end = s + 1 + e + 2
		}
		yield(scanner.Span{Start: s, End: end, Encoding: "spread", KeepsLines: true})
		i = end
		if i >= len(w) {
			return
		}
	}
}

func (spreadSpans) Continue(w []byte, from int, _ scanner.Span) int {
	if e := bytes.Index(w[from:], []byte("~~")); e >= 0 {
		return from + e + 2
	}
	return len(w)
}

func (spreadSpans) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	body := bytes.TrimSuffix(text[1:], []byte("~~"))
	for i := 0; i < len(body); i += 2 {
		dst = append(dst, body[i])
	}
	return dst, nil
}

func spread(s string) string {
	var b strings.Builder
	b.WriteByte('~')
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		b.WriteByte('.')
	}
	b.WriteString("~~")
	return b.String()
}

func scanSpans(t *testing.T, opts scanner.Options, data []byte) scanner.Result {
	t.Helper()
	if opts.Decoders == nil {
		opts.Decoders = []scanner.Decoder{hexSpans{}}
	}
	opts.ChunkSize = 4096
	res, err := scanner.New(opts).Run(context.Background(), scanner.ItemList{
		{Path: "mem", Source: scanner.SourceFile, Data: data}, streamed("stream", data),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func describe(fs []scanner.Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, fmt.Sprintf("%s:%d:%d:%s", f.Path, f.Line, f.Column, f.Encoding))
	}
	return strings.Join(out, " ")
}

// A decoded run is scanned again, by the rules and by the decoders: the
// chain is recorded outermost first, and the finding is located where the
// outermost encoded text starts.
func TestSpanChainsAreDecodedRecursively(t *testing.T) {
	key := rulestest.APIKey()
	for depth := 1; depth <= 3; depth++ {
		enc := "k=" + key
		for range depth {
			enc = hexOf(enc)
		}
		data := []byte("line one\n  x " + enc + " y\n")
		res := scanSpans(t, scanner.Options{}, data)
		chain := strings.TrimSuffix(strings.Repeat("hex/", depth), "/")
		want := fmt.Sprintf("mem:2:5:%s stream:2:5:%s", chain, chain)
		if got := describe(res.Findings); got != want {
			t.Errorf("depth %d: findings %s, want %s", depth, got, want)
		}
		for _, f := range res.Findings {
			if f.Key != key {
				t.Errorf("depth %d: wrong key", depth)
			}
		}
	}
}

// A run longer than a window is collected across windows and decoded
// whole: the key is found once, wherever the windows cut the run.
func TestSpanAcrossWindows(t *testing.T) {
	key := rulestest.APIKey()
	for _, pad := range []int{0, 1000, 3000, 4000, 4090, 9000} {
		inner := strings.Repeat("z ", pad) + "k=" + key + strings.Repeat(" q", 7000)
		data := []byte(strings.Repeat("text\n", pad%7) + hexOf(inner) + "\n")
		res := scanSpans(t, scanner.Options{}, data)
		line := pad%7 + 1
		want := fmt.Sprintf("mem:%d:1:hex stream:%d:1:hex", line, line)
		if got := describe(res.Findings); got != want {
			t.Errorf("pad %d: findings %s, want %s", pad, got, want)
		}
	}
}

// Decodings stop at MaxDepth, with a note: the deeper text is not decoded.
func TestSpanDepthLimit(t *testing.T) {
	key := rulestest.APIKey()
	data := []byte(hexOf(hexOf(hexOf("k=" + key))))
	res := scanSpans(t, scanner.Options{MaxDepth: 2}, data)
	if len(res.Findings) != 0 {
		t.Fatalf("found %s past the depth limit", describe(res.Findings))
	}
	if len(res.Coverage.Notes) != 2 || !strings.Contains(res.Coverage.Notes[0], "nested deeper than 2") {
		t.Fatalf("notes %q", res.Coverage.Notes)
	}
	if res := scanSpans(t, scanner.Options{MaxDepth: 3}, data); len(res.Findings) != 2 {
		t.Fatalf("depth 3: %s", describe(res.Findings))
	}
}

// Decoded bytes are charged to the item's budget; reaching it is an error
// naming the item, and the bytes decoded up to it are still scanned.
func TestSpanBudget(t *testing.T) {
	key := rulestest.APIKey()
	data := []byte(hexOf("k="+key+" "+strings.Repeat("z", 5000)) + "\n" + hexOf(strings.Repeat("y", 5000)))
	res := scanSpans(t, scanner.Options{MaxDecodedBytes: 6000}, data)
	if len(res.Findings) != 2 {
		t.Fatalf("findings %s, want the key before the budget ran out", describe(res.Findings))
	}
	var errs []string
	for _, s := range res.Coverage.Skipped {
		if s.IsError() && strings.Contains(s.Reason, "budget") {
			errs = append(errs, s.Path)
		}
	}
	if strings.Join(errs, " ") != "mem stream" {
		t.Fatalf("budget errors at %v, skipped %+v", errs, res.Coverage.Skipped)
	}
	if res := scanSpans(t, scanner.Options{MaxDecodedBytes: 20000}, data); res.Coverage.Partial() {
		t.Fatalf("within budget, still partial: %+v", res.Coverage.Skipped)
	}
}

// An allow marker on the line where the encoded text starts covers the
// keys decoded from it, and is counted.
func TestSpanAllowMarker(t *testing.T) {
	key := rulestest.APIKey()
	data := []byte("a: " + hexOf(hexOf("k="+key)) + " # xaiscan:allow\n")
	res := scanSpans(t, scanner.Options{}, data)
	if len(res.Findings) != 0 || res.Coverage.AllowMarked != 2 {
		t.Fatalf("findings %s, allow-marked %d", describe(res.Findings), res.Coverage.AllowMarked)
	}
	res = scanSpans(t, scanner.Options{IgnoreAllowMarkers: true}, data)
	if len(res.Findings) != 2 {
		t.Fatalf("with markers ignored: %s", describe(res.Findings))
	}
}

// A decoding that keeps lines places each finding on its own line of the
// encoded text, through a chain too; one that does not places it at the
// run's start.
func TestSpanKeepsLines(t *testing.T) {
	key := rulestest.APIKey()
	decs := []scanner.Decoder{spreadSpans{}, hexSpans{}}
	data := []byte("head\nx " + spread("one\ntwo k="+key+"\nthree") + "\n")
	res := scanSpans(t, scanner.Options{Decoders: decs}, data)
	if got, want := describe(res.Findings), "mem:3:7:spread stream:3:7:spread"; got != want {
		t.Fatalf("findings %s, want %s", got, want)
	}
	data = []byte("head\nx " + spread("a k="+key) + "\n")
	res = scanSpans(t, scanner.Options{Decoders: decs}, data)
	if got, want := describe(res.Findings), "mem:2:7:spread stream:2:7:spread"; got != want {
		t.Fatalf("first line: findings %s, want %s", got, want)
	}
	data = []byte("head\n" + hexOf("\n\n"+spread("\nk="+key)) + "\n")
	res = scanSpans(t, scanner.Options{Decoders: decs}, data)
	if got, want := describe(res.Findings), "mem:2:1:hex/spread stream:2:1:hex/spread"; got != want {
		t.Fatalf("under hex: findings %s, want %s", got, want)
	}
}

// A decoded run that is a container is opened: its members carry the
// chain of the text they came from, and are located where it starts.
func TestSpanHoldingContainer(t *testing.T) {
	key := rulestest.APIKey()
	data := []byte("\n\nblob: " + hexOf("ARCHIVE\nk="+key+"\n") + "\n")
	res := scanSpans(t, scanner.Options{Decoders: []scanner.Decoder{passExpander{}, hexSpans{}}}, data)
	if got, want := describe(res.Findings), "mem!member:3:7:hex stream!member:3:7:hex"; got != want {
		t.Fatalf("findings %s, want %s", got, want)
	}
}

// The same key reached through two decodings of one line is one finding:
// the one with fewer decodings.
func TestSpanSameKeyTwoWaysReportedOnce(t *testing.T) {
	key := rulestest.APIKey()
	data := []byte("k=" + key + " " + hexOf("k="+key) + "\n" + hexOf("k="+key) + "\n")
	res := scanSpans(t, scanner.Options{}, data)
	if got, want := describe(res.Findings), "mem:1:3: mem:2:1:hex stream:1:3: stream:2:1:hex"; got != want {
		t.Fatalf("findings %s, want %s", got, want)
	}
}
