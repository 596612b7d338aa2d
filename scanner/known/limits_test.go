package known

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// randomFingerprints returns n distinct fingerprints (64 hex digits).
func randomFingerprints(n int) []string {
	r := rand.New(rand.NewSource(int64(n)))
	out := make([]string, n)
	var b [32]byte
	for i := range out {
		r.Read(b[:])
		out[i] = hex.EncodeToString(b[:])
	}
	return out
}

// liveHeap returns the heap in use after a collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// noKey fails the test if msg holds a key.
func noKey(t *testing.T, what, msg string) {
	t.Helper()
	if len(rules.FindAll([]byte(msg))) > 0 {
		t.Errorf("%s: the error holds a key: %s", what, msg)
	}
}

// An ignore file is held in less memory than twice its size (before:
// about 4 times, 635 MB for 79 MB); one past the limit is refused with the
// file named.
func TestIgnoreFileLimit(t *testing.T) {
	dir := t.TempDir()
	fps := randomFingerprints(64_000)
	text := strings.Join(fps, "\n") + "\n"
	p := write(t, dir, IgnoreFileName, text)
	before := liveHeap()
	s, err := LoadIgnoreFile(p)
	if err != nil {
		t.Fatal(err)
	}
	held := liveHeap() - min(before, liveHeap())
	if s.Len() != len(fps) {
		t.Errorf("Len = %d, want %d", s.Len(), len(fps))
	}
	if held > 2*uint64(len(text)) {
		t.Errorf("a %d-byte ignore file holds %d bytes", len(text), held)
	}
	runtime.KeepAlive(s)

	// Comment lines up to the limit, then one entry past it.
	comments := strings.Repeat("#"+strings.Repeat(" ", 1022)+"\n", MaxIgnoreFileSize/1024)
	write(t, dir, IgnoreFileName, comments)
	if _, err := LoadIgnoreFile(p); err != nil {
		t.Errorf("ignore file of exactly the limit: %v", err)
	}
	write(t, dir, IgnoreFileName, comments+fps[0]+"\n")
	_, err = LoadIgnoreFile(p)
	if err == nil || err.Error() != p+": larger than 16 MiB, the limit for an ignore file" {
		t.Errorf("oversized ignore file: %v", err)
	}
	long := fps[0] + " " + strings.Repeat("a", maxIgnoreLine) + "\n"
	if _, err := ParseIgnore("x", strings.NewReader("\n"+long)); err == nil || !strings.HasPrefix(err.Error(), "x:2: line longer than 64 KiB") {
		t.Errorf("overlong line: %v", err)
	}
}

// baselineJSON builds a report holding fps, with a large coverage member
// that the loader passes over.
func baselineJSON(fps []string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"tool":{"name":"xaiscan","version":"1"},"findings":[`)
	for i, fp := range fps {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"rule":"xai-api-key","source":"git","path":"dir/file%d.env","line":3,"column":7,"secret":"xai-...abcd","fingerprint":%q,"refs":["refs/heads/main","refs/tags/v1"]}`, i, fp)
	}
	b.WriteString(`],"coverage":{"files":1,"skipped":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"path":"p%d","reason":"%s"}`, i, strings.Repeat("r", 100))
	}
	b.WriteString("]}}\n")
	return b.Bytes()
}

// A baseline is streamed: memory follows its keys, not its size; one past
// the limit is refused with the file named.
func TestBaselineStreamedAndLimited(t *testing.T) {
	dir := t.TempDir()
	fps := randomFingerprints(10_000)
	data := baselineJSON(fps)
	p := write(t, dir, "base.json", string(data))
	before := liveHeap()
	s, err := LoadBaseline(p)
	if err != nil {
		t.Fatal(err)
	}
	if held := liveHeap() - min(before, liveHeap()); held > uint64(len(data))/2 {
		t.Errorf("a %d-byte baseline holds %d bytes", len(data), held)
	}
	if s.Len() != len(fps) {
		t.Errorf("Len = %d, want %d", s.Len(), len(fps))
	}
	runtime.KeepAlive(s)

	defer func(old int64) { baselineLimit = old }(baselineLimit)
	baselineLimit = int64(len(data)) - 1
	_, err = LoadBaseline(p)
	if err == nil || !strings.HasPrefix(err.Error(), "baseline "+p+": larger than") {
		t.Errorf("oversized baseline: %v", err)
	}
	baselineLimit = int64(len(data))
	if _, err := LoadBaseline(p); err != nil {
		t.Errorf("baseline of exactly the limit: %v", err)
	}
}

// The streaming decoder accepts and refuses what the whole-file decoder
// did, and names the line of a syntax error.
func TestBaselineShapes(t *testing.T) {
	dir := t.TempDir()
	good := fp(rulestest.APIKey())
	for _, c := range []struct {
		json string
		n    int    // keys, when it loads
		want string // error, when it does not
	}{
		{`{"findings":[{"fingerprint":"` + good + `"}]}`, 1, ""},
		{`{"findings":null}`, 0, ""},
		{`{"coverage":{"skipped":[[],{}]},"findings":[],"x":"y"}`, 0, ""},
		{`{}`, 0, ""},
		{"{\n\"findings\": [\n{\"fingerprint\": 1}]}", 0, "line 3:"},
		{"{\"findings\": [\n\n  oops]}", 0, "line 3: invalid character 'o'"},
		{`{"findings":[{"fingerprint":"` + good + `"}]} trailing`, 0, "data after the report"},
		{`{"findings":[{"fingerprint":"` + good + `"}`, 0, "unexpected EOF"},
		{`{"findings":{"a":1}}`, 0, "findings is not an array"},
		{`[]`, 0, `expected "{", found "["`},
		{`"` + rulestest.APIKey() + `"`, 0, `expected "{", found a string`},
		{`{"findings":[{"fingerprint":"` + rulestest.APIKey() + `"}]}`, 0, "finding 1 has no valid fingerprint"},
	} {
		p := write(t, dir, "b.json", c.json)
		s, err := LoadBaseline(p)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.json, err)
		case c.want == "" && s.Len() != c.n:
			t.Errorf("%s: %d keys, want %d", c.json, s.Len(), c.n)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%.60s: error %v, want %q", c.json, err, c.want)
		}
		if err != nil {
			noKey(t, c.json, err.Error())
		}
	}
}

func TestConfigLimits(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local)
	big := write(t, dir, "big.toml", "# pad\n"+strings.Repeat("#"+strings.Repeat(" ", 99)+"\n", MaxConfigSize/100))
	if _, err := LoadConfig(dir, big, now); err == nil || err.Error() != big+": larger than 256 KiB, the limit for a configuration file" {
		t.Errorf("oversized config: %v", err)
	}
	for _, c := range []struct{ text, want string }{
		// Shapes the TOML decoder would take quadratic memory for.
		{"x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000), ":1: arrays or tables nested more than 4 deep"},
		{"[allow]\nx = " + strings.Repeat("{a=", 50000) + "1" + strings.Repeat("}", 50000), ":2: arrays or tables nested more than 4 deep"},
		{"\n\na" + strings.Repeat(".a", 100000) + " = 1", ":3: a key of more than 4 dotted parts"},
		{"[a" + strings.Repeat(".a", 100000) + "]", ":1: a key of more than 4 dotted parts"},
	} {
		p := write(t, dir, "c.toml", c.text)
		if _, err := LoadConfig(dir, p, now); err == nil || err.Error() != p+c.want {
			t.Errorf("%.30s: error %v, want %q", c.text, err, p+c.want)
		}
	}
	// Dots, brackets and quotes inside strings and comments are content.
	k := rulestest.APIKey()
	ok := `# a comment with [[[[[ and a.b.c.d.e.f
version = 1 # [[[[[[ a.b.c.d.e.f
[allow]
paths = ["a.b.c.d.e.f/**", "x/[[]", 'c.d.e.f.g.h', """
m.u.l.t.i""", '''x.y.z.w.v''']
[[ignore]]
fingerprint = "` + fp(k) + `"
reason = """a \"quoted\" a.b.c.d.e.f [[[[[[[
  \""" still in the string "" ""\\""""
expires = 2027-01-01T10:00:00.123Z
`
	p := write(t, dir, "ok.toml", ok)
	cfg, err := LoadConfig(dir, p, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Allow) != 5 || cfg.Ignore.Len() != 1 {
		t.Errorf("allow %d, ignore %d", len(cfg.Allow), cfg.Ignore.Len())
	}
}

// Many [[ignore]] entries: each is located by its own line (the locator
// indexes headers once instead of rescanning the file per entry).
func TestConfigManyEntries(t *testing.T) {
	dir := t.TempDir()
	fps := randomFingerprints(2000)
	var b strings.Builder
	for _, f := range fps {
		fmt.Fprintf(&b, "[[ignore]]\nfingerprint = %q\nexpires = 2020-01-01\n", f)
	}
	p := write(t, dir, "c.toml", b.String())
	cfg, err := LoadConfig(dir, p, time.Date(2026, 1, 1, 0, 0, 0, 0, time.Local))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Expired) != 2000 || !strings.HasPrefix(cfg.Expired[1999], p+":5998: ignore entry expired") {
		t.Errorf("expired: %d, last %q", len(cfg.Expired), cfg.Expired[len(cfg.Expired)-1])
	}
}

// A key pasted where it does not belong never comes back in an error.
func TestErrorsNeverHoldKeys(t *testing.T) {
	dir := t.TempDir()
	k := rulestest.APIKey()
	for name, text := range map[string]string{
		"unknown key":     k + " = 1\n",
		"unknown key 2":   "[allow]\n" + k + " = 1\n",
		"bare value":      "baseline = " + k + "\n",
		"glob":            "[allow]\npaths = [\"" + k + "[\"]\n",
		"scoped glob":     "[[ignore]]\nfingerprint = \"" + fp(k) + "\"\npath = \"" + k + "[\"\n",
		"fingerprint":     "[[ignore]]\nfingerprint = \"" + k + "\"\n",
		"table":           "[" + k + "]\n",
		"baseline string": "baseline = \"" + k + "/missing.json\"\n",
	} {
		write(t, dir, ConfigFileName, text)
		_, err := Load(Options{Root: dir})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		noKey(t, name, err.Error())
	}
	os.Remove(filepath.Join(dir, ConfigFileName))
	for name, text := range map[string]string{
		"key line":  k + "\n",
		"key glob":  fp(k) + " " + k + "[\n",
		"bad glob":  fp(k) + " a/" + k + "/[\n",
		"key field": fp(k) + " a b " + k + "\n",
	} {
		write(t, dir, IgnoreFileName, text)
		_, err := Load(Options{Root: dir})
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		noKey(t, name, err.Error())
	}
	os.Remove(filepath.Join(dir, IgnoreFileName))
	rep, _ := json.Marshal(map[string]any{"findings": []map[string]string{{"fingerprint": k}}})
	_, err := Load(Options{Root: dir, BaselinePaths: []string{write(t, dir, "b.json", string(rep))}})
	if err == nil {
		t.Error("baseline with a key for a fingerprint: no error")
	} else {
		noKey(t, "baseline", err.Error())
	}
}
