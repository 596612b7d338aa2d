package safetext

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"config/.env", "config/.env"},
		{"dir/ü 日本.txt", "dir/ü 日本.txt"},
		{`C:\Users\a`, `C:\Users\a`},
		{"clear\x1b[2J\x1b]0;owned\x07", `clear\x1b[2J\x1b]0;owned\x07`},
		{"a\nb\rc\td", `a\nb\rc\td`},
		{"nul\x00del\x7f", `nul\x00del\x7f`},
		{"csi\u009b31m osc\u009d0;t\u009c", `csi\u009b31m osc\u009d0;t\u009c`},
		{"raw\x9b\x9dbytes", `raw\x9b\x9dbytes`},
		{"bad\xff\xfeutf8\xc3", `bad\xff\xfeutf8\xc3`},
		{"rtl\u202eexe.txt", `rtl\u202eexe.txt`},
		{"line\u2028sep\u2029", `line\u2028sep\u2029`},
		{"\u00a0nbsp stays", "\u00a0nbsp stays"},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Whatever the bytes, the escaped text is printable, one line, valid
// UTF-8, and escaping it again changes nothing.
func TestEscapeAnyBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 5000; n++ {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		got := Escape(string(b))
		if !utf8.ValidString(got) || firstUnsafe(got) >= 0 {
			t.Fatalf("Escape(%q) = %q: not safe", b, got)
		}
		if Escape(got) != got {
			t.Fatalf("Escape is not idempotent on %q", b)
		}
	}
}

func TestToUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		"ctl\x1b\n":      "ctl\x1b\n", // left for the JSON encoder
		"raw\x9bbyte":    `raw\x9bbyte`,
		"ü\xffü":         `ü\xffü`,
		"csi\u009b kept": "csi\u009b kept",
	} {
		if got := ToUTF8(in); got != want {
			t.Errorf("ToUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	key, mgmt := rulestest.APIKey(), rulestest.ManagementKey()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"no keys here", "no keys here"},
		{"xai-...AbCd", "xai-...AbCd"},
		{"xai-grok-integration-tests.go", "xai-grok-integration-tests.go"},
		{"leak-" + key + ".txt", "leak-" + rules.Redact(key) + ".txt"},
		{"open " + key + ": permission denied", "open " + rules.Redact(key) + ": permission denied"},
		{"glued_" + key + "_x", "glued_" + rules.Redact(key) + "_x"},
		{"a" + key + "Tail", "a" + rules.Redact(key) + "Tail"}, // the key is the first 80
		{mgmt, rules.Redact(mgmt)},
		{"xai-xai-" + key[4:], "xai-" + rules.Redact(key)},
		{"truncated " + key[:60], "truncated " + key[:60]}, // not a key's shape: names keep it
		{key + "\n" + mgmt, rules.Redact(key) + "\n" + rules.Redact(mgmt)},
	} {
		got := Redact(c.in)
		if got != c.want {
			t.Errorf("Redact(%s) = %s, want %s", Escape(RedactPartial(c.in)), Escape(RedactPartial(got)), Escape(RedactPartial(c.want)))
		}
	}
}

func TestRedactPartial(t *testing.T) {
	key := rulestest.APIKey()
	for _, c := range []struct{ in, want string }{
		{"truncated " + key[:30], "truncated " + rules.Redact(key[:30])},
		{"xai-short xai- xai-token-", "xai-short xai- xai-token-"},
		{"glued" + key + "_x", "glued" + rules.Redact(key) + "_x"},
	} {
		if got := RedactPartial(c.in); got != c.want {
			t.Errorf("RedactPartial(%q...) = %q", Escape(c.in[:12]), got)
		}
		if strings.Contains(RedactPartial(c.in), key[10:30]) {
			t.Errorf("key material left")
		}
	}
}

func TestPolicy(t *testing.T) {
	key := rulestest.APIKey()
	name := "x\n::error::" + key + "\xff"
	hidden, shown := Policy{}, Policy{ShowSecrets: true}
	if got, want := hidden.Text(name), `x\n::error::`+rules.Redact(key)+`\xff`; got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
	if got, want := shown.Text(name), `x\n::error::`+key+`\xff`; got != want {
		t.Errorf("Text with ShowSecrets = %q", Escape(RedactPartial(got)))
	}
	if got, want := hidden.Exact(name), "x\n::error::"+rules.Redact(key)+`\xff`; got != want {
		t.Errorf("Exact = %q, want %q", got, want)
	}
	if got := hidden.Redacted(name); got != "x\n::error::"+rules.Redact(key)+"\xff" {
		t.Errorf("Redacted = %q", got)
	}
}

// EscapeJSON keeps the document valid and its strings exactly as they
// were, with no raw DEL, C1 or bidirectional control left in it.
func TestEscapeJSON(t *testing.T) {
	in := map[string]string{"path": "a\x7fb\u009bc\u009d\u202e ü \u2028 \x1b", "plain": "ok"}
	enc, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := EscapeJSON(enc)
	if !json.Valid(out) {
		t.Fatalf("invalid JSON: %s", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["path"] != in["path"] || back["plain"] != "ok" {
		t.Fatalf("round trip: %q, %v", back, err)
	}
	for _, raw := range []string{"\x7f", "\u009b", "\u009d", "\u202e", "\u2028", "\x1b"} {
		if bytes.Contains(out, []byte(raw)) {
			t.Errorf("raw %q left in %s", raw, out)
		}
	}
	if !bytes.Contains(out, []byte(`\u009b`)) || !bytes.Contains(out, []byte("ü")) {
		t.Errorf("unexpected encoding: %s", out)
	}
	clean := []byte(`{"a":"b"}`)
	if got := EscapeJSON(clean); &got[0] != &clean[0] {
		t.Errorf("clean input was copied")
	}
}

func TestWriterLines(t *testing.T) {
	key := rulestest.APIKey()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	// A line arrives in pieces; nothing is forwarded until it ends.
	w.Write([]byte("hook: \x1b]0;t"))
	if buf.Len() != 0 {
		t.Fatalf("partial line forwarded: %q", buf.String())
	}
	w.Write([]byte("itle\x07 " + key + "\nsecond\u009b line\nthird"))
	want := `hook: \x1b]0;title\x07 ` + rules.Redact(key) + "\n" + `second\u009b line` + "\n"
	if buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
	if err := w.Flush(); err != nil || !strings.HasSuffix(buf.String(), "\nthird") {
		t.Fatalf("Flush: %v, %q", err, buf.String())
	}
}

// A line that never ends is forwarded in pieces, never cutting a key in
// two (which would hide it from redaction).
func TestWriterLongLine(t *testing.T) {
	key := rulestest.APIKey()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	long := strings.Repeat("a ", maxPending/2-20) + key + strings.Repeat(" b", 200)
	w.Write([]byte(long))
	w.Flush()
	if strings.Contains(buf.String(), key[len(key)-30:]) || !strings.Contains(buf.String(), rules.Redact(key)) {
		t.Errorf("key cut or shown: redacted form present %v", strings.Contains(buf.String(), rules.Redact(key)))
	}
	if buf.Len() > len(long) {
		t.Errorf("output longer than input: %d > %d", buf.Len(), len(long))
	}
}

func TestWriterConcurrentLinesStayWhole(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			for j := 0; j < 50; j++ {
				w.Write([]byte(strings.Repeat("x", 100) + "\n"))
			}
		})
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if l != strings.Repeat("x", 100) {
			t.Fatalf("interleaved line %q", l)
		}
	}
}

type brokenPipe struct{}

var errPipe = errors.New("broken pipe")

func (brokenPipe) Write([]byte) (int, error) { return 0, errPipe }

func TestWriterReportsStreamErrors(t *testing.T) {
	w := NewWriter(brokenPipe{})
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, errPipe) {
		t.Errorf("Write: %v", err)
	}
}

func BenchmarkEscapeClean(b *testing.B) {
	s := "src/github.com/xaiscan/xaiscan/scanner/gitsource/attrib.go"
	b.ReportAllocs()
	for b.Loop() {
		_ = Escape(Redact(s))
	}
}
