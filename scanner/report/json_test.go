package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := keysOf(m); !reflect.DeepEqual(got, want) {
		t.Errorf("%s keys = %v, want %v", what, got, want)
	}
}

func decodeMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("output is not a JSON object: %v", err)
	}
	return m
}

// Field names are the contract of DESIGN §4.
func TestJSONFieldNames(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	file := fileFinding(k1, "config/.env", 2, 13)
	git := gitFinding(k2, "src/app.go", 4, 9, commitA)
	git.Verification = "live"
	res := scanner.Result{
		Findings: []scanner.Finding{file, git},
		Coverage: scanner.Coverage{Files: 1, Blobs: 2, Commits: 3, Bytes: 4,
			Skipped: []scanner.Skipped{{Path: "p", Reason: "r", Kind: scanner.KindExcluded}}},
	}
	out := render(t, "json", res, Options{Version: "1.2.3"})
	m := decodeMap(t, out)
	wantKeys(t, "top level", m, "tool", "findings", "coverage")
	wantKeys(t, "tool", m["tool"].(map[string]any), "name", "version")
	if tool := m["tool"].(map[string]any); tool["name"] != "xaiscan" || tool["version"] != "1.2.3" {
		t.Errorf("tool = %v", tool)
	}
	fs := m["findings"].([]any)
	if len(fs) != 2 {
		t.Fatalf("findings: %d, want 2", len(fs))
	}
	base := []string{"rule", "source", "path", "line", "column", "secret", "fingerprint", "entropy"}
	f0 := fs[0].(map[string]any)
	wantKeys(t, "file finding", f0, base...)
	wantKeys(t, "git finding", fs[1].(map[string]any),
		append(base, "commit", "author", "email", "date", "reachable", "at_head", "verification", "object")...)
	if f0["rule"] != rules.APIKey || f0["source"] != "file" || f0["path"] != "config/.env" ||
		f0["line"] != 2.0 || f0["column"] != 13.0 || f0["secret"] != rules.Redact(k1) ||
		f0["fingerprint"] != rules.Fingerprint([]byte(k1)) || f0["entropy"] != 5.71 {
		t.Errorf("file finding = %v", f0)
	}
	cov := m["coverage"].(map[string]any)
	wantKeys(t, "coverage", cov, "files", "blobs", "commits", "bytes", "skipped")
	if cov["files"] != 1.0 || cov["blobs"] != 2.0 || cov["commits"] != 3.0 || cov["bytes"] != 4.0 {
		t.Errorf("coverage = %v", cov)
	}
	sk := cov["skipped"].([]any)[0].(map[string]any)
	if sk["path"] != "p" || sk["reason"] != "r" {
		t.Errorf("skipped = %v", sk)
	}

	// Layout: two-space indentation and a trailing newline.
	if !strings.HasPrefix(out, "{\n  \"tool\": {\n    \"name\"") || !strings.HasSuffix(out, "}\n") {
		t.Errorf("unexpected layout:\n%s", out)
	}
}

func TestJSONEmptyAndInterrupted(t *testing.T) {
	out := render(t, "json", scanner.Result{}, Options{})
	m := decodeMap(t, out)
	if fs, ok := m["findings"].([]any); !ok || len(fs) != 0 {
		t.Errorf("findings = %#v, want []", m["findings"])
	}
	if sk, ok := m["coverage"].(map[string]any)["skipped"].([]any); !ok || len(sk) != 0 {
		t.Errorf("skipped = %#v, want []", m["coverage"].(map[string]any)["skipped"])
	}
	if _, ok := m["interrupted"]; ok {
		t.Errorf("interrupted present for a finished scan")
	}
	m = decodeMap(t, render(t, "json", scanner.Result{Interrupted: true}, Options{}))
	if m["interrupted"] != true {
		t.Errorf("interrupted = %v, want true", m["interrupted"])
	}
}

func TestJSONShowSecrets(t *testing.T) {
	k := rulestest.ManagementKey()
	res := scanner.Result{Findings: []scanner.Finding{fileFinding(k, "a", 1, 1)}}
	f := decodeMap(t, render(t, "json", res, Options{ShowSecrets: true}))["findings"].([]any)[0].(map[string]any)
	if f["secret"] != k {
		t.Errorf("secret with ShowSecrets = %v, want the full key", rules.Redact(f["secret"].(string)))
	}
	f = decodeMap(t, render(t, "json", res, Options{}))["findings"].([]any)[0].(map[string]any)
	if f["secret"] != rules.Redact(k) {
		t.Errorf("secret = %v, want %v", f["secret"], rules.Redact(k))
	}
}

// stripInternal clears what the JSON form does not carry.
func stripInternal(fs []scanner.Finding) []scanner.Finding {
	out := make([]scanner.Finding, len(fs))
	for i, f := range fs {
		f.Key, f.Object, f.Offset = "", "", 0
		out[i] = f
	}
	return out
}

func TestReadJSONRoundTrip(t *testing.T) {
	fx := richFixture()
	fx.res.Interrupted = true
	for _, show := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteJSON(&buf, fx.res, Options{Version: "9.9", ShowSecrets: show}); err != nil {
			t.Fatal(err)
		}
		rep, err := ReadJSON(&buf)
		if err != nil {
			t.Fatalf("show=%v: ReadJSON: %v", show, err)
		}
		if rep.Tool != (Tool{Name: "xaiscan", Version: "9.9"}) || !rep.Interrupted {
			t.Errorf("show=%v: tool %v interrupted %v", show, rep.Tool, rep.Interrupted)
		}
		if !reflect.DeepEqual(rep.Coverage, fx.res.Coverage) {
			t.Errorf("show=%v: coverage\n got %+v\nwant %+v", show, rep.Coverage, fx.res.Coverage)
		}
		if !reflect.DeepEqual(stripInternal(rep.Findings), stripInternal(fx.res.Findings)) {
			t.Errorf("show=%v: findings differ\n got %+v\nwant %+v", show, stripInternal(rep.Findings), stripInternal(fx.res.Findings))
		}
		for i, f := range rep.Findings {
			want := ""
			if show {
				want = fx.res.Findings[i].Key
			}
			if f.Key != want {
				t.Errorf("show=%v: finding %d Key recovered = %v, want %v", show, i, f.Key != "", want != "")
			}
			if f.Secret != rules.Redact(fx.res.Findings[i].Key) {
				t.Errorf("show=%v: finding %d Secret = %q, want the redacted form", show, i, rules.Redact(f.Secret))
			}
		}
		if got := rep.Result(); len(got.Findings) != len(fx.res.Findings) || !got.Interrupted {
			t.Errorf("Result() lost data")
		}
	}
}

// A report read back and written again keeps its redaction rules: the
// recovered key shows only with ShowSecrets.
func TestReadJSONRewrite(t *testing.T) {
	k := rulestest.APIKey()
	in := render(t, "json", scanner.Result{Findings: []scanner.Finding{fileFinding(k, "a", 1, 1)}}, Options{ShowSecrets: true})
	rep, err := ReadJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if out := render(t, "json", rep.Result(), Options{}); strings.Contains(out, k) {
		t.Errorf("rewritten report leaks the key")
	}
	if out := render(t, "json", rep.Result(), Options{ShowSecrets: true}); out != in {
		t.Errorf("rewrite with ShowSecrets differs:\n%s\nvs\n%s", out, in)
	}
}

func TestReadJSONErrors(t *testing.T) {
	k := rulestest.APIKey()
	mismatch := strings.Replace(
		render(t, "json", scanner.Result{Findings: []scanner.Finding{fileFinding(k, "a", 1, 1)}}, Options{ShowSecrets: true}),
		rules.Fingerprint([]byte(k)), strings.Repeat("0", 64), 1)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"syntax", "{\n  \"tool\": {},\n  \"findings\": [x]\n}\n", "report: line 3: invalid character"},
		{"type", "{\n\"findings\": [\n{\"line\": \"two\"}\n]}", "report: line 3:"},
		{"missing findings", `{"tool":{"name":"xaiscan"},"coverage":{}}`, `not an xaiscan JSON report: missing "findings"`},
		{"null findings", `{"findings":null}`, `missing "findings"`},
		{"array", `[]`, "not an xaiscan JSON report"},
		{"other tool", `{"tool":{"name":"gitleaks"},"findings":[]}`, `written by "gitleaks"`},
		{"empty", "  \n", "empty input"},
		{"trailing", `{"findings":[]} {}`, "report: line 1:"},
		{"fingerprint", mismatch, "fingerprint does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadJSON(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), k) {
				t.Errorf("error message leaks the key")
			}
		})
	}
	rep, err := ReadJSON(strings.NewReader(`{"findings":[]}`))
	if err != nil || rep.Findings == nil || len(rep.Findings) != 0 {
		t.Errorf("minimal report: %v %#v", err, rep.Findings)
	}
}
