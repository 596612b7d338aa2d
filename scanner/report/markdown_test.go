package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func TestMarkdownSummary(t *testing.T) {
	fx := richFixture()
	out := render(t, "markdown", fx.res, Options{})
	if !strings.HasPrefix(out, "### :rotating_light: xaiscan: 3 xAI keys in 4 locations\n") {
		t.Errorf("headline:\n%s", out)
	}
	rows := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| xAI ") {
			rows++
		}
	}
	if rows != 3 {
		t.Errorf("%d key rows, want 3:\n%s", rows, out)
	}
	for _, k := range fx.keys {
		if !strings.Contains(out, "`"+rules.Redact(k)+"`") || !strings.Contains(out, "`"+rules.Fingerprint([]byte(k))+"`") {
			t.Errorf("key %s or its fingerprint missing", rules.Redact(k))
		}
	}
	for _, want := range []string{"| live |", "| dead |", "| unknown |", "`src/app.go:10:5` in `a1b2c3d` (still at HEAD)",
		"Could not read 1 path; the scan is partial", "`private/key.pem`: `open: permission denied`", "> Note: `shallow clone"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if out := render(t, "markdown", scanner.Result{}, Options{}); !strings.HasPrefix(out, "### :white_check_mark: xaiscan: no xAI keys found\n") {
		t.Errorf("clean summary:\n%s", out)
	}
	partial := scanner.Result{Coverage: scanner.Coverage{Skipped: []scanner.Skipped{scanner.ErrorAt("x", "denied")}}}
	if out := render(t, "markdown", partial, Options{}); !strings.Contains(out, "no xAI keys found, but the scan is incomplete") {
		t.Errorf("partial clean summary:\n%s", out)
	}
}

// A hostile name cannot add a link, an image, HTML, a mention or a table
// cell to the summary: it stays inside its code span.
func TestMarkdownQuotesNames(t *testing.T) {
	k := rulestest.APIKey()
	name := "a|b`c``d ![x](https://evil.example/i.png) <img src=x> @all\n[l](http://e).env"
	out := render(t, "markdown", scanner.Result{Findings: []scanner.Finding{fileFinding(k, name, 1, 1)}}, Options{})
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| xAI ") {
			row = l
		}
	}
	// Five cell borders, no more: every "|" of the name is escaped.
	if n := strings.Count(row, "|") - strings.Count(row, `\|`); n != 5 {
		t.Errorf("row has %d cell borders:\n%s", n, row)
	}
	if !strings.Contains(row, "```a\\|b`c``d ![x](https://evil.example/i.png) <img src=x> @all\\n[l](http://e).env:1:1```") {
		t.Errorf("name not in one code span:\n%s", row)
	}
}

func TestCodeSpan(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "`plain`", "a`b": "``a`b``", "``x": "``` ``x ```", "": "` `",
	} {
		if got := codeSpan(in); got != want {
			t.Errorf("codeSpan(%q) = %q, want %q", in, got, want)
		}
	}
}

// A job summary is capped (GitHub takes at most 1 MiB); the reports hold
// everything.
func TestMarkdownCaps(t *testing.T) {
	var res scanner.Result
	k := rulestest.APIKey()
	for i := 0; i < mdMaxLocations+5; i++ {
		res.Findings = append(res.Findings, fileFinding(k, fmt.Sprintf("f%02d", i), 1, 1))
	}
	for i := 0; i < mdMaxKeys+3; i++ {
		res.Findings = append(res.Findings, fileFinding(rulestest.APIKey(), fmt.Sprintf("g%03d", i), 1, 1))
	}
	out := render(t, "markdown", res, Options{})
	if !strings.Contains(out, "… and 5 more") || !strings.Contains(out, "… and 4 more keys") {
		t.Errorf("caps missing:\n%s", out[len(out)-500:])
	}
}
