package report

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func TestWriteDispatch(t *testing.T) {
	fx := richFixture()
	for _, f := range Formats {
		if out := render(t, f, fx.res, Options{Version: "1.2.3"}); out == "" {
			t.Errorf("%s: empty output", f)
		}
	}
	var buf bytes.Buffer
	err := Write(&buf, "xml", fx.res, Options{})
	if err == nil || !strings.Contains(err.Error(), `"xml"`) || !strings.Contains(err.Error(), "sarif") {
		t.Fatalf("unknown format: got %v, want an error naming the format and the choices", err)
	}
	if buf.Len() != 0 {
		t.Errorf("unknown format wrote %q", buf.String())
	}
}

// The central promise: no output carries a full key unless asked to.
func TestRedactionEverywhere(t *testing.T) {
	fx := richFixture()
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			for _, color := range []bool{false, true} {
				out := render(t, format, fx.res, Options{Color: color})
				for _, k := range fx.keys {
					if strings.Contains(out, k) {
						t.Errorf("color=%v: full key in default output", color)
					}
					if !strings.Contains(out, rules.Redact(k)) {
						t.Errorf("color=%v: redacted form %s missing", color, rules.Redact(k))
					}
				}
				if ms := rules.FindAll([]byte(out)); len(ms) != 0 {
					t.Errorf("color=%v: output holds %d key-shaped strings", color, len(ms))
				}
				shown := render(t, format, fx.res, Options{Color: color, ShowSecrets: true})
				for _, k := range fx.keys {
					// GitLab's report and the job summary are shown in web
					// pages to everyone with access: always redacted.
					if never := format == "gitlab" || format == "markdown"; strings.Contains(shown, k) == never {
						t.Errorf("color=%v: ShowSecrets output shows the full key %s: %v", color, rules.Redact(k), !never)
					}
				}
			}
		})
	}
}

// Keys can hide in places other than the finding's secret: a file name, an
// author, a skip reason, a note, a verifier's detail. They are scrubbed too.
func TestRedactionOfFreeFormFields(t *testing.T) {
	k, stray := rulestest.APIKey(), rulestest.ManagementKey()
	f := gitFinding(k, "leaks/"+k+".txt", 1, 1, commitA)
	f.Author = "bot " + stray
	f.VerificationDetail = map[string]any{"name": "copy of " + k, "acls": []any{stray}}
	f.Verification = "live"
	glued := fileFinding(k, "dir/a_"+k, 1, 1) // not a boundary match: only the known-key pass catches it
	res := scanner.Result{
		Findings: []scanner.Finding{f, glued},
		Coverage: scanner.Coverage{
			Skipped: []scanner.Skipped{
				{Path: "x/" + stray, Reason: "bad " + k, Kind: scanner.KindError},
				{Path: "y", Reason: "skipped for " + stray},
			},
			Notes: []string{"note " + k},
		},
	}
	for _, format := range Formats {
		out := render(t, format, res, Options{})
		for _, s := range []string{k, stray} {
			if strings.Contains(out, s) {
				t.Errorf("%s: full key leaked through a free-form field", format)
			}
		}
		if !strings.Contains(out, rules.Redact(stray)) {
			t.Errorf("%s: stray key not replaced by its redacted form", format)
		}
	}
	// The writers must not scrub the caller's Result in place.
	if res.Findings[0].Author != "bot "+stray || res.Coverage.Notes[0] != "note "+k {
		t.Errorf("writer modified its input")
	}
	if f.VerificationDetail["name"] != "copy of "+k {
		t.Errorf("writer modified the verification detail map")
	}
}

func TestCleanerValue(t *testing.T) {
	k := rulestest.APIKey()
	c := textCleaner(Options{})
	v := map[string]any{"a": []any{k, "\x1b[2J"}, "b": map[string]string{"c": k}, "d": []string{k}, "n": 3}
	got := cleanStrings(c, v)
	if s := fmt.Sprint(got); strings.Contains(s, k) || !strings.Contains(s, rules.Redact(k)) || strings.Contains(s, "\x1b") {
		t.Errorf("nested strings not cleaned: %q", rules.Redact(s))
	}
	if v["a"].([]any)[0] != k {
		t.Errorf("the input was modified")
	}
	shown := textCleaner(Options{ShowSecrets: true})
	if got := shown.str(k + "\n"); got != k+`\n` {
		t.Errorf("ShowSecrets: got %q", rules.Redact(got))
	}
}

func TestIsFullKey(t *testing.T) {
	k, m := rulestest.APIKey(), rulestest.ManagementKey()
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{k, true},
		{m, true},
		{rules.Redact(k), false},
		{k + "A", false},
		{k[:len(k)-1], false},
		{" " + k, false},
		{"abcd" + k[4:], false}, // right length and alphabet, wrong prefix
		{"", false},
		{"xai-", false},
	} {
		if got := isFullKey(tc.s); got != tc.want {
			t.Errorf("isFullKey(len %d, %q...) = %v, want %v", len(tc.s), rules.Redact(tc.s), got, tc.want)
		}
	}
}

func TestRelativeURI(t *testing.T) {
	for in, want := range map[string]string{
		"config/.env":     "config/.env",
		"a b/c#d?e%f":     "a%20b/c%23d%3Fe%25f",
		"c:foo":           "./c:foo",
		"//host/x":        "/host/x",
		"dir/ü.txt":       "dir/%C3%BC.txt",
		".git/messages/x": ".git/messages/x",
	} {
		if got := relativeURI(in); got != want {
			t.Errorf("relativeURI(%q) = %q, want %q", in, got, want)
		}
	}
}

type failWriter struct{}

var errWrite = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestWriteErrorsPropagate(t *testing.T) {
	fx := richFixture()
	for _, f := range Formats {
		err := Write(failWriter{}, f, fx.res, Options{})
		if !errors.Is(err, errWrite) {
			t.Errorf("%s: got %v, want the writer's error wrapped", f, err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "report: ") {
			t.Errorf("%s: error lacks context: %v", f, err)
		}
	}
}
