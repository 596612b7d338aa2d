package gitsource

import (
	"slices"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// A key in a tree entry name (a file's or a directory's) is reported once
// per path, at the commit that introduced the path, with the tree holding
// the entry as Object and the refs that expose it; not again at later
// commits that keep the path, and not for every file below a directory.
func TestKeyInTreeEntryNames(t *testing.T) {
	r := newRepo(t)
	k1, k2, k3 := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	r.write("docs/leak-"+k1+".txt", "nothing\n")
	c1 := r.commit("add docs")
	r.write("docs/other.txt", "more\n")
	r.commit("unrelated")
	r.write(k2+"/a.txt", "a\n")
	r.write(k2+"/b.txt", "b\n")
	r.write("both-"+k3, k3+"\n")
	c3 := r.commit("add dir")
	r.git("rm", "-q", "docs/leak-"+k1+".txt")
	r.commit("remove leak")

	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	m := byKey(res)
	f := one(t, m, k1, "file name")
	if f.Part != "name" || f.Path != "docs/leak-"+k1+".txt" || f.Commit != c1 || f.Line != 1 || f.Column != 11 {
		t.Errorf("file name: %s part=%q col=%d", describe([]scanner.Finding{f}), f.Part, f.Column)
	}
	if f.Object != r.git("rev-parse", c1+":docs") || !isFalse(f.AtHead) || !isTrue(f.Reachable) || !slices.Contains(f.Refs, "refs/heads/main") {
		t.Errorf("file name attribution: %s refs=%v", describe([]scanner.Finding{f}), f.Refs)
	}
	if f.Author != "Ada" || f.Date == "" {
		t.Errorf("author %q date %q", f.Author, f.Date)
	}
	f = one(t, m, k2, "directory name")
	if f.Part != "name" || f.Path != k2 || f.Commit != c3 || f.Column != 1 || f.Object != r.git("rev-parse", c3+"^{tree}") || !isTrue(f.AtHead) {
		t.Errorf("directory name: %s", describe([]scanner.Finding{f}))
	}
	// The name and the content of one file: two findings.
	var parts []string
	for _, f := range m[k3] {
		parts = append(parts, f.Part+":"+f.Path)
	}
	slices.Sort(parts)
	if want := []string{":both-" + k3, "name:both-" + k3}; !slices.Equal(parts, want) {
		t.Errorf("name and content: %q", parts)
	}
}

// A key only in the name of a tree no commit holds (written to the object
// store, never committed) is still found, unreachable, with the tree as
// Object and the entry name as path.
func TestKeyInUnreachableTreeName(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("first")
	key := rulestest.APIKey()
	r.write("stray-"+key, "nothing\n")
	r.git("add", "stray-"+key)
	tree := r.git("write-tree")
	r.git("rm", "-q", "--cached", "stray-"+key)

	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), key, "dangling tree")
	if f.Part != "name" || f.Path != "stray-"+key || f.Object != tree || !isFalse(f.Reachable) || f.Commit != "" {
		t.Errorf("%s part=%q", describe([]scanner.Finding{f}), f.Part)
	}
}

// Keys in ref names (a branch, a lightweight tag, an annotated tag, a
// remote-tracking ref) are findings with the ref name as path and the
// object it names as Object. An annotated tag also carries its name in
// the tag object's "tag" header, which is reported as that object's
// header (it travels with the object, whatever the ref is called).
func TestKeyInRefNames(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	c := r.commit("first")
	kb, kt, ka, kr := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	r.git("branch", "feature-"+kb)
	r.git("tag", "v-"+kt)
	r.git("tag", "-a", "-m", "release", "rel-"+ka)
	r.git("update-ref", "refs/remotes/origin/"+kr, c)
	tagObj := r.git("rev-parse", "rel-"+ka)

	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	m := byKey(res)
	var header []scanner.Finding
	for _, f := range m[ka] {
		if f.Part == "header" {
			header = append(header, f)
		} else {
			m[ka+"name"] = append(m[ka+"name"], f)
		}
	}
	if len(header) != 1 || header[0].Object != tagObj || header[0].Tag != "rel-"+ka {
		t.Errorf("tag header: %s", describe(header))
	}
	m[ka] = m[ka+"name"]
	for _, tc := range []struct{ key, ref, obj string }{
		{kb, "refs/heads/feature-" + kb, c},
		{kt, "refs/tags/v-" + kt, c},
		{ka, "refs/tags/rel-" + ka, tagObj},
		{kr, "refs/remotes/origin/" + kr, c},
	} {
		f := one(t, m, tc.key, tc.ref)
		if f.Part != "name" || f.Path != tc.ref || f.Object != tc.obj || f.Commit != c || f.Column != len(tc.ref)-len(tc.key)+1 {
			t.Errorf("%s: %s part=%q col=%d", tc.ref, describe([]scanner.Finding{f}), f.Part, f.Column)
		}
		if !slices.Contains(f.Refs, tc.ref) {
			t.Errorf("%s: refs %v", tc.ref, f.Refs)
		}
	}
}
