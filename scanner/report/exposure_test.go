package report

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.golden")

// fixedKey is a key-shaped string built at run time whose redacted form
// is stable, so golden files can show it.
func fixedKey(last4 string) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	b.WriteString(rules.Prefix)
	for i := 0; i < 76; i++ {
		b.WriteByte(alnum[(i*7+3)%len(alnum)])
	}
	return b.String() + last4
}

// The text report says where each key is exposed, in words, grouped by
// kind of ref with what is already pushed first; a tag message is named by
// its tag, a blob no tree names by its object id, a reflog-only commit as
// such, and an uncertain attribution is shown.
func TestTextExposureGolden(t *testing.T) {
	k1, k2, k3 := fixedKey("AAAA"), fixedKey("BBBB"), fixedKey("CCCC")
	exposed := gitFinding(k1, "config/app.env", 2, 5, commitA)
	exposed.Refs = []string{"refs/heads/main", "refs/pull/7/head", "refs/remotes/origin/main", "refs/stash", "refs/tags/v1.2"}
	tag := gitFinding(k2, "", 2, 5, commitA)
	tag.Tag, tag.Part, tag.Object, tag.AtHead = "v1.2", "message", "0123456789abcdef0123456789abcdef01234567", nil
	tag.Refs = []string{"refs/tags/v1.2"}
	reflog := gitFinding(k3, "s.env", 1, 3, commitA)
	reflog.Reachable = ptr(false)
	reflog.Refs = []string{"HEAD@{1}", "refs/heads/main@{1}"}
	reflog.Attribution = "uncertain: a parent of commit " + commitA + " is missing from the object store"
	var many []string
	for _, n := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		many = append(many, "refs/pull/"+n+"/head")
	}
	dangling := gitFinding(k3, "", 1, 3, "")
	dangling.Object, dangling.Reachable, dangling.AtHead = "89abcdef0123456789abcdef0123456789abcdef", ptr(true), nil
	dangling.Refs = append([]string{"refs/tags/blobtag"}, many...)
	res := scanner.Result{Findings: []scanner.Finding{exposed, tag, reflog, dangling}}
	got := render(t, "text", res, Options{Quiet: true})
	if strings.Contains(got, k1) || strings.Contains(got, k2) || strings.Contains(got, k3) {
		t.Fatal("a full key in the text report")
	}
	golden := filepath.Join("testdata", "exposure.golden")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("text report:\n%s\nwant:\n%s", got, want)
	}
}

func TestExposureLineGroups(t *testing.T) {
	for _, c := range []struct {
		refs []string
		want string
	}{
		{nil, ""},
		{[]string{"refs/heads/main", "refs/remotes/origin/main", "refs/tags/v1.2"}, "pushed: origin/main; tags: v1.2; branches: main"},
		{[]string{"refs/merge-requests/3/head", "refs/notes/commits", "HEAD", "stash@{1}", "refs/heads/main@{2}", "refs/other/x"}, "merge requests: 3/head; stash: stash@{1}; notes: commits; detached HEAD: HEAD; other refs: refs/other/x; reflog: main@{2}"},
	} {
		if got := exposureLine(c.refs); got != c.want {
			t.Errorf("exposureLine(%v) = %q, want %q", c.refs, got, c.want)
		}
	}
}
