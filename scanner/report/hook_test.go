package report

import (
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func stagedFinding(key, path string, line int) scanner.Finding {
	f := fileFinding(key, path, line, 5)
	f.Source = scanner.SourceStaged
	return f
}

// A hook is silent on a clean, complete scan; -v brings the summary back;
// a scan that could not read something still says so.
func TestHookSilentOnSuccess(t *testing.T) {
	clean := scanner.Result{Coverage: scanner.Coverage{Files: 3, Bytes: 10, Skipped: []scanner.Skipped{}}}
	for _, hook := range []string{HookCommit, HookPush} {
		if out := render(t, "text", clean, Options{Hook: hook}); out != "" {
			t.Errorf("%s hook printed %q on success", hook, out)
		}
		if out := render(t, "text", clean, Options{Hook: hook, Verbose: true}); !strings.Contains(out, "No xAI keys found.") {
			t.Errorf("%s hook -v: %q", hook, out)
		}
	}
	partial := clean
	partial.Coverage.Skipped = []scanner.Skipped{scanner.ErrorAt("a.env", "permission denied")}
	if out := render(t, "text", partial, Options{Hook: HookCommit}); !strings.Contains(out, "a.env: permission denied") {
		t.Errorf("partial scan in a hook: %q", out)
	}
	if out := render(t, "text", scanner.Result{Interrupted: true}, Options{Hook: HookCommit}); !strings.Contains(out, "interrupted") {
		t.Errorf("interrupted scan in a hook: %q", out)
	}
	// A note is worth reading even on success: the summary is printed.
	noted := clean
	noted.Coverage.Notes = []string{"compared HEAD with its upstream"}
	if out := render(t, "text", noted, Options{Hook: HookPush}); !strings.Contains(out, "No xAI keys found.") || !strings.Contains(out, "Note: compared HEAD") {
		t.Errorf("a clean hook run with a note: %q", out)
	}
	excluded := clean
	excluded.Coverage.Skipped = []scanner.Skipped{scanner.ExcludedAt("gone.txt", "deleted")}
	if out := render(t, "text", excluded, Options{Hook: HookCommit}); !strings.Contains(out, "Excluded gone.txt: deleted") {
		t.Errorf("a clean hook run with a skip: %q", out)
	}
	// Outside hooks the clean line stays.
	if out := render(t, "text", clean, Options{}); !strings.Contains(out, "No xAI keys found.") {
		t.Errorf("a scan's clean summary is gone: %q", out)
	}
}

func TestBlockedCommitSaysWhatToDo(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.ManagementKey()
	fp1, fp2 := rules.Fingerprint([]byte(k1)), rules.Fingerprint([]byte(k2))
	res := scanner.Result{Findings: []scanner.Finding{
		stagedFinding(k1, "config/app.env", 2),
		stagedFinding(k2, "docs/my notes.md", 1),
		stagedFinding(k2, "src/main.go", 9),
	}}
	out := render(t, "text", res, Options{Hook: HookCommit})
	lines := strings.Split(out, "\n")
	if lines[0] != "xaiscan: commit blocked: it would add 2 xAI keys (3 locations)." {
		t.Errorf("first line %q", lines[0])
	}
	for _, want := range []string{
		"fingerprint " + fp1,
		"fingerprint " + fp2,
		// The first key is in one plain file: scoped to it, anchored.
		"       " + fp1 + "  /config/app.env\n",
		// The second is in two files: allowed anywhere.
		"       " + fp2 + "\n",
		"git restore --staged -- config/app.env 'docs/my notes.md' src/main.go\n",
		"https://console.x.ai",
		"'xaiscan staged --verify --revoke'",
		"'git commit --no-verify' skips this check and every other hook",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("blocked commit lacks %q:\n%s", want, out)
		}
	}
	for _, k := range []string{k1, k2} {
		if strings.Contains(out, k) {
			t.Fatal("full key in the hook's output")
		}
	}
	if strings.Contains(out, "2 keys in 3 locations.") {
		t.Errorf("the count is repeated after the headline")
	}
	for _, l := range lines {
		if len(l) > 80 && !strings.Contains(l, fp1) && !strings.Contains(l, fp2) && !strings.Contains(l, "git restore") {
			t.Errorf("line over 80 columns: %q", l)
		}
	}
}

func TestBlockedPushNamesTheCommit(t *testing.T) {
	k := rulestest.APIKey()
	f := gitFinding(k, "leak.txt", 1, 9, commitA)
	out := render(t, "text", scanner.Result{Findings: []scanner.Finding{f}}, Options{Hook: HookPush})
	for _, want := range []string{
		"xaiscan: push blocked: the commits it would publish add 1 xAI key (1 location).",
		"git rebase -i " + commitA[:7] + "^",
		"'xaiscan git --verify --revoke'",
		rules.Fingerprint([]byte(k)) + "  /leak.txt",
		"'git push --no-verify'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("blocked push lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "git restore") {
		t.Errorf("a push is not unstaged")
	}
}

// The .xaiscanignore line is scoped only when the path can be written as
// a pattern that matches exactly that file.
func TestIgnoreLine(t *testing.T) {
	k := rulestest.APIKey()
	fp := rules.Fingerprint([]byte(k))
	cases := []struct {
		paths []string
		want  string
	}{
		{[]string{"a.env"}, fp + "  /a.env"},
		{[]string{"a.env", "a.env"}, fp + "  /a.env"},
		{[]string{"backup.tgz!inner/a.env"}, fp + "  /backup.tgz"},
		{[]string{"a.env", "b.env"}, fp},
		{[]string{"has space.env"}, fp},
		{[]string{"glob[1].env"}, fp},
		{[]string{"star*.env"}, fp},
		{[]string{"ctl\x1b.env"}, fp},
		{[]string{""}, fp}, // a commit message
	}
	for _, tc := range cases {
		var fs []scanner.Finding
		for _, p := range tc.paths {
			fs = append(fs, fileFinding(k, p, 1, 1))
		}
		sr := textCleaner(Options{}).result(scanner.Result{Findings: fs})
		if got := ignoreLine(sr.findings); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.paths, got, tc.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"src/a.go": "src/a.go", "a b": "'a b'", "it's": `'it'\''s'`, "$HOME": "'$HOME'", "-rf": "-rf",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
