package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// hostileNames are names an attacker can give files, tree entries and
// authors: terminal control sequences, a newline that forges a CI workflow
// command, C1 controls as UTF-8 and as raw bytes, DEL, bytes that are not
// UTF-8, and a bidirectional override.
var hostileNames = []string{
	"clear\x1b[2J\x1b]0;owned\x07.env",
	"x\n::error::forged",
	"cr\rover\ttab",
	"csi\u009b31m osc\u009d0;t\u009c",
	"raw\x9b\x9dbytes",
	"del\x7f",
	"latin1-\xe9t\xe9.txt",
	"rtl\u202etxt.exe",
}

// hostileResult puts every hostile name everywhere a writer shows text.
func hostileResult() scanner.Result {
	var res scanner.Result
	for _, name := range hostileNames {
		f := gitFinding(rulestest.APIKey(), "dir/"+name, 1, 1, commitA)
		f.Author = "author " + name
		f.Email = name + "@example.com"
		f.Encoding = "base64"
		f.Verification = "unknown"
		f.VerificationDetail = map[string]any{"error": "server said " + name, name: "v"}
		res.Findings = append(res.Findings, f)
		res.Coverage.Skipped = append(res.Coverage.Skipped,
			scanner.ErrorAt("unreadable/"+name, "open: "+name),
			scanner.ExcludedAt("excluded/"+name, "skipped "+name))
		res.Coverage.Notes = append(res.Coverage.Notes, "note "+name)
	}
	return res
}

// rawControls returns the first control character (C0 other than the
// line feed, DEL, C1 as UTF-8 or a raw byte that is not UTF-8, a
// bidirectional control) in out, or "".
func rawControls(out string, allowTab bool) string {
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return out[i : i+1]
		case r == '\n', r == '\t' && allowTab:
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == 0x202e:
			return string(r)
		}
		i += n
	}
	return ""
}

func TestTextEscapesHostileNames(t *testing.T) {
	res := hostileResult()
	for _, color := range []bool{false, true} {
		out := render(t, "text", res, Options{Color: color})
		if color {
			// The writer's own colour codes are the only escapes allowed.
			out = stripANSI(out)
		}
		if c := rawControls(out, false); c != "" {
			t.Fatalf("color=%v: raw control %q in the text report:\n%s", color, c, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "::error::") {
				t.Errorf("a name started a line of its own: %q", line)
			}
		}
		for _, want := range []string{`clear\x1b[2J\x1b]0;owned\x07.env`, `x\n::error::forged`, `csi\u009b31m`, `raw\x9b\x9dbytes`, `del\x7f`, `rtl\u202etxt.exe`} {
			if !strings.Contains(out, "dir/"+want) || !strings.Contains(out, "author "+want) || !strings.Contains(out, "unreadable/"+want) {
				t.Errorf("color=%v: escaped form %s missing from a finding, an author or a read error", color, want)
			}
		}
	}
}

// stripANSI removes the SGR sequences the colour palette writes.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] == ';' || (s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			if j < len(s) && s[j] == 'm' {
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// JSON and SARIF keep the exact text, leave no raw control character for a
// terminal showing the file, and stay valid.
func TestMachineFormatsStayExactAndInert(t *testing.T) {
	res := hostileResult()
	for _, format := range []string{"json", "sarif"} {
		out := render(t, format, res, Options{})
		if !json.Valid([]byte(out)) {
			t.Fatalf("%s: invalid JSON", format)
		}
		if c := rawControls(out, false); c != "" {
			t.Errorf("%s: raw control %q in the output", format, c)
		}
		if strings.Contains(out, "\uFFFD") {
			t.Errorf("%s: a byte was replaced by U+FFFD", format)
		}
	}
	if err := validateSARIF(t, render(t, "sarif", res, Options{})); err != nil {
		t.Errorf("SARIF with hostile names is invalid: %v", err)
	}
	m := decodeMap(t, render(t, "json", res, Options{}))
	f0 := m["findings"].([]any)[0].(map[string]any)
	if f0["path"] != "dir/"+hostileNames[0] || f0["author"] != "author "+hostileNames[0] {
		t.Errorf("valid UTF-8 name not kept exactly: %q", f0["path"])
	}
	if _, ok := f0["path_bytes"]; ok {
		t.Errorf("path_bytes written for a UTF-8 name")
	}
}

// A name that is not UTF-8 comes back byte for byte from a JSON report:
// that is what xaiscan verify and revoke read.
func TestJSONNonUTF8NamesRoundTrip(t *testing.T) {
	res := hostileResult()
	for _, show := range []bool{false, true} {
		out := render(t, "json", res, Options{ShowSecrets: show})
		m := decodeMap(t, out)
		raw := m["findings"].([]any)[4].(map[string]any) // "raw\x9b\x9dbytes"
		if raw["path"] != `dir/raw\x9b\x9dbytes` || raw["path_bytes"] == nil {
			t.Errorf("non-UTF-8 name: path %q, path_bytes %v", raw["path"], raw["path_bytes"])
		}
		rep, err := ReadJSON(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range rep.Findings {
			if f.Path != res.Findings[i].Path {
				t.Errorf("show=%v: finding path %q read back as %q", show, res.Findings[i].Path, f.Path)
			}
		}
		for i, s := range rep.Coverage.Skipped {
			if want := res.Coverage.Skipped[i]; s.Path != want.Path || s.Kind != want.Kind {
				t.Errorf("show=%v: skipped %q read back as %q", show, want.Path, s.Path)
			}
		}
	}
}

// A key in a name that is not UTF-8 is redacted in path_bytes as well.
func TestPathBytesAreRedacted(t *testing.T) {
	k := rulestest.APIKey()
	f := fileFinding(k, "leak-"+k+"\xff", 1, 1)
	out := render(t, "json", scanner.Result{Findings: []scanner.Finding{f}}, Options{})
	rep, err := ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Findings[0].Path, "leak-"+rules.Redact(k)+"\xff"; got != want {
		t.Errorf("path read back = %q, want %q", got, want)
	}
	if strings.Contains(out, k) || bytes.Contains([]byte(rep.Findings[0].Path), []byte(k)) {
		t.Errorf("key leaked through path_bytes")
	}
}

func TestReadJSONBadPathBytes(t *testing.T) {
	_, err := ReadJSON(strings.NewReader(`{"findings":[{"path":"a","path_bytes":"!!"}]}`))
	if err == nil || !strings.Contains(err.Error(), "finding 1: path_bytes") {
		t.Errorf("got %v", err)
	}
	_, err = ReadJSON(strings.NewReader(`{"findings":[],"coverage":{"skipped":[{"path":"a","path_bytes":"!!","error":true}]}}`))
	if err == nil || !strings.Contains(err.Error(), "skipped entry 1: path_bytes") {
		t.Errorf("got %v", err)
	}
}

// SARIF URIs percent-encode the raw bytes of a name, so nothing is lost
// there either.
func TestSARIFURIKeepsRawBytes(t *testing.T) {
	k := rulestest.APIKey()
	out := render(t, "sarif", scanner.Result{Findings: []scanner.Finding{fileFinding(k, "a\x9b\n.env", 1, 1)}}, Options{})
	if !strings.Contains(out, `"uri": "a%9B%0A.env"`) {
		t.Errorf("URI does not carry the raw bytes:\n%s", out)
	}
}

// Every string field is cleaned, including ones a report read back may
// have filled with anything (rule, source, commit, verification).
func TestEveryStringFieldIsCleaned(t *testing.T) {
	k := rulestest.APIKey()
	evil := "\x1b]0;t\x07" + k
	f := scanner.Finding{Rule: evil, Source: evil, Path: evil, Secret: evil, Fingerprint: evil, Encoding: evil,
		Commit: evil, Author: evil, Email: evil, Date: evil, Verification: evil,
		VerificationDetail: map[string]any{evil: []any{evil, map[string]any{"x": evil}}}}
	out := render(t, "text", scanner.Result{Findings: []scanner.Finding{f}}, Options{})
	if c := rawControls(out, false); c != "" || strings.Contains(out, k) {
		t.Errorf("a field escaped cleaning: control %q, key shown %v\n%s", c, strings.Contains(out, k), rules.Redact(out))
	}
	sf := textCleaner(Options{}).finding(f)
	v := reflect.ValueOf(sf.Finding)
	for i := 0; i < v.NumField(); i++ {
		if s, ok := v.Field(i).Interface().(string); ok && (strings.Contains(s, "\x1b") || strings.Contains(s, k)) {
			t.Errorf("field %s not cleaned", v.Type().Field(i).Name)
		}
	}
}
