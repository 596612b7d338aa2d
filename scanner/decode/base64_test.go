package decode

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// TestBase64TextPositions: a key at the start, in the middle and at the
// end of the decoded text, at every alignment (0-5 bytes before it), in
// both alphabets, padded or not, behind every kind of separator that ends
// a run, is found once, under "base64", located at the encoded text.
func TestBase64TextPositions(t *testing.T) {
	for name, enc := range b64Encodings {
		for _, key := range []string{rulestest.APIKey(), rulestest.ManagementKey()} {
			for pre := 0; pre <= 5; pre++ {
				for _, suf := range []string{"", "\n", "\xfb\xff", " tail", "\n" + strings.Repeat("more text ", 30)} {
					plain := append(bytes.Repeat([]byte{0xfb}, pre), key+suf...)
					if pre > 0 {
						plain[pre-1] = '=' // a boundary byte before the key
					}
					encoded := enc.EncodeToString(plain)
					for _, around := range []string{"value: \"%s\"\n", "%s", "API_KEY=%s\n", `{"auth":"%s"}`, "src=\"data:text/plain;base64,%s\"", "Authorization: Basic %s\r\n"} {
						text := fmt.Sprintf(around, encoded)
						what := fmt.Sprintf("%s pre=%d suf=%q in %q", name, pre, suf, around)
						f := wantOne(t, what, lookAll(t, []byte(text)), key, EncodingBase64)
						if off := strings.Index(text, encoded); f.at != off {
							t.Fatalf("%s: located at %d, want %d", what, f.at, off)
						}
					}
				}
			}
		}
	}
}

// TestBase64TextInsideText: a key in the middle of a long encoded .env
// file, and a key as the last line, with '+' and '/' in the encoding.
func TestBase64TextInsideText(t *testing.T) {
	key := rulestest.APIKey()
	for _, env := range []string{
		"# settings\nLOG=debug\nXAI_API_KEY=" + key + "\nREGION=us-east\n" + strings.Repeat("PAD=\xfb\xff\xfe\n", 20),
		strings.Repeat("OTHER=\xfb\xfe\xff?\n", 30) + "XAI_API_KEY=" + key,
	} {
		enc := base64.StdEncoding.EncodeToString([]byte(env))
		if !strings.ContainsAny(enc, "+/") {
			t.Fatal("the test text should use '+' and '/'")
		}
		wantOne(t, "env", lookAll(t, []byte("  app.env: "+enc+"\n")), key, EncodingBase64)
	}
}

// TestBase64TextWrapped: wrapped output (base64(1) at 76 columns with LF,
// PEM at 64 with CRLF) and a JSON string wrapped with escaped "\n" or
// "\r\n", with '/' written "\/" as PHP's json_encode does, at every offset
// of the key in the decoded text.
func TestBase64TextWrapped(t *testing.T) {
	key := rulestest.APIKey()
	type style struct {
		cols       int
		eol        string
		escapeSl   bool
		name, tmpl string
	}
	for _, st := range []style{
		{76, "\n", false, "base64(1)", "%s\n"},
		{64, "\r\n", false, "PEM", "-----BEGIN DATA-----\r\n%s\r\n-----END DATA-----\r\n"},
		{76, `\n`, false, "JSON \\n", `{"data": "%s"}`},
		{64, `\r\n`, true, "JSON \\r\\n and \\/", `{"data":"%s"}`},
	} {
		for pre := 0; pre < 120; pre++ {
			plain := "KEY_FILE_CONTENT_" + strings.Repeat("p", pre) + "\xff\xfe=" + key + "\n\xfb\xff"
			enc := base64.StdEncoding.EncodeToString([]byte(plain))
			text := wrap(enc, st.cols, st.eol)
			if st.escapeSl {
				text = strings.ReplaceAll(text, "/", `\/`)
			}
			what := fmt.Sprintf("%s prefix %d", st.name, pre)
			wantOne(t, what, lookAll(t, []byte(fmt.Sprintf(st.tmpl, text))), key, EncodingBase64)
		}
	}
}

// TestBase64TextGlued: base64 glued to other alphabet characters in front
// (a path, an identifier) decodes from the wrong boundary; the literal of
// the key's encoding realigns it. Every glue length and alignment.
func TestBase64TextGlued(t *testing.T) {
	key := rulestest.APIKey()
	for _, glue := range []string{"s", "ab", "xyz", "secrets/", "token_", "env/prod/", "secret-", "k8s/data/v1_", "a+b/c+"} {
		for pre := 0; pre < 6; pre++ {
			plain := strings.Repeat("\xfb", pre) + key + "\n"
			for name, enc := range b64Encodings {
				text := "path: " + glue + enc.EncodeToString([]byte(plain)) + " end\n"
				what := fmt.Sprintf("%s glue %q pre %d", name, glue, pre)
				f := wantOne(t, what, lookAll(t, []byte(text)), key, EncodingBase64)
				if lo, hi := len("path: "), len(text)-len(" end\n"); f.at < lo || f.at >= hi {
					t.Fatalf("%s: located at %d, outside the run [%d,%d)", what, f.at, lo, hi)
				}
			}
		}
	}
}

// lookalikes are decoded texts that hold no key: the rules reject each.
func lookalikes() map[string]string {
	key := rulestest.APIKey()
	return map[string]string{
		"word before":   "tax" + key,
		"taxai":         "ta" + key,
		"81 chars":      key + "Z",
		"79 chars":      key[:len(key)-1],
		"placeholder":   rules.Prefix + strings.Repeat("abcdefghij", 8),
		"underscore":    "xai_" + key[4:],
		"prefix only":   rules.Prefix + "\xfb\xff\xfe\x00\x01" + strings.Repeat("\x93\xa7\xc1\xee", 30),
		"mgmt 79":       rules.ManagementPrefix + key[4:len(key)-1],
		"no key at all": strings.Repeat("lorem ipsum dolor sit amet ", 20),
	}
}

// TestBase64TextLookalikes: every look-alike stays silent in every
// alphabet, at every alignment, plain, glued and wrapped.
func TestBase64TextLookalikes(t *testing.T) {
	for name, plain := range lookalikes() {
		for pre := 0; pre < 3; pre++ {
			p := strings.Repeat("\xfb", pre) + plain + "\n"
			for ename, enc := range b64Encodings {
				e := enc.EncodeToString([]byte(p))
				for _, text := range []string{e, "k=" + e, "secrets/" + e, wrap(e, 76, "\n"), wrap(e, 64, `\n`)} {
					wantNone(t, fmt.Sprintf("%s %s pre %d in %.20q", name, ename, pre, text), lookAll(t, []byte(text)))
				}
			}
		}
	}
}

// TestBase64TextShortRuns: runs too short to hold a key are not yielded
// unless they reach the end of the window (where they may go on), and
// decode to nothing when they stay short.
func TestBase64TextShortRuns(t *testing.T) {
	short := strings.Repeat("QUJD", 27) + "QQ" // 110 characters
	if ss := spansOf(Base64Text{}, []byte("x = "+short+" ;\n")); len(ss) != 0 {
		t.Fatalf("short run: %d spans", len(ss))
	}
	w := []byte("x = " + short)
	ss := spansOf(Base64Text{}, w)
	if len(ss) != 1 || ss[0].End != len(w) || ss[0].Start != 4 {
		t.Fatalf("open short run: %+v", ss)
	}
	if dec, _ := (Base64Text{}).DecodeSpan(nil, w[4:], ss[0]); len(dec) != 0 {
		t.Fatalf("short run decodes to %d bytes", len(dec))
	}
	long := short + "QUJD" // 114
	if ss := spansOf(Base64Text{}, []byte("x = "+long+" ;\n")); len(ss) != 1 || ss[0].Start != 4 || ss[0].End != 4+len(long) {
		t.Fatalf("long run: %+v", ss)
	}
	// Wraps do not count: 112 bytes with 12 line breaks are 100 characters.
	if ss := spansOf(Base64Text{}, []byte("x = "+wrap(short[:100], 8, "\n")+" ;\n")); len(ss) != 0 {
		t.Fatalf("wrapped short run: %d spans", len(ss))
	}
}

// TestBase64TextPaddingEndsRun: '=' ends a run and a new one starts after
// it, so two values on a line are two spans.
func TestBase64TextPaddingEndsRun(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.ManagementKey()
	e1 := base64.StdEncoding.EncodeToString([]byte("a=" + k1)) // padded
	e2 := base64.StdEncoding.EncodeToString([]byte(k2))
	if !strings.HasSuffix(e1, "=") {
		t.Fatal("the first value should be padded")
	}
	got := lookAll(t, []byte(e1+e2+"\n"))
	if len(got) != 2 || got[0].key != k1 || got[1].key != k2 || got[1].at != len(e1) {
		t.Fatalf("%d keys", len(got))
	}
}

// TestBase64TextContinue splits the text at every even offset around the
// encoded key and resumes the run in the next window: the spans end where
// the whole window's spans do, and the key is found once.
func TestBase64TextContinue(t *testing.T) {
	key := rulestest.APIKey()
	for _, st := range []struct {
		name string
		text func(string) string
	}{
		{"plain", func(e string) string { return e }},
		{"wrapped", func(e string) string { return wrap(e, 76, "\r\n") }},
		{"escaped", func(e string) string { return strings.ReplaceAll(wrap(e, 64, `\r\n`), "/", `\/`) }},
	} {
		enc := base64.StdEncoding.EncodeToString([]byte("\xff\xfeKEY=" + key + "\n\xfb"))
		text := []byte("# head\ndata: \"" + st.text(enc) + "\"\n}\n")
		whole := decoding(Base64Text{}, text, spansOf(Base64Text{}, text))
		if len(whole) != 1 {
			t.Fatalf("%s: %d spans in the whole text", st.name, len(whole))
		}
		for cut := 2; cut < len(text); cut += 2 {
			for _, ov := range []int{0, 2, min(cut, 40)} {
				ss := decoding(Base64Text{}, text, windows(Base64Text{}, text, cut, ov))
				what := fmt.Sprintf("%s cut %d overlap %d", st.name, cut, ov)
				if len(ss) != 1 || ss[0] != whole[0] {
					t.Fatalf("%s: spans %+v, whole %+v", what, ss, whole)
				}
				if keys := keysIn(t, Base64Text{}, text, ss); len(keys) != 1 || keys[0] != key {
					t.Fatalf("%s: %d keys", what, len(keys))
				}
			}
		}
	}
}

// TestBase64TextChains: encodings stacked as they are in the wild, read
// through by the decoders alone.
func TestBase64TextChains(t *testing.T) {
	key := rulestest.APIKey()
	b64 := base64.StdEncoding.EncodeToString
	// PowerShell -EncodedCommand: base64 of UTF-16LE.
	ps := "powershell.exe -NoProfile -EncodedCommand " +
		b64(encUTF16("$env:XAI_API_KEY='"+key+"'; Invoke-RestMethod https://api.x.ai/v1/models", false, false)) + "\r\n"
	wantOne(t, "EncodedCommand", lookAll(t, []byte(ps)), key, "base64/utf-16le")
	// A .dockerconfigjson in a Kubernetes Secret: its auth is base64 of
	// user:password, and the whole JSON is base64 again.
	cfg := `{"auths":{"registry.example.com":{"auth":"` + b64([]byte("grok:"+key)) + `"}}}`
	secret := "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: " + b64([]byte(cfg)) + "\n"
	wantOne(t, "dockerconfigjson", lookAll(t, []byte(secret)), key, "base64/base64")
	// UTF-16 text holding base64 (a .reg export of an encoded value).
	reg := encUTF16("Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\App]\r\n\"Token\"=\""+
		b64([]byte("Bearer "+key))+"\"\r\n", false, true)
	wantOne(t, "reg", lookAll(t, reg), key, "utf-16le/base64")
	// Three levels: base64 of UTF-16BE holding base64.
	three := b64(encUTF16("token: "+b64([]byte(key))+"\n", true, false))
	wantOne(t, "three", lookAll(t, []byte(three)), key, "base64/utf-16be/base64")
}

// TestBase64TextMisalignedNotDuplicated: a run aligned on its key yields
// no extra span, and a glued run one extra span per misalignment.
func TestBase64TextMisalignedNotDuplicated(t *testing.T) {
	key := rulestest.APIKey()
	e := base64.StdEncoding.EncodeToString([]byte("\xfb" + key + "\xfb" + key))
	if ss := spansOf(Base64Text{}, []byte(e)); len(ss) != 1 {
		t.Fatalf("aligned run: %d spans", len(ss))
	}
	ss := spansOf(Base64Text{}, []byte("ab"+e))
	if len(ss) != 2 || ss[1].Tag != tagRealigned {
		t.Fatalf("glued run: %+v", ss)
	}
	if keys := keysIn(t, Base64Text{}, []byte("ab"+e), ss); len(keys) != 2 {
		t.Fatalf("glued run: %d keys, want 2", len(keys))
	}
}

// TestSpansDoNotAllocate: neither decoder's Spans allocates, on ordinary
// text, on a long key-free base64 blob, on UTF-16 text or on binary.
func TestSpansDoNotAllocate(t *testing.T) {
	src, _ := rulestest.GoSource(1 << 20)
	blob := []byte(base64.StdEncoding.EncodeToString(src[:64<<10]))
	u := encUTF16(string(src[:32<<10]), false, true)
	bin := bytes.Repeat([]byte{0, 1, 0, 'a', 0, 0, 0xff, 'x', 0, 'y'}, 10000)
	n := 0
	yield := func(scanner.Span) { n++ }
	for name, w := range map[string][]byte{"source": src, "base64": blob, "utf-16": u, "binary": bin} {
		for _, d := range Decoders() {
			if a := testing.AllocsPerRun(5, func() { d.Spans(w, yield) }); a != 0 {
				t.Errorf("%T on %s: %v allocations", d, name, a)
			}
		}
	}
	if n == 0 {
		t.Error("no spans at all: the blob and the UTF-16 text should yield some")
	}
}

// TestBase64TextShortLines: a long list of short lines of letters and
// digits (a GNU tar's sparse map is 40 MB of "0\n") is text, not wrapped
// base64: no span, so it is neither collected across windows nor decoded;
// wrapped base64, whose lines are 64 or 76 characters, still is one run.
func TestBase64TextShortLines(t *testing.T) {
	for _, line := range []string{"0\n", "12\n", "abc\r\n"} {
		w := []byte(strings.Repeat(line, 20000))
		if ss := spansOf(Base64Text{}, w); len(ss) != 0 {
			t.Errorf("%q lines: %d spans, first %+v", line, len(ss), ss[0])
		}
	}
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	wrapped := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(wrapped) > 76 {
		b.WriteString(wrapped[:76] + "\n")
		wrapped = wrapped[76:]
	}
	b.WriteString(wrapped + "\n")
	if ss := spansOf(Base64Text{}, []byte(b.String())); len(ss) != 1 {
		t.Fatalf("wrapped base64: %d spans", len(ss))
	}
}
