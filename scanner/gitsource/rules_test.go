package gitsource

import (
	"strings"
	"testing"
)

// Rule: renames pair with losses by file name first, then in path order;
// the rest of the gains are copies (introductions).
func TestRuleNotRenamed(t *testing.T) {
	gs := []change{{path: "new/app.env"}, {path: "copy.txt"}, {path: "z/other.env"}}
	got := notRenamed(gs, []string{"old/app.env"})
	var paths []string
	for _, g := range got {
		paths = append(paths, g.path)
	}
	if strings.Join(paths, ",") != "copy.txt,z/other.env" {
		t.Errorf("not renamed = %v", paths)
	}
	if got := notRenamed([]change{{path: "a"}}, nil); len(got) != 1 {
		t.Errorf("no loss: every gain is an introduction, got %d", len(got))
	}
}

// Rule: a header key is "author" in author, committer and tagger lines
// (continuations included), "header" elsewhere.
func TestRuleHeaderPart(t *testing.T) {
	obj := "tree abc\nauthor Ada X <a@b> 1 +0000\ncommitter Bob Y <b@c> 1 +0000\ngpgsig -----BEGIN\n more sig\n\nmsg\n"
	for _, c := range []struct {
		at   string
		want string
	}{{"Ada X", "author"}, {"Bob Y", "author"}, {"more sig", "header"}, {"tree", "header"}} {
		if got := headerPart([]byte(obj), int64(strings.Index(obj, c.at))); got != c.want {
			t.Errorf("%q: part %q, want %q", c.at, got, c.want)
		}
	}
}

// Rule: a compressed blob's member named by the blob id takes the name a
// directory scan gives it.
func TestRuleMemberPath(t *testing.T) {
	id := strings.Repeat("ab", 20)
	for _, c := range []struct{ raw, path, want string }{
		{id + "!" + id, "backup/env.gz", "!env"},
		{id + "!" + id, "db.tgz", "!db.tar"},
		{id + "!conf/app.env", "a.zip", "!conf/app.env"},
		{id, "plain.txt", ""},
	} {
		if got := memberPath(c.raw, c.path, id); got != c.want {
			t.Errorf("memberPath(%s) = %q, want %q", c.path, got, c.want)
		}
	}
}
