package report

import (
	"strings"
	"testing"

	"github.com/fatih/color"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// indexOf returns the index of the first line containing sub, or -1.
func indexOf(ls []string, sub string) int {
	for i, l := range ls {
		if strings.Contains(l, sub) {
			return i
		}
	}
	return -1
}

func TestTextGroupsByKey(t *testing.T) {
	a, b := rulestest.APIKey(), rulestest.ManagementKey()
	fs := []scanner.Finding{
		fileFinding(a, "a.go", 1, 5),
		fileFinding(b, "b.go", 2, 1),
		fileFinding(a, "c.go", 3, 1),
	}
	out := render(t, "text", scanner.Result{Findings: fs}, Options{})
	ls := lines(out)
	ha, hb := indexOf(ls, rules.Redact(a)), indexOf(ls, rules.Redact(b))
	if ha < 0 || hb < 0 {
		t.Fatalf("missing headers:\n%s", out)
	}
	if strings.Count(out, rules.Redact(a)) != 1 || strings.Count(out, rules.Redact(b)) != 1 {
		t.Errorf("each key must have exactly one header:\n%s", out)
	}
	// Groups in order of first appearance; locations indented under their key.
	if !(ha < hb) {
		t.Errorf("group of a.go's key must come first:\n%s", out)
	}
	if !strings.HasPrefix(ls[ha], "xAI API key ") || !strings.HasPrefix(ls[hb], "xAI Management API key ") {
		t.Errorf("headers must start with the rule name:\n%s", out)
	}
	if ls[ha+1] != "    a.go:1:5" || ls[ha+2] != "    c.go:3:1" {
		t.Errorf("locations of the first key:\n%s", out)
	}
	if ls[hb+1] != "    b.go:2:1" {
		t.Errorf("location of the second key:\n%s", out)
	}
	if indexOf(ls, "2 keys in 3 locations.") < 0 {
		t.Errorf("summary missing:\n%s", out)
	}
}

func TestTextGitDetails(t *testing.T) {
	fx := richFixture()
	out := render(t, "text", fx.res, Options{})
	ls := lines(out)
	for _, want := range []string{
		"    config/.env:2:13",
		"    src/app.go:10:5  commit a1b2c3d  Ada <ada@example.com>  2026-01-02  still at HEAD",
		"    deploy/values.yaml:7:3 [base64]  commit 0f9e8d7  Ada <ada@example.com>  2026-01-02  removed since",
		"    (commit message):1:20  commit 0f9e8d7  Ada <ada@example.com>  2026-01-02  (unreachable)",
	} {
		if indexOf(ls, want) < 0 {
			t.Errorf("missing line %q in:\n%s", want, out)
		}
	}
	h := ls[indexOf(ls, rules.Redact(fx.keys[0]))]
	if !strings.Contains(h, "LIVE (name: ci-bot; acls: api-key:model:*, api-key:endpoint:*)") {
		t.Errorf("live header lacks verification summary: %q", h)
	}
	if strings.Contains(h, "redacted_api_key") || strings.Contains(h, "api_key_blocked") {
		t.Errorf("header repeats redundant details: %q", h)
	}
	if h := ls[indexOf(ls, rules.Redact(fx.keys[1]))]; !strings.Contains(h, "unknown (error: timeout)") {
		t.Errorf("unknown header: %q", h)
	}
	if h := ls[indexOf(ls, rules.Redact(fx.keys[2]))]; !strings.Contains(h, "dead") {
		t.Errorf("dead header: %q", h)
	}
}

func TestTextSummary(t *testing.T) {
	fx := richFixture()
	out := render(t, "text", fx.res, Options{})
	for _, want := range []string{
		"3 keys in 4 locations.",
		"Scanned 3 files, 340 blobs, 56 commits, 1.5 KiB.",
		"Could not read 1 path; the scan is partial:",
		"    private/key.pem: open: permission denied",
		"Excluded 2 paths (link1, link2): symlink (not followed)",
		"Excluded pipe: not a regular file",
		"Note: shallow clone: history before the graft is not scanned",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Deliberate skips are summarised on one line per reason, not listed
	// a line each.
	if strings.Count(out, "link1") != 1 || strings.Contains(out, "\n    link1") {
		t.Errorf("deliberate skips must be summarised, not listed:\n%s", out)
	}

	q := render(t, "text", fx.res, Options{Quiet: true})
	if !strings.Contains(q, "private/key.pem: open: permission denied") {
		t.Errorf("quiet output must keep read errors:\n%s", q)
	}
	for _, not := range []string{"Scanned", "Excluded", "Note:", "keys in"} {
		if strings.Contains(q, not) {
			t.Errorf("quiet output contains %q:\n%s", not, q)
		}
	}
	if !strings.Contains(q, rules.Redact(fx.keys[0])) {
		t.Errorf("quiet output must keep findings")
	}
}

func TestTextClean(t *testing.T) {
	res := scanner.Result{Coverage: scanner.Coverage{Bytes: 100}}
	out := render(t, "text", res, Options{})
	if out != "No xAI keys found.\nScanned 100 B.\n" {
		t.Errorf("clean output = %q", out)
	}
	if q := render(t, "text", res, Options{Quiet: true}); q != "" {
		t.Errorf("quiet clean output = %q, want nothing", q)
	}
	out = render(t, "text", scanner.Result{Interrupted: true}, Options{Quiet: true})
	if !strings.Contains(out, "interrupted") {
		t.Errorf("interrupted scan not reported: %q", out)
	}
}

func TestTextColor(t *testing.T) {
	// Flip the global the library consults by default: the writer must
	// not depend on it in either direction.
	saved := color.NoColor
	defer func() { color.NoColor = saved }()
	fx := richFixture()
	for _, global := range []bool{true, false} {
		color.NoColor = global
		plain := render(t, "text", fx.res, Options{})
		if strings.Contains(plain, "\x1b[") {
			t.Errorf("NoColor=%v: escape codes without Color", global)
		}
		colored := render(t, "text", fx.res, Options{Color: true})
		if !strings.Contains(colored, "\x1b[") {
			t.Errorf("NoColor=%v: no escape codes with Color", global)
		}
		// Live keys in bold red: SGR 1 and 31 in one sequence.
		if !strings.Contains(colored, "\x1b[1;31mLIVE") {
			t.Errorf("NoColor=%v: LIVE not bold red:\n%q", global, colored)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 40: "1.0 TiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTextQuietWithFindings(t *testing.T) {
	k := rulestest.APIKey()
	out := render(t, "text", scanner.Result{Findings: []scanner.Finding{fileFinding(k, "a", 1, 2)}}, Options{Quiet: true})
	if want := "xAI API key " + rules.Redact(k) + "  fingerprint " + rules.Fingerprint([]byte(k)) + "\n    a:1:2\n"; out != want {
		t.Errorf("quiet output = %q, want %q", out, want)
	}
}

// Hundreds of unreadable paths are listed up to a screenful, then counted.
func TestTextCapsUnreadableList(t *testing.T) {
	var res scanner.Result
	for i := 0; i < maxListedErrors+30; i++ {
		res.Coverage.Skipped = append(res.Coverage.Skipped,
			scanner.Skipped{Path: "broken" + strings.Repeat("x", i%3) + ".zip", Reason: "truncated", Kind: scanner.KindError})
	}
	out := render(t, "text", res, Options{})
	if n := strings.Count(out, ": truncated"); n != maxListedErrors {
		t.Errorf("listed %d paths, want %d", n, maxListedErrors)
	}
	if !strings.Contains(out, "... and 30 more") {
		t.Errorf("no count of the rest:\n%s", out)
	}
	// Just over the cap: every path is listed (a "1 more" line would be silly).
	res.Coverage.Skipped = res.Coverage.Skipped[:maxListedErrors+1]
	if out := render(t, "text", res, Options{}); strings.Count(out, ": truncated") != maxListedErrors+1 {
		t.Errorf("a list one over the cap was cut")
	}
}

// Notes and exclusions name their paths (the first few), so a damaged
// archive that was read as far as it goes can be found again.
func TestTextSummaryNamesNotedPaths(t *testing.T) {
	res := scanner.Result{Coverage: scanner.Coverage{Files: 5, Skipped: []scanner.Skipped{
		scanner.NoteAt("a/backup.gz", "truncated gzip stream"),
		scanner.ExcludedAt("v1", "excluded by --exclude \"v*\""),
		scanner.ExcludedAt("v2", "excluded by --exclude \"v*\""),
		scanner.ExcludedAt("v3", "excluded by --exclude \"v*\""),
		scanner.ExcludedAt("v4", "excluded by --exclude \"v*\""),
	}}}
	out := render(t, "text", res, Options{})
	for _, want := range []string{
		"Read despite damage: a/backup.gz: truncated gzip stream",
		"Excluded 4 paths (v1, v2, v3 and 1 more): excluded by --exclude \"v*\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}
