package gitsource

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/archive"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// gitEnv runs git in the repository with extra environment (an author
// name, say) on top of the fixture's.
func (r *testRepo) gitEnv(extra []string, args ...string) string {
	r.t.Helper()
	return gittest.Must(r.t, r.dir, append(r.env(), extra...), args...)
}

// A key in an annotated tag's message is the tag's: named, with the tag
// object's id, the message line, and the refs that reach the tag.
func TestAttribTagMessage(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	tip := r.commit("clean")
	r.git("tag", "-a", "v1.2", "-m", "release notes\nkey "+k)
	tagObj := r.git("rev-parse", "v1.2")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), k, "tag message")
	if f.Tag != "v1.2" || f.Object != tagObj || f.Part != "message" || f.Line != 2 || f.Commit != tip || f.Path != "" {
		t.Errorf("tag finding: tag=%q object=%q part=%q line=%d commit=%q", f.Tag, f.Object, f.Part, f.Line, f.Commit)
	}
	if !reflect.DeepEqual(f.Refs, []string{"refs/tags/v1.2"}) || !isTrue(f.Reachable) {
		t.Errorf("tag refs %v reachable %v", f.Refs, f.Reachable)
	}
}

// Keys in commit and tag headers (author, committer, tagger) are found,
// with part "author"; a commit message's key has part "message" and the
// message's line.
func TestAttribHeaders(t *testing.T) {
	r := newRepo(t)
	ka, kc, kt, km := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	r.git("commit", "-q", "--allow-empty", "-m", "subject\n\nbody\nkey "+km)
	r.gitEnv([]string{"GIT_AUTHOR_NAME=Ada " + ka, "GIT_COMMITTER_NAME=Bob " + kc}, "commit", "-q", "--allow-empty", "-m", "headers")
	c := r.git("rev-parse", "HEAD")
	r.gitEnv([]string{"GIT_COMMITTER_NAME=Cy " + kt}, "tag", "-a", "t1", "-m", "plain")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	m := byKey(res)
	for _, k := range []string{ka, kc} {
		f := one(t, m, k, "commit header")
		if f.Part != "author" || f.Commit != c || f.Object != c || f.Path != "" {
			t.Errorf("commit header: part=%q commit=%q object=%q", f.Part, f.Commit, f.Object)
		}
	}
	if f := one(t, m, kt, "tagger"); f.Part != "author" || f.Tag != "t1" {
		t.Errorf("tagger: part=%q tag=%q", f.Part, f.Tag)
	}
	if f := one(t, m, km, "message"); f.Part != "message" || f.Line != 4 {
		t.Errorf("message: part=%q line=%d", f.Part, f.Line)
	}
}

// An unreachable blob carries its object id; a lightweight tag naming a
// blob makes it reachable through that tag; one naming a tree gives it a
// path too.
func TestAttribBlobObjects(t *testing.T) {
	r := newRepo(t)
	r.commit("clean")
	kd, kb, kt := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	dangling := hashObject(r, "k="+kd+"\n")
	tagged := hashObject(r, "k="+kb+"\n")
	r.git("tag", "blobtag", tagged)
	inTree := hashObject(r, "k="+kt+"\n")
	tree := mktreeAt(r, "100644 blob "+inTree+"\tconf/app.env\n")
	r.git("tag", "treetag", tree)
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	m := byKey(res)
	if f := one(t, m, kd, "dangling"); f.Object != dangling || !isFalse(f.Reachable) || len(f.Refs) != 0 {
		t.Errorf("dangling: %s refs=%v", describe([]scanner.Finding{f}), f.Refs)
	}
	if f := one(t, m, kb, "blob tag"); f.Object != tagged || !isTrue(f.Reachable) || !reflect.DeepEqual(f.Refs, []string{"refs/tags/blobtag"}) {
		t.Errorf("blob tag: %s refs=%v", describe([]scanner.Finding{f}), f.Refs)
	}
	if f := one(t, m, kt, "tree tag"); f.Path != "app.env" && f.Path != "conf/app.env" || !isTrue(f.Reachable) || !reflect.DeepEqual(f.Refs, []string{"refs/tags/treetag"}) {
		t.Errorf("tree tag: %s refs=%v", describe([]scanner.Finding{f}), f.Refs)
	}
}

func hashObject(r *testRepo, content string) string {
	r.t.Helper()
	out, err := gittest.Run(r.dir, r.env(), content, "hash-object", "-w", "--stdin")
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func mktreeAt(r *testRepo, spec string) string {
	r.t.Helper()
	// mktree takes one level; build conf/ first.
	line := strings.TrimSuffix(spec, "\n")
	mode, name, _ := strings.Cut(line, "\t")
	dir, base := filepath.Split(name)
	sub, err := gittest.Run(r.dir, r.env(), mode+"\t"+base+"\n", "mktree")
	if err != nil {
		r.t.Fatal(err)
	}
	if dir == "" {
		return strings.TrimSpace(sub)
	}
	top, err := gittest.Run(r.dir, r.env(), "040000 tree "+strings.TrimSpace(sub)+"\t"+strings.TrimSuffix(dir, "/")+"\n", "mktree")
	if err != nil {
		r.t.Fatal(err)
	}
	return strings.TrimSpace(top)
}

// A commit that only the reflog holds (after a reset) is reported with the
// reflog entries that hold it, not as plainly unreachable.
func TestAttribReflogOnly(t *testing.T) {
	r := newRepo(t)
	r.commit("base")
	k := rulestest.APIKey()
	r.write("s.env", "k="+k+"\n")
	c := r.commit("oops")
	r.git("reset", "-q", "--hard", "HEAD~1")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), k, "reflog")
	if f.Commit != c || !isFalse(f.Reachable) {
		t.Fatalf("reflog: %s", describe([]scanner.Finding{f}))
	}
	want := []string{"HEAD@{1}", "refs/heads/main@{1}"}
	if !reflect.DeepEqual(f.Refs, want) {
		t.Errorf("reflog refs = %v, want %v", f.Refs, want)
	}
}

// A note's key is reached through refs/notes/commits and is at the notes
// ref's tip, not "removed since".
func TestAttribNotes(t *testing.T) {
	r := newRepo(t)
	c := r.commit("base")
	k := rulestest.APIKey()
	r.git("notes", "add", "-m", "deploy with "+k, c)
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), k, "note")
	if !reflect.DeepEqual(f.Refs, []string{"refs/notes/commits"}) || !isTrue(f.AtHead) || !isTrue(f.Reachable) {
		t.Errorf("note: %s refs=%v", describe([]scanner.Finding{f}), f.Refs)
	}
}

// A gzip blob's member is named as a directory scan names the same file.
func TestAttribGzipMemberName(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b) // no Name in the header, like gzip -n
	zw.Write([]byte("XAI_API_KEY=" + k + "\n"))
	zw.Close()
	if err := os.MkdirAll(filepath.Join(r.dir, "backup"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "backup", "env.gz"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r.commit("backup")
	eo := scanner.Options{Workers: 2, Decoders: []scanner.Decoder{archive.New(archive.Options{MaxDepth: 3})}}
	src, err := New(r.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hres, err := scanner.New(eo).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	hist := one(t, byKey(hres), k, "history")
	dres, err := scanner.New(eo).Run(context.Background(), files.New([]string{r.dir}, files.Options{Filter: func(rel string, _ bool) bool { return rel != ".git" }}))
	if err != nil {
		t.Fatal(err)
	}
	dir := one(t, byKey(dres), k, "directory")
	if hist.Path != "backup/env.gz!env" || dir.Path != hist.Path {
		t.Errorf("history names %q, directory scan %q; want both backup/env.gz!env", hist.Path, dir.Path)
	}
}

// The same key twice in one committed file: both occurrences reported.
func TestAttribEveryOccurrence(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	r.write("a.env", "A="+k+"\nother\nB="+k+"\n")
	r.commit("two")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	fs := byKey(res)[k]
	if len(fs) != 2 || fs[0].Line == fs[1].Line || fs[0].Path != "a.env" || fs[1].Path != "a.env" {
		t.Fatalf("want 2 occurrences on different lines: %s", describe(fs))
	}
}

// Attribution that rests on a missing parent commit says so.
func TestAttribUncertain(t *testing.T) {
	r := newRepo(t)
	r.commit("root")
	k := rulestest.APIKey()
	r.write("a.env", "A="+k+"\n")
	intro := r.commit("introduces")
	r.write("b.txt", "more\n")
	r.commit("child")
	// The introducing commit's object is lost (a damaged store).
	os.Remove(filepath.Join(r.dir, ".git", "objects", intro[:2], intro[2:]))
	res := scan(t, r.dir, Options{})
	if !res.Coverage.Partial() {
		t.Fatal("a missing commit must make the scan partial")
	}
	f := one(t, byKey(res), k, "uncertain")
	if !strings.HasPrefix(f.Attribution, "uncertain: ") || !strings.Contains(f.Attribution, "missing") {
		t.Errorf("attribution = %q (%s)", f.Attribution, describe([]scanner.Finding{f}))
	}
	// A healthy history says nothing.
	r2 := newRepo(t)
	r2.write("a.env", "A="+k+"\n")
	r2.commit("c")
	if f := one(t, byKey(scan(t, r2.dir, Options{})), k, "healthy"); f.Attribution != "" {
		t.Errorf("healthy: attribution = %q", f.Attribution)
	}
}

// Exposure: every ref from which the introducing commit is reachable.
func TestAttribExposureRefs(t *testing.T) {
	r := newRepo(t)
	k, ks := rulestest.APIKey(), rulestest.APIKey()
	r.write("a.env", "A="+k+"\n")
	c := r.commit("key")
	r.commit("later")
	r.git("branch", "feature", c)
	r.git("tag", "v1", c)
	r.git("update-ref", "refs/remotes/origin/main", "main")
	r.git("update-ref", "refs/pull/7/head", c)
	r.git("checkout", "-q", "-b", "other", c+"~0")
	r.write("s.env", "S="+ks+"\n")
	r.git("stash", "push", "-q", "-u")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	m := byKey(res)
	f := one(t, m, k, "exposed")
	want := []string{"refs/heads/feature", "refs/heads/main", "refs/heads/other", "refs/pull/7/head", "refs/remotes/origin/main", "refs/stash", "refs/tags/v1"}
	if !reflect.DeepEqual(f.Refs, want) {
		t.Errorf("refs = %v\nwant   %v", f.Refs, want)
	}
	for _, g := range m[ks] {
		// stash@{0} is refs/stash: listed once.
		if !reflect.DeepEqual(g.Refs, []string{"refs/stash"}) {
			t.Errorf("stash key refs = %v", g.Refs)
		}
	}
}

// The stash list: the newest stash is refs/stash (not also stash@{0});
// an older one is exposed only by its stash@{N}.
func TestAttribExposureStashList(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("base")
	old, newer := rulestest.APIKey(), rulestest.APIKey()
	r.write("s.env", "S="+old+"\n")
	r.git("stash", "push", "-q", "-u")
	r.write("t.env", "T="+newer+"\n")
	r.git("stash", "push", "-q", "-u")
	m := byKey(scan(t, r.dir, Options{}))
	if g := one(t, m, newer, "newest stash"); !reflect.DeepEqual(g.Refs, []string{"refs/stash"}) {
		t.Errorf("newest stash refs = %v", g.Refs)
	}
	if g := one(t, m, old, "older stash"); !reflect.DeepEqual(g.Refs, []string{"stash@{1}"}) {
		t.Errorf("older stash refs = %v", g.Refs)
	}
}
