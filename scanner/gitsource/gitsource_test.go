package gitsource

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// history builds the main fixture: one repository exercising each way a
// key can sit in history. It returns the keys by role and commits by name.
func history(t *testing.T) (*testRepo, map[string]string, map[string]string) {
	r := newRepo(t)
	k := map[string]string{}
	for _, n := range []string{"present", "deleted", "message", "renamed", "twopaths", "branch", "merged", "ltag", "atag", "edited"} {
		k[n] = rulestest.APIKey()
	}
	k["mgmt"] = rulestest.ManagementKey()
	c := map[string]string{}

	r.write("a.txt", "line one\nAPI_KEY="+k["present"]+"\n")
	r.write("keep/mgmt.env", "X="+k["mgmt"]+"\n")
	c["present"] = r.commit("add a")
	r.write("b.txt", "secret "+k["deleted"]+"\n")
	c["deleted"] = r.commit("add b")
	os.Remove(filepath.Join(r.dir, "b.txt"))
	c["deletedGone"] = r.commit("remove b")
	c["message"] = r.commit("subject\n\nbody mentions " + k["message"] + " by mistake")
	r.write("c.txt", "k="+k["renamed"]+"\n")
	c["renamed"] = r.commit("add c")
	os.MkdirAll(filepath.Join(r.dir, "dir"), 0o755)
	r.git("mv", "c.txt", "dir/d.txt")
	c["rename"] = r.commit("rename c to d")
	r.write("e1.txt", "k="+k["twopaths"]+"\n")
	r.write("sub/e2.txt", "again "+k["twopaths"]+"\n")
	c["twopaths"] = r.commit("two paths")
	r.write("edit.txt", "top\nk="+k["edited"]+"\n")
	c["edited"] = r.commit("add edit")
	r.write("edit.txt", "changed top\nk="+k["edited"]+"\nmore\n")
	c["editedLater"] = r.commit("edit again")

	// A branch never merged.
	r.git("checkout", "-q", "-b", "feature")
	r.write("feature.txt", "f="+k["branch"]+"\n")
	c["branch"] = r.commit("feature work")
	r.git("checkout", "-q", "main")

	// A branch merged with a merge commit.
	r.git("checkout", "-q", "-b", "topic")
	r.write("topic.txt", "t="+k["merged"]+"\n")
	c["merged"] = r.commit("topic work")
	r.git("checkout", "-q", "main")
	r.write("other.txt", "unrelated\n")
	r.commit("main moves on")
	r.git("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
	c["merge"] = r.git("rev-parse", "HEAD")
	r.git("branch", "-q", "-D", "topic")

	// Reachable only through tags.
	r.git("checkout", "-q", "-b", "tagonly")
	r.write("tagged.txt", "l="+k["ltag"]+"\n")
	c["ltag"] = r.commit("only a lightweight tag keeps this")
	r.git("tag", "light")
	r.git("tag", "-a", "v1", "-m", "release notes\nwith "+k["atag"])
	r.git("checkout", "-q", "main")
	r.git("branch", "-q", "-D", "tagonly")
	return r, k, c
}

func TestHistoryFullAudit(t *testing.T) {
	r, k, c := history(t)
	for _, mode := range []string{"loose", "packed"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "packed" {
				r.git("gc", "-q")
				if m, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack")); len(m) == 0 {
					t.Fatal("gc left no pack")
				}
			}
			res := scan(t, r.dir, Options{})
			noErrors(t, res)
			m := byKey(res)

			f := one(t, m, k["present"], "present")
			if f.Path != "a.txt" || f.Commit != c["present"] || f.Line != 2 || f.Column != 9 || !isTrue(f.AtHead) || !isTrue(f.Reachable) {
				t.Errorf("present: %s", describe([]scanner.Finding{f}))
			}
			if f.Author != "Ada" || f.Email != "ada@example.com" || !strings.HasSuffix(f.Date, "Z") || f.Source != scanner.SourceGit {
				t.Errorf("present: attribution %q %q %q %q", f.Author, f.Email, f.Date, f.Source)
			}
			f = one(t, m, k["mgmt"], "management key")
			if f.Rule != "xai-management-key" || f.Path != "keep/mgmt.env" {
				t.Errorf("mgmt: %s %s", f.Rule, describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["deleted"], "deleted later")
			if f.Path != "b.txt" || f.Commit != c["deleted"] || !isFalse(f.AtHead) || !isTrue(f.Reachable) {
				t.Errorf("deleted: %s", describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["message"], "commit message")
			if f.Path != "" || f.Commit != c["message"] || f.Line != 3 || f.Author != "Ada" || !isTrue(f.Reachable) {
				t.Errorf("message: %s", describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["renamed"], "renamed")
			if f.Path != "c.txt" || f.Commit != c["renamed"] || !isTrue(f.AtHead) {
				t.Errorf("renamed: %s", describe([]scanner.Finding{f}))
			}
			if fs := m[k["twopaths"]]; len(fs) != 2 || fs[0].Path != "e1.txt" || fs[1].Path != "sub/e2.txt" || fs[0].Commit != c["twopaths"] || fs[1].Commit != c["twopaths"] {
				t.Errorf("two paths: %s", describe(fs))
			}
			f = one(t, m, k["edited"], "edited later")
			if f.Path != "edit.txt" || f.Commit != c["edited"] || f.Line != 2 || !isTrue(f.AtHead) {
				t.Errorf("edited: %s", describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["branch"], "unmerged branch")
			if f.Path != "feature.txt" || f.Commit != c["branch"] || !isTrue(f.Reachable) || !isFalse(f.AtHead) {
				t.Errorf("branch: %s", describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["merged"], "merged")
			if f.Path != "topic.txt" || f.Commit != c["merged"] || f.Commit == c["merge"] || !isTrue(f.AtHead) {
				t.Errorf("merged: %s", describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["ltag"], "lightweight tag")
			if f.Path != "tagged.txt" || f.Commit != c["ltag"] || !isTrue(f.Reachable) {
				t.Errorf("ltag: %s", describe([]scanner.Finding{f}))
			}
			f = one(t, m, k["atag"], "annotated tag message")
			if f.Path != "" || f.Line != 2 || f.Commit != c["ltag"] || !isTrue(f.Reachable) {
				t.Errorf("atag: %s", describe([]scanner.Finding{f}))
			}
			if len(res.Findings) != 12 {
				t.Errorf("want 12 findings, got %d:%s", len(res.Findings), describe(res.Findings))
			}
			if res.Coverage.Commits < 14 || res.Coverage.Blobs < 10 {
				t.Errorf("coverage: %+v", res.Coverage)
			}
		})
	}
}

func TestHistoryUnreachable(t *testing.T) {
	r := newRepo(t)
	kBranch, kStash, kKept := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	r.write("a.txt", "hello\n")
	r.commit("init")
	r.git("checkout", "-q", "-b", "doomed")
	r.write("doomed.txt", "k="+kBranch+"\n")
	doomed := r.commit("doomed work")
	r.git("checkout", "-q", "main")
	r.git("branch", "-q", "-D", "doomed")
	// A stash that is dropped, and one that stays.
	r.write("a.txt", "hello\nk="+kStash+"\n")
	r.git("stash", "-q")
	r.git("stash", "drop", "-q")
	r.write("a.txt", "hello\nkept="+kKept+"\n")
	r.git("stash", "-q")
	r.git("reflog", "expire", "--expire=now", "--all")

	check := func(t *testing.T) {
		res := scan(t, r.dir, Options{})
		noErrors(t, res)
		m := byKey(res)
		f := one(t, m, kBranch, "deleted branch")
		if f.Path != "doomed.txt" || f.Commit != doomed || !isFalse(f.Reachable) {
			t.Errorf("deleted branch: %s", describe([]scanner.Finding{f}))
		}
		f = one(t, m, kStash, "dropped stash")
		if f.Path != "a.txt" || !isFalse(f.Reachable) {
			t.Errorf("dropped stash: %s", describe([]scanner.Finding{f}))
		}
		f = one(t, m, kKept, "kept stash")
		if f.Path != "a.txt" || !isTrue(f.Reachable) || !isFalse(f.AtHead) {
			t.Errorf("kept stash: %s", describe([]scanner.Finding{f}))
		}
	}
	t.Run("loose", check)
	// Keep unreachable objects in the pack.
	r.git("repack", "-a", "-d", "-k", "-q")
	t.Run("packed", check)
}

func TestHistoryDanglingBlob(t *testing.T) {
	r := newRepo(t)
	key := rulestest.APIKey()
	r.commit("init")
	p := filepath.Join(t.TempDir(), "blob")
	os.WriteFile(p, []byte("k="+key+"\n"), 0o644)
	blob := r.git("hash-object", "-w", p)
	res := scan(t, r.dir, Options{})
	f := one(t, byKey(res), key, "dangling blob")
	if f.Path != "" || f.Object != blob || !isFalse(f.Reachable) || f.Commit != "" {
		t.Errorf("dangling: %s", describe([]scanner.Finding{f}))
	}
}

func TestHistoryBareAndWorktree(t *testing.T) {
	r, k, c := history(t)
	bare := filepath.Join(t.TempDir(), "bare.git")
	r.gitIn(filepath.Dir(bare), "clone", "-q", "--bare", r.dir, bare)
	res := scan(t, bare, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), k["present"], "bare")
	if f.Path != "a.txt" || f.Commit != c["present"] || !isTrue(f.AtHead) {
		t.Errorf("bare: %s", describe([]scanner.Finding{f}))
	}
	if !IsRepository(bare) || !IsRepository(r.dir) || IsRepository(filepath.Join(r.dir, "keep")) || IsRepository(t.TempDir()) {
		t.Error("IsRepository")
	}

	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", wt, "feature")
	if _, err := os.Stat(filepath.Join(wt, ".git")); err != nil {
		t.Fatal(err)
	}
	res = scan(t, wt, Options{})
	noErrors(t, res)
	m := byKey(res)
	f = one(t, m, k["branch"], "worktree")
	if f.Commit != c["branch"] || !isTrue(f.AtHead) {
		// The worktree's HEAD is feature, where the key still is.
		t.Errorf("worktree: %s", describe([]scanner.Finding{f}))
	}
	one(t, m, k["present"], "worktree main key")
	if !IsRepository(wt) {
		t.Error("IsRepository(worktree)")
	}
	// A subdirectory of a work tree opens its repository.
	if _, err := New(filepath.Join(r.dir, "keep"), Options{}); err != nil {
		t.Error(err)
	}
	if _, err := New(t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("want not a git repository, got %v", err)
	}
}

func TestHistoryShallow(t *testing.T) {
	r, k, _ := history(t)
	r.git("gc", "-q")
	sh := filepath.Join(t.TempDir(), "shallow")
	r.gitIn(filepath.Dir(sh), "clone", "-q", "--depth", "1", "file://"+r.dir, sh)
	// By default the audit of a shallow clone is partial, and says how to
	// fix it; the keys present are still reported.
	res := scan(t, sh, Options{})
	if !res.Coverage.Partial() || !strings.Contains(fmt.Sprint(res.Coverage.Skipped), "git fetch --unshallow") {
		t.Errorf("want an error naming git fetch --unshallow, got %+v", res.Coverage.Skipped)
	}
	one(t, byKey(res), k["present"], "shallow, not accepted")
	res = scan(t, sh, Options{AcceptShallow: true})
	noErrors(t, res)
	if len(res.Coverage.Notes) == 0 || !strings.Contains(res.Coverage.Notes[0], "--accept-shallow") {
		t.Errorf("want a note that the cut was accepted, got %q", res.Coverage.Notes)
	}
	head := r.git("rev-parse", "HEAD")
	f := one(t, byKey(res), k["present"], "shallow")
	if f.Path != "a.txt" || f.Commit != head {
		t.Errorf("shallow: want attribution to the boundary commit: %s", describe([]scanner.Finding{f}))
	}
	if len(byKey(res)[k["deleted"]]) != 0 {
		t.Error("a key deleted before the cut cannot be in a depth-1 clone")
	}
}

func TestHistoryRangeAndBranch(t *testing.T) {
	r := newRepo(t)
	kOld, kNew, kNewMsg, kMain := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	r.write("old.txt", "k="+kOld+"\n")
	base := r.commit("base")
	r.git("checkout", "-q", "-b", "pr")
	r.write("old.txt", "edited first line\nk="+kOld+"\n") // carries an old key: not new
	r.write("new/n.txt", "k="+kNew+"\n")
	r.commit("pr work")
	r.git("mv", "old.txt", "moved.txt") // a rename of an old key: not new
	prTip := r.commit("pr message " + kNewMsg)
	r.git("checkout", "-q", "main")
	r.write("main.txt", "k="+kMain+"\n")
	r.commit("main only")

	inc, exc, err := ParseRange("main..pr")
	if err != nil || inc[0] != "pr" || exc[0] != "main" {
		t.Fatalf("ParseRange: %v %v %v", inc, exc, err)
	}
	res := scan(t, r.dir, Options{Include: inc, Exclude: exc})
	noErrors(t, res)
	m := byKey(res)
	if len(m[kOld]) != 0 || len(m[kMain]) != 0 {
		t.Errorf("range reported keys it did not introduce: %s", describe(res.Findings))
	}
	f := one(t, m, kNew, "range new key")
	if f.Path != "new/n.txt" || !isTrue(f.AtHead) || !isTrue(f.Reachable) {
		t.Errorf("range: %s", describe([]scanner.Finding{f}))
	}
	f = one(t, m, kNewMsg, "range message")
	if f.Commit != prTip || f.Line != 1 {
		t.Errorf("range message: %s", describe([]scanner.Finding{f}))
	}
	if res.Coverage.Commits != 2 {
		t.Errorf("range walked %d commits, want 2", res.Coverage.Commits)
	}

	// By hash, as CI passes them.
	res = scan(t, r.dir, Options{Include: []string{prTip}, Exclude: []string{base}})
	if len(res.Findings) != 2 {
		t.Errorf("hash range: %s", describe(res.Findings))
	}

	// --branch pr: its whole history, nothing only on main.
	res = scan(t, r.dir, Options{Include: []string{"pr"}})
	m = byKey(res)
	if len(m[kMain]) != 0 {
		t.Error("--branch pr reported a main-only key")
	}
	f = one(t, m, kOld, "branch old key")
	if f.Path != "old.txt" || f.Commit != base || !isTrue(f.AtHead) {
		t.Errorf("branch: %s", describe([]scanner.Finding{f}))
	}
	one(t, m, kNew, "branch new key")

	// A long range streams the packs past a threshold: force it, loose
	// and packed.
	defer func(v int) { streamThreshold = v }(streamThreshold)
	streamThreshold = 1
	for _, mode := range []string{"loose", "packed"} {
		if mode == "packed" {
			r.git("gc", "-q")
		}
		res = scan(t, r.dir, Options{Include: []string{"pr"}})
		noErrors(t, res)
		m = byKey(res)
		if len(m[kMain]) != 0 || len(res.Findings) != 3 {
			t.Errorf("%s: streamed --branch: %s", mode, describe(res.Findings))
		}
		if f := one(t, m, kOld, mode+" streamed old key"); f.Commit != base {
			t.Errorf("%s: streamed: %s", mode, describe([]scanner.Finding{f}))
		}
		one(t, m, kNew, mode+" streamed new key")
		if blobs, _ := countObjects(r); res.Coverage.Blobs >= blobs {
			t.Errorf("%s: --branch pr scanned %d blobs, the store has only %d", mode, res.Coverage.Blobs, blobs)
		}
	}

	if _, _, err := ParseRange("a...b"); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("A...B: %v", err)
	}
	if _, _, err := ParseRange("main"); err == nil {
		t.Error("ParseRange without ..")
	}
	// A revision that does not resolve fails New, before any scanning.
	for _, o := range []Options{
		{Include: []string{"no-such-branch"}},
		{Include: []string{"pr"}, Exclude: []string{"no-such-base"}},
		{Include: []string{"HEAD^^^^^^^^^^^^"}},
		{Include: []string{"main@{"}},
	} {
		_, err := New(r.dir, o)
		var re *RevisionError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "no-such") && !strings.Contains(err.Error(), "revision") {
			t.Errorf("%+v: want a RevisionError naming the revision, got %v", o, err)
		}
	}
}

func TestHistoryNotes(t *testing.T) {
	r := newRepo(t)
	key := rulestest.APIKey()
	r.write("a.txt", "a\n")
	r.commit("init")
	r.git("notes", "add", "-m", "note "+key)
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), key, "note")
	if !isTrue(f.Reachable) || f.Path == "" {
		t.Errorf("note: %s", describe([]scanner.Finding{f}))
	}
}

func TestHistoryMissingObject(t *testing.T) {
	r := newRepo(t)
	kLost, kKept := rulestest.APIKey(), rulestest.APIKey()
	r.write("lost.txt", "k="+kLost+"\n")
	r.write("kept.txt", "k="+kKept+"\n")
	r.commit("two files")
	lost := r.git("rev-parse", "HEAD:lost.txt")
	if err := os.Remove(filepath.Join(r.dir, ".git", "objects", lost[:2], lost[2:])); err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{}, {Include: []string{"HEAD"}}} {
		res := scan(t, r.dir, o)
		var hit *scanner.Skipped
		for i, s := range res.Coverage.Skipped {
			if s.Path == lost {
				hit = &res.Coverage.Skipped[i]
			}
		}
		if hit == nil || !hit.IsError() || !strings.Contains(hit.Reason, "missing") {
			t.Errorf("%+v: want the lost blob named in skipped, got %+v", o, res.Coverage.Skipped)
		}
		if !res.Coverage.Partial() {
			t.Error("scan should be partial")
		}
		one(t, byKey(res), kKept, "scan continues")
	}
}

func TestHistoryCorruptPack(t *testing.T) {
	for _, how := range []string{"garbled", "truncated", "badidx"} {
		t.Run(how, func(t *testing.T) {
			r := newRepo(t)
			keys := map[string]bool{}
			for i := 0; i < 30; i++ {
				k := rulestest.APIKey()
				keys[k] = true
				r.write("f.txt", strings.Repeat("filler line to make the blob larger\n", i*10)+"k="+k+"\n")
				r.commit("c")
			}
			r.git("gc", "-q")
			packs, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack"))
			if len(packs) != 1 {
				t.Fatalf("packs: %v", packs)
			}
			b, _ := os.ReadFile(packs[0])
			switch how {
			case "garbled":
				for i := len(b) / 3; i < len(b)/3+200; i++ {
					b[i] ^= 0x5a
				}
				os.WriteFile(packs[0], b, 0o644)
			case "truncated":
				os.WriteFile(packs[0], b[:len(b)/2], 0o644)
			case "badidx":
				idx := strings.TrimSuffix(packs[0], ".pack") + ".idx"
				ib, _ := os.ReadFile(idx)
				os.WriteFile(idx, ib[:len(ib)/2], 0o644)
			}
			res := scan(t, r.dir, Options{MaxSkipped: 3})
			if !res.Coverage.Partial() {
				t.Fatalf("corrupt pack not reported: %+v", res.Coverage)
			}
			if how == "truncated" {
				summary := false
				for _, s := range res.Coverage.Skipped {
					summary = summary || strings.Contains(s.Reason, "not listed one by one")
				}
				if !summary {
					t.Errorf("truncated pack: want the unreadable objects past the cap summarised: %+v", res.Coverage.Skipped)
				}
			}
			named := false
			for _, s := range res.Coverage.Skipped {
				if strings.Contains(s.Reason, ".pack") || strings.Contains(s.Path, ".pack") || strings.Contains(s.Reason, ".idx") {
					named = true
				}
			}
			if !named {
				t.Errorf("no skipped entry names the pack: %+v", res.Coverage.Skipped)
			}
			t.Logf("%d findings, skipped: %+v", len(res.Findings), res.Coverage.Skipped)
			if how == "garbled" && len(res.Findings) == 0 {
				t.Error("garbled pack: the readable objects should still be scanned")
			}
		})
	}
}

func packOf(t *testing.T, r *testRepo) string {
	m, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.idx"))
	if len(m) == 0 {
		t.Fatal("no pack")
	}
	return m[0]
}

// countObjects asks git how many blobs and commits the store holds.
func countObjects(r *testRepo) (blobs, commits int64) {
	out := r.git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype)")
	for _, l := range strings.Split(out, "\n") {
		switch l {
		case "blob":
			blobs++
		case "commit":
			commits++
		}
	}
	return
}

func TestHistoryDeltaChainsAndPacks(t *testing.T) {
	for _, ofs := range []string{"true", "false"} {
		t.Run("ofs-delta="+ofs, func(t *testing.T) { testDeltaChains(t, ofs) })
	}
}

func testDeltaChains(t *testing.T, ofs string) {
	r := newRepo(t)
	var keys, commits []string
	lines := strings.Split(strings.Repeat("a long line that makes deltas worth their while\n", 50), "\n")[:50]
	for i := 0; i < 40; i++ {
		k := rulestest.APIKey()
		keys = append(keys, k)
		// Each version edits one more line: git chains the deltas.
		lines[i] = fmt.Sprintf("edited line %d of the file", i)
		r.write("f.txt", strings.Join(lines, "\n")+"\nk="+k+"\n")
		commits = append(commits, r.commit("version"))
		if i == 19 {
			// Deep delta chains in a first pack...
			// (false: ref-deltas, whose bases are named by id.)
			r.git("-c", "repack.useDeltaBaseOffset="+ofs, "repack", "-a", "-d", "-f", "-q", "--depth=50", "--window=50")
			if out := r.git("verify-pack", "-v", packOf(t, r)); !strings.Contains(out, "chain length = 3") {
				t.Fatalf("want delta chains in the pack:\n%s", out)
			}
		}
	}
	// ...a second pack for the rest, and loose copies of packed objects.
	r.git("repack", "-d", "-q")
	last := r.git("rev-parse", "HEAD:f.txt")
	r.git("cat-file", "blob", last) // sanity
	p := filepath.Join(t.TempDir(), "dup")
	os.WriteFile(p, []byte(r.git("cat-file", "blob", last)+"\n"), 0o644)
	r.git("hash-object", "-w", p)
	if m, _ := filepath.Glob(filepath.Join(r.dir, ".git", "objects", "pack", "*.pack")); len(m) < 2 {
		t.Fatalf("want two packs, got %d", len(m))
	}
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	blobs, ncommits := countObjects(r)
	if res.Coverage.Blobs != blobs || res.Coverage.Commits != ncommits {
		t.Errorf("each object once: scanned %d blobs, %d commits; store has %d, %d", res.Coverage.Blobs, res.Coverage.Commits, blobs, ncommits)
	}
	m := byKey(res)
	for i, k := range keys {
		f := one(t, m, k, "version")
		if f.Path != "f.txt" || f.Commit != commits[i] || f.Line != 51 || isTrue(f.AtHead) != (i == len(keys)-1) {
			t.Errorf("version %d: %s", i, describe([]scanner.Finding{f}))
		}
	}
}

func TestHistoryEmptyAndRemoteRefs(t *testing.T) {
	r := newRepo(t)
	res := scan(t, r.dir, Options{})
	if len(res.Findings) != 0 || res.Coverage.Partial() {
		t.Errorf("empty repository: %+v", res)
	}
	key := rulestest.APIKey()
	r.write("a.txt", "a\n")
	r.commit("init")
	r.git("checkout", "-q", "-b", "remote-only")
	r.write("r.txt", "k="+key+"\n")
	r.commit("pushed elsewhere")
	r.git("checkout", "-q", "main")
	clone := filepath.Join(t.TempDir(), "clone")
	r.gitIn(filepath.Dir(clone), "clone", "-q", r.dir, clone)
	// In the clone the commit is reachable only from refs/remotes/origin/remote-only.
	res = scan(t, clone, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), key, "remote-tracking")
	if !isTrue(f.Reachable) || f.Path != "r.txt" {
		t.Errorf("remote-tracking: %s", describe([]scanner.Finding{f}))
	}
}

func TestHistoryPartialClone(t *testing.T) {
	r, k, _ := history(t)
	r.git("config", "uploadpack.allowFilter", "true")
	pc := filepath.Join(t.TempDir(), "partial")
	r.gitIn(filepath.Dir(pc), "clone", "-q", "--no-checkout", "--filter=blob:none", "file://"+r.dir, pc)
	res := scan(t, pc, Options{})
	if !res.Coverage.Partial() {
		t.Fatal("a partial clone's missing blobs must make the scan partial")
	}
	partial := 0
	for _, s := range res.Coverage.Skipped {
		if strings.Contains(s.Reason, "partial clone") && len(s.Path) == 40 {
			partial++
		}
	}
	if partial == 0 {
		t.Errorf("want missing blobs named, got %+v", res.Coverage.Skipped)
	}
	// Commit messages are still there.
	one(t, byKey(res), k["message"], "partial clone message")
}

func TestHistoryCancelled(t *testing.T) {
	r, _, _ := history(t)
	src, err := New(r.dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := scanner.New(scanner.Options{}).Run(ctx, src)
	if err != nil || !res.Interrupted {
		t.Errorf("cancelled scan: err=%v interrupted=%v", err, res.Interrupted)
	}
}

func TestHistoryLargeBlob(t *testing.T) {
	r := newRepo(t)
	key := rulestest.APIKey()
	var b strings.Builder
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, "line %d of a large generated file %x\n", i, i*7919)
	}
	body := b.String()
	r.write("big.txt", body+"k="+key+"\n")
	c1 := r.commit("big")
	r.git("gc", "-q")
	res := scan(t, r.dir, Options{})
	noErrors(t, res)
	f := one(t, byKey(res), key, "large blob")
	if f.Commit != c1 || f.Line != strings.Count(body, "\n")+1 || f.Column != 3 {
		t.Errorf("large blob: line %d col %d: %s", f.Line, f.Column, describe([]scanner.Finding{f}))
	}
}

func TestHistorySubmoduleGitFile(t *testing.T) {
	inner := newRepo(t)
	key := rulestest.APIKey()
	inner.write("s.txt", "k="+key+"\n")
	innerCommit := inner.commit("inner")
	outer := newRepo(t)
	outer.write("a.txt", "a\n")
	outer.commit("init")
	outer.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", inner.dir, "sub")
	outer.commit("add submodule")
	sub := filepath.Join(outer.dir, "sub")
	if fi, err := os.Stat(filepath.Join(sub, ".git")); err != nil || fi.IsDir() {
		t.Fatalf("want sub/.git to be a file: %v", err)
	}
	// The outer repository holds only a gitlink: no key.
	if res := scan(t, outer.dir, Options{}); len(res.Findings) != 0 || res.Coverage.Partial() {
		t.Errorf("outer: %s %+v", describe(res.Findings), res.Coverage.Skipped)
	}
	// The submodule's own history, through its .git file.
	res := scan(t, sub, Options{})
	noErrors(t, res)
	if f := one(t, byKey(res), key, "submodule"); f.Commit != innerCommit || f.Path != "s.txt" {
		t.Errorf("submodule: %s", describe([]scanner.Finding{f}))
	}
	if !IsRepository(sub) {
		t.Error("IsRepository(submodule)")
	}
}

// Pushing an annotated tag publishes its message: a range that names the
// tag scans the message even when the tagged commit is already excluded.
func TestHistoryRangeTagMessage(t *testing.T) {
	r := newRepo(t)
	k := rulestest.APIKey()
	tip := r.commit("clean")
	r.git("tag", "-a", "v1", "-m", "release notes\nkey "+k)
	tagObj := r.git("rev-parse", "v1")
	for _, rev := range []string{"v1", "refs/tags/v1", tagObj} {
		res := scan(t, r.dir, Options{Include: []string{rev}, Exclude: []string{"main"}})
		noErrors(t, res)
		f := one(t, byKey(res), k, "tag message via "+rev)
		if f.Commit != tip || f.Path != "" || f.Line != 2 || !isTrue(f.Reachable) {
			t.Errorf("%s: %s", rev, describe([]scanner.Finding{f}))
		}
	}
	// A range naming only the branch does not read the tag.
	res := scan(t, r.dir, Options{Include: []string{"main"}})
	if len(byKey(res)[k]) != 0 {
		t.Errorf("--branch main read a tag message: %s", describe(res.Findings))
	}
}
