package remediate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func finding(key, path string, refs ...string) scanner.Finding {
	return scanner.Finding{Rule: rules.APIKey, Source: scanner.SourceGit, Path: path, Line: 1, Key: key,
		Secret: rules.Redact(key), Fingerprint: rules.Fingerprint([]byte(key)), Refs: refs}
}

// One key per distinct key, its refs the union over its locations, in the
// FAQ's order; the purge names the exact refs.
func TestBuildOrderAndRefs(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	p := Build(Input{Findings: []scanner.Finding{
		finding(k1, "a.env", "refs/heads/main", "refs/remotes/origin/main"),
		finding(k1, "b.env", "refs/tags/v1"),
		finding(k2, "", "refs/pull/3/head"),
	}, Remotes: []Remote{{"origin", "git@github.com:o/r.git"}}, ReplaceText: "repl.txt"})
	if len(p.Keys) != 2 {
		t.Fatalf("keys: %d", len(p.Keys))
	}
	k := p.Keys[0]
	if !k.Pushed || strings.Join(k.Refs, ",") != "refs/heads/main,refs/remotes/origin/main,refs/tags/v1" || len(k.Locations) != 2 {
		t.Errorf("key 1: pushed=%v refs=%v locations=%d", k.Pushed, k.Refs, len(k.Locations))
	}
	var actions []string
	for _, s := range k.Steps {
		actions = append(actions, s.Action)
	}
	for _, s := range p.Purge {
		actions = append(actions, s.Action)
	}
	if got := strings.Join(actions, ","); got != "revoke,create,deploy,rewrite,force-push,expire,host" {
		t.Errorf("steps = %s", got)
	}
	push := strings.Join(p.Purge[1].Commands, "\n")
	for _, want := range []string{"git push --force origin refs/heads/main:refs/heads/main", "git push --force origin refs/tags/v1"} {
		if !strings.Contains(push, want) {
			t.Errorf("force-push lacks %q:\n%s", want, push)
		}
	}
	if !strings.Contains(p.Purge[3].Text, "refs/pull/3/head") {
		t.Errorf("host step: %s", p.Purge[3].Text)
	}
	if p.Keys[1].Pushed {
		t.Error("a pull-request ref alone is not a remote-tracking ref")
	}
}

// The replacement file is filter-repo's literal syntax, one line per key;
// the plan's outputs never hold a full key.
func TestReplaceTextAndOutputs(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	p := Build(Input{Findings: []scanner.Finding{finding(k1, "a"), finding(k2, "b"), finding(k1, "c")}})
	var b bytes.Buffer
	n, err := WriteReplaceText(&b, p)
	if err != nil || n != 2 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	want := k1 + "==>" + rules.Redact(k1) + "-REDACTED\n" + k2 + "==>" + rules.Redact(k2) + "-REDACTED\n"
	if b.String() != want {
		t.Error("replacement file differs from KEY==>REDACTED lines")
	}
	var text, js bytes.Buffer
	if err := WriteText(&text, p); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), js.String()} {
		if strings.Contains(out, k1) || strings.Contains(out, k2) {
			t.Fatal("a full key in the plan")
		}
	}
	var back Plan
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Keys) != 2 {
		t.Errorf("json: %v %d", err, len(back.Keys))
	}
	if !strings.Contains(text.String(), "No remote is configured") {
		t.Errorf("text without remotes:\n%s", text.String())
	}
}

// What --replace-text cannot reach is said: keys in author names and in
// compressed content.
func TestRewriteCaveats(t *testing.T) {
	k := rulestest.APIKey()
	a := finding(k, "")
	a.Part, a.Commit = "author", "c0ffee"
	z := finding(k, "backup/env.gz!env")
	p := Build(Input{Findings: []scanner.Finding{a, z}})
	txt := p.Purge[0].Text
	if !strings.Contains(txt, "--mailmap") || !strings.Contains(txt, "--invert-paths --path backup/env.gz") {
		t.Errorf("rewrite step: %s", txt)
	}
}

// A remote URL's password or token is never part of the plan's commands
// (they are printed and saved); the user name and the rest of the URL stay
// so the remote can be added back.
func TestRemoteURLCredentialsDropped(t *testing.T) {
	k := rulestest.APIKey()
	const secret = "hunter2Tok"
	p := Build(Input{Findings: []scanner.Finding{finding(k, "a.env", "refs/remotes/origin/main")},
		Remotes: []Remote{
			{"origin", "https://ci:" + secret + "@git.example.com/o/r.git"},
			{"bad", "https://ci:" + secret + "%zz@git.example.com/o/r.git"},
			{"scp", "git@github.com:o/r.git"},
		}})
	var buf bytes.Buffer
	if err := WriteText(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, secret) {
		t.Errorf("plan prints the remote's password:\n%s", out)
	}
	for _, want := range []string{"git remote add origin https://ci@git.example.com/o/r.git", "git remote add bad https://git.example.com/o/r.git", "git remote add scp git@github.com:o/r.git"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
}
