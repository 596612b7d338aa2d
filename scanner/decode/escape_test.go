package decode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// revealed is a key revealed by the escape decoders, with its chain.
type revealed struct{ key, chain string }

// reveal runs the escape decoders over text the way the recursive engine
// does: every span is decoded, and its decoding is matched by the rules
// and searched again by every decoder, down to depth levels.
func reveal(text []byte, depth int) []revealed {
	var out []revealed
	var walk func(text []byte, chain string, depth int)
	walk = func(text []byte, chain string, depth int) {
		if depth == 0 {
			return
		}
		for _, d := range EscapeDecoders() {
			d.Spans(text, func(s scanner.Span) {
				dec, err := d.DecodeSpan(nil, text[s.Start:s.End], s)
				if err != nil || len(dec) == 0 {
					return
				}
				c := scanner.JoinEncoding(chain, s.Encoding)
				for _, m := range rules.FindAll(dec) {
					out = append(out, revealed{string(dec[m.Start:m.End]), c})
				}
				walk(dec, c, depth-1)
			})
		}
	}
	walk(text, "", depth)
	return out
}

// spans collects what d.Spans yields over w.
func spans(d scanner.Decoder, w []byte) []scanner.Span {
	var out []scanner.Span
	d.Spans(w, func(s scanner.Span) { out = append(out, s) })
	return out
}

// Encoders, each escaping the characters of s for which esc says so.
func encJSONU(s string, esc func(int) bool) string {
	return each(s, esc, func(c byte) string { return fmt.Sprintf(`\u%04x`, c) })
}

func encJSONX(s string, esc func(int) bool) string {
	return each(s, esc, func(c byte) string { return fmt.Sprintf(`\x%02X`, c) })
}

func htmlDec(s string, esc func(int) bool) string {
	return each(s, esc, func(c byte) string { return fmt.Sprintf("&#%d;", c) })
}

func htmlHex(s string, esc func(int) bool) string {
	return each(s, esc, func(c byte) string { return fmt.Sprintf("&#x%x;", c) })
}

func pct(s string, esc func(int) bool) string {
	return each(s, esc, func(c byte) string { return fmt.Sprintf("%%%02X", c) })
}

func qp(s string, esc func(int) bool) string {
	return each(s, esc, func(c byte) string { return fmt.Sprintf("=%02X", c) })
}

// qpSoft writes s as a mailer would: a soft line break after every
// character esc picks (no encoder writes a key's letters as =NN codes).
func qpSoft(s string, esc func(int) bool) string {
	return each(s, func(i int) bool { return i < len(s)-1 && esc(i) }, func(c byte) string { return string(c) + "=\n" })
}

func each(s string, esc func(int) bool, enc func(byte) string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if esc(i) {
			b.WriteString(enc(s[i]))
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func all(int) bool         { return true }
func firstOnly(i int) bool { return i == 0 }
func bodyChar(i int) bool  { return i == 40 }

var encoders = []struct {
	name, encoding string
	enc            func(string, func(int) bool) string
}{
	{"json-u", EncodingJSONEscape, encJSONU},
	{"json-x", EncodingJSONEscape, encJSONX},
	{"html-dec", EncodingHTMLEntity, htmlDec},
	{"html-hex", EncodingHTMLEntity, htmlHex},
	{"percent", EncodingPercent, pct},
	{"qp", EncodingQuotedPrintable, qpSoft},
}

// TestEscapeFamilies finds a key fully escaped, partly escaped (its 'x',
// one body letter) at the start, middle and end of a line, in every family,
// and reports the family as the encoding.
func TestEscapeFamilies(t *testing.T) {
	masks := map[string]func(int) bool{"every char": all, "first char": firstOnly, "one body char": bodyChar}
	places := map[string]string{"start": "%s\n", "middle": "token=\"%s\" rest\n", "end": "header line\nvalue: %s"}
	for _, e := range encoders {
		for mn, mask := range masks {
			for pn, place := range places {
				key := rulestest.APIKey()
				if pn == "middle" {
					key = rulestest.ManagementKey()
				}
				text := fmt.Sprintf(place, e.enc(key, mask))
				got := reveal([]byte(text), 4)
				if len(got) != 1 || got[0].key != key || got[0].chain != e.encoding {
					t.Errorf("%s, %s, %s: got %d findings %+v, want the key once as %q", e.name, mn, pn, len(got), redact(got), e.encoding)
				}
			}
		}
	}
}

func redact(fs []revealed) []revealed {
	out := make([]revealed, len(fs))
	for i, f := range fs {
		out[i] = revealed{rules.Redact(f.key), f.chain}
	}
	return out
}

// TestEscapeJSONForms covers surrogate pairs around a key, \u{…}, octal,
// \/ and upper-case hex, in a notebook-style JSON string.
func TestEscapeJSONForms(t *testing.T) {
	key := rulestest.APIKey()
	cases := map[string]string{
		"surrogates": `"\ud83d\ude00` + encJSONU(key, firstOnly) + `\ud83d\ude00"`,
		"braces":     `"\u{78}` + key[1:] + `"`,
		"octal":      `"\170` + key[1:] + `\n"`,
		"upper hex":  `"\u0078` + key[1:40] + fmt.Sprintf(`\u00%02X`, key[40]) + key[41:] + `"`,
		"slashes":    `{"url":"https:\/\/api.example\/\u0078` + key[1:] + `\/v1"}`,
	}
	for name, text := range cases {
		got := reveal([]byte(text), 4)
		if len(got) != 1 || got[0].key != key {
			t.Errorf("%s: got %+v, want the key", name, redact(got))
		}
	}
	// A surrogate pair decodes to one code point.
	dec, _ := JSONEscape{}.DecodeSpan(nil, []byte(`\ud83d\ude00\ud83d`), scanner.Span{})
	if string(dec) != "\U0001F600\uFFFD" {
		t.Errorf("surrogates decode to %q", dec)
	}
}

// TestEscapeTwice: two levels of one family decode one level per span,
// and the chain names both.
func TestEscapeTwice(t *testing.T) {
	key := rulestest.APIKey()
	cases := []struct{ text, chain string }{
		{"https://x.example/cb?next=" + strings.ReplaceAll(pct(key, all), "%", "%25"), "percent/percent"},
		{"u=" + strings.ReplaceAll(pct(key, firstOnly), "%", "%25"), "percent/percent"},
		{"<p>" + strings.ReplaceAll(htmlDec(key, all), "&", "&amp;") + "</p>", "html-entity/html-entity"},
		{`"` + strings.ReplaceAll(encJSONU(key, all), `\`, `\\`) + `"`, "json-escape/json-escape"},
		{`"` + strings.ReplaceAll(pct(key, all), "%", `\u0025`) + `"`, "json-escape/percent"},
		{`{"html":"\u003cp\u003e` + strings.ReplaceAll(htmlDec(key, firstOnly), "&", `\u0026`) + `\u003c/p\u003e"}`, "json-escape/html-entity"},
	}
	for _, c := range cases {
		got := reveal([]byte(c.text), 4)
		if len(got) != 1 || got[0].key != key || got[0].chain != c.chain {
			t.Errorf("%.40q…: got %+v, want the key as %s", c.text, redact(got), c.chain)
		}
	}
}

// TestQuotedPrintableSoftBreaks cuts the key's line by a soft break at
// every position (LF and CRLF, with trailing blanks), and as a mailer
// wraps at 76 columns with =3D codes.
func TestQuotedPrintableSoftBreaks(t *testing.T) {
	key := rulestest.APIKey()
	line := "XAI_API_KEY=3D" + key + " end"
	for _, nl := range []string{"=\n", "=\r\n", "= \t\r\n"} {
		for i := 0; i <= len(line); i++ {
			text := "Hello,\r\n\r\n" + line[:i] + nl + line[i:] + "\r\nBye\r\n"
			if nl != "=\n" && nl != "=\r\n" {
				// A break after blanks is decoded, but only a clean one is
				// evidence (what encoders write).
				text = "Hello,\r\n\r\nthe key=\r\n: " + line[:i] + nl + line[i:] + "\r\nBye\r\n"
			}
			got := reveal([]byte(text), 4)
			if len(got) != 1 || got[0].key != key || got[0].chain != EncodingQuotedPrintable {
				t.Fatalf("soft break %q at %d: got %+v", nl, i, redact(got))
			}
		}
	}
	wrapped := wrapQP("Content-Transfer-Encoding: quoted-printable\r\n\r\nyour key is =3D " + key + " =E2=80=94 keep it safe")
	if got := reveal([]byte(wrapped), 4); len(got) != 1 || got[0].key != key {
		t.Errorf("76-column wrap: got %+v", redact(got))
	}
}

// wrapQP cuts the last line of s as a mailer does: 75 characters and a
// soft break, never inside a =NN code.
func wrapQP(s string) string {
	head, body, _ := strings.Cut(s, "\r\n\r\n")
	var b strings.Builder
	for len(body) > 75 {
		n := 75
		if k := strings.LastIndexByte(body[n-2:n], '='); k >= 0 {
			n = n - 2 + k
		}
		b.WriteString(body[:n] + "=\r\n")
		body = body[n:]
	}
	b.WriteString(body)
	return head + "\r\n\r\n" + b.String() + "\r\n"
}

// TestEscapeLookAlikes: what is not a key stays silent in every family:
// 79- and 81-character bodies, a longer word ("taxai-"), placeholders.
func TestEscapeLookAlikes(t *testing.T) {
	body := rulestest.Body()
	looks := map[string]string{
		"79":          rules.Prefix + body[:79],
		"81":          rules.Prefix + body + "Q",
		"taxai":       "ta" + rules.Prefix + body,
		"placeholder": rules.Prefix + "EXAMPLE" + body[7:],
		"repeated":    rules.Prefix + strings.Repeat("aB3", 27)[:80],
		"underscore":  "xai_" + body,
	}
	for _, e := range encoders {
		for ln, s := range looks {
			for _, mask := range []func(int) bool{all, firstOnly, bodyChar} {
				text := "k: " + e.enc(s, mask) + "\n"
				if got := reveal([]byte(text), 4); len(got) != 0 {
					t.Errorf("%s %s: %+v", e.name, ln, redact(got))
				}
			}
		}
	}
}

// TestEscapeUnchanged: DecodeSpan of text without an escape of the family
// returns dst as it was, and malformed escapes stay as written.
func TestEscapeUnchanged(t *testing.T) {
	dst := []byte("keep")
	for _, d := range EscapeDecoders() {
		got, err := d.DecodeSpan(dst, []byte(`plain \q %zz &bogus; &#; =G1 \u12 \x`), scanner.Span{})
		if err != nil || string(got) != "keep" {
			t.Errorf("%T: %q, %v", d, got, err)
		}
	}
	got, _ := HTMLEntity{}.DecodeSpan(nil, []byte("a&amp;b&#x78;&#0;&nbsp;&unknown;"), scanner.Span{})
	if string(got) != "a&bx\uFFFD\u00a0&unknown;" {
		t.Errorf("html: %q", got)
	}
	got, _ = Percent{}.DecodeSpan(nil, []byte("a%2578%zz%4"), scanner.Span{})
	if string(got) != "a%78%zz%4" {
		t.Errorf("percent: %q", got)
	}
	got, _ = QuotedPrintable{}.DecodeSpan(nil, []byte("a=3D=\r\nb=\nc= \nd=\re=4"), scanner.Span{})
	if string(got) != "a=bcd=\re=4" {
		t.Errorf("qp: %q", got)
	}
}

// TestEscapeContinue: a span that reaches a window's end goes on in the
// next window through Continue, and the whole run decodes to the key.
func TestEscapeContinue(t *testing.T) {
	key := rulestest.APIKey()
	for _, e := range encoders {
		d := decoderFor(e.encoding)
		text := "prefix line\nvalue " + e.enc(key, all) + " tail\nnext line\n"
		if e.encoding == EncodingQuotedPrintable {
			text = "prefix line\nvalue " + softWrap(qp(key, all), 39) + " tail\nnext line\n"
		}
		start := strings.Index(text, "value ") + 6
		first := start + 14
		if e.encoding == EncodingQuotedPrintable {
			// A QP line is at most 76 columns: its first soft break is in
			// the window the line starts in (the engine's windows overlap
			// by 2 KiB), so no cut falls before it.
			first = start + 45
		}
		for cut := first; cut < start+80; cut += 7 {
			const overlap = 16
			w1, w2 := []byte(text[:cut]), []byte(text[cut-overlap:])
			ss := spans(d, w1)
			if len(ss) != 1 || ss[0].End != len(w1) {
				t.Fatalf("%s cut %d: spans %+v, want one to the window's end", e.name, cut, ss)
			}
			end := d.Continue(w2, overlap, ss[0])
			if end == len(w2) {
				t.Fatalf("%s cut %d: run did not end in the second window", e.name, cut)
			}
			run := text[ss[0].Start : cut-overlap+end]
			dec, _ := d.DecodeSpan(nil, []byte(run), ss[0])
			if ms := rules.FindAll(dec); len(ms) != 1 || string(dec[ms[0].Start:ms[0].End]) != key {
				t.Fatalf("%s cut %d: the continued run does not decode to the key", e.name, cut)
			}
		}
	}
}

func softWrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + "=\r\n")
		s = s[n:]
	}
	return b.String() + s
}

func decoderFor(encoding string) scanner.Decoder {
	return map[string]scanner.Decoder{EncodingJSONEscape: JSONEscape{}, EncodingHTMLEntity: HTMLEntity{},
		EncodingPercent: Percent{}, EncodingQuotedPrintable: QuotedPrintable{}}[encoding]
}

// TestEscapeHealthyText: real key-free text (the Go distribution's
// sources, JSON and HTML) yields no span at all.
func TestEscapeHealthyText(t *testing.T) {
	files, err := rulestest.GoSourceFiles(16 << 20)
	if err != nil || len(files) == 0 {
		t.Fatalf("no GOROOT sources: %v", err)
	}
	more, err := goRootFiles(".json", ".html")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, more...)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range EscapeDecoders() {
			if ss := spans(d, b); len(ss) > 0 {
				s := ss[0]
				t.Errorf("%T: %d spans in %s, first %q", d, len(ss), p, b[s.Start:min(s.End, s.Start+80)])
			}
		}
	}
}

// goRootFiles lists the GOROOT files with one of the extensions.
func goRootFiles(exts ...string) ([]string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	root := strings.TrimSpace(string(out))
	var files []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		for _, e := range exts {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, e) {
				files = append(files, p)
			}
		}
		return nil
	})
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no %v files under %s", exts, root)
	}
	return files, err
}
