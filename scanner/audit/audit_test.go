package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

func TestScrub(t *testing.T) {
	key, mgmt := rulestest.APIKey(), rulestest.ManagementKey()
	cases := []struct{ in, want string }{
		{"", ""},
		{"no keys here", "no keys here"},
		{"xai-...AbCd", "xai-...AbCd"},
		{"key=" + key + ";", "key=" + rules.Redact(key) + ";"},
		{mgmt, rules.Redact(mgmt)},
		{"glued" + key + "_x", "glued" + rules.Redact(key) + "_x"},
		{"truncated " + key[:30], "truncated " + rules.Redact(key[:30])},
		{"xai-" + key, "xai-" + rules.Redact(key)},
		{"xai-xai-" + key[4:], "xai-" + rules.Redact(key)},
		{"xai-short xai- xai-token-", "xai-short xai- xai-token-"},
		{key + "\n" + mgmt, rules.Redact(key) + "\n" + rules.Redact(mgmt)},
	}
	for _, c := range cases {
		got := Scrub(c.in)
		if got != c.want {
			t.Errorf("Scrub(%q) = %q, want %q", Scrub(c.in), got, c.want)
		}
		if strings.Contains(got, key[10:]) || strings.Contains(got, mgmt[20:]) {
			t.Errorf("Scrub left key material in %q", got)
		}
	}
}

func TestRecordWritesOneScrubbedLine(t *testing.T) {
	key := rulestest.APIKey()
	var buf bytes.Buffer
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.FixedZone("X", 3600)) }
	l := New(&buf, now)
	l.Record(Entry{
		Fingerprint: rules.Fingerprint([]byte(key)),
		Secret:      key, // a caller's mistake: must still be redacted
		Rule:        rules.APIKey, Action: ActionVerify, Outcome: "live",
		Detail: "multi\nline " + key,
	})
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", buf.String())
	}
	if strings.Contains(buf.String(), key[10:]) {
		t.Fatal("audit line carries the key")
	}
	var e Entry
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	if e.Time != "2026-01-02T02:04:05.006Z" || e.Secret != rules.Redact(key) || e.Detail != "multi line "+rules.Redact(key) {
		t.Errorf("entry %+v", e)
	}
}

func TestNilLogDiscards(t *testing.T) {
	var l *Log
	l.Record(Entry{Action: ActionHook})
	if l.Err() != nil || l.Close() != nil {
		t.Error("nil log reported an error")
	}
}

func TestOpenAppendsWithPrivateMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	for i := 0; i < 2; i++ {
		l, err := Open(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Record(Entry{Action: ActionRevoke, Outcome: "revoked"})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 2 {
		t.Errorf("%d lines, want 2", n)
	}
	if runtime.GOOS != "windows" {
		st, _ := os.Stat(p)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v", st.Mode().Perm())
		}
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "x"), nil); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrorIsKept(t *testing.T) {
	l := New(failWriter{}, nil)
	l.Record(Entry{Action: ActionVerify})
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Err = %v", err)
	}
}

func TestConcurrentRecordsDoNotInterleave(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, nil)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() { l.Record(Entry{Action: ActionVerify, Outcome: "live", Detail: strings.Repeat("d", 500)}) })
	}
	wg.Wait()
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var e Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("bad line: %v", err)
		}
	}
}

// A server answer or hook error quoted in an entry cannot drive the
// terminal that shows the trail, nor lose bytes that are not UTF-8.
func TestRecordEscapesControls(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, nil)
	l.Record(Entry{Action: ActionVerify, Outcome: "unknown", Detail: "answer \x1b]0;t\x07 \u009b2J \x7f \xff\r\nx"})
	out := buf.Bytes()
	if bytes.Count(out, []byte("\n")) != 1 {
		t.Fatalf("not one line: %q", out)
	}
	for _, raw := range []string{"\x1b", "\x07", "\u009b", "\x7f", "\xff", "\r"} {
		if bytes.Contains(out, []byte(raw)) {
			t.Errorf("raw %q in the trail: %q", raw, out)
		}
	}
	var e Entry
	if err := json.Unmarshal(out, &e); err != nil {
		t.Fatal(err)
	}
	if want := "answer \x1b]0;t\x07 \u009b2J \x7f \\xff\r x"; e.Detail != want {
		t.Errorf("detail = %q, want %q", e.Detail, want)
	}
}
