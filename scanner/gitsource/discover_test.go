package gitsource

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// env is a getenv over a fixed set of variables.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDiscover(t *testing.T) {
	r := newRepo(t)
	r.write("src/deep/x.txt", "x\n")
	r.commit("init")
	gitDir := filepath.Join(r.dir, ".git")
	wt := filepath.Join(t.TempDir(), "wt")
	r.git("worktree", "add", "-q", "-b", "wtb", wt)
	bare := filepath.Join(t.TempDir(), "bare.git")
	r.gitIn(filepath.Dir(bare), "clone", "-q", "--bare", r.dir, bare)
	plain := t.TempDir()
	brokenDir := t.TempDir()
	os.WriteFile(filepath.Join(brokenDir, ".git"), []byte("gitdir: /nowhere/at/all\n"), 0o644)

	cases := []struct {
		name        string
		start       string
		getenv      func(string) string
		gitDir, top string
		inside      bool
	}{
		{"top", r.dir, nil, gitDir, r.dir, false},
		{"subdirectory", filepath.Join(r.dir, "src", "deep"), nil, gitDir, r.dir, true},
		{"a file", filepath.Join(r.dir, "src", "deep", "x.txt"), nil, gitDir, r.dir, true},
		{"inside .git", filepath.Join(gitDir, "refs"), nil, gitDir, r.dir, true},
		{"linked worktree", wt, nil, filepath.Join(gitDir, "worktrees", "wt"), wt, false},
		{"bare", bare, nil, bare, "", false},
		{"bare, below", filepath.Join(bare, "refs", "heads"), nil, bare, "", true},
		{"GIT_DIR and GIT_WORK_TREE, relative to the start", plain, env("GIT_DIR", mustRel(t, plain, gitDir), "GIT_WORK_TREE", mustRel(t, plain, r.dir)), gitDir, r.dir, false},
		{"GIT_DIR alone: the start is the top", plain, env("GIT_DIR", gitDir), gitDir, plain, false},
		{"GIT_DIR of a bare repository", plain, env("GIT_DIR", bare), bare, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			loc, err := Discover(c.start, c.getenv)
			if err != nil {
				t.Fatal(err)
			}
			if loc.GitDir != c.gitDir || loc.WorkTree != c.top || loc.Inside() != c.inside {
				t.Errorf("got git dir %s, work tree %q, inside %v", loc.GitDir, loc.WorkTree, loc.Inside())
			}
			if c.name == "linked worktree" && loc.CommonDir != gitDir {
				t.Errorf("common dir %s", loc.CommonDir)
			}
		})
	}

	if _, err := Discover(plain, nil); !errors.Is(err, ErrNotRepository) {
		t.Errorf("plain directory: %v", err)
	}
	if _, err := Discover(brokenDir, nil); err == nil || errors.Is(err, ErrNotRepository) {
		t.Errorf("a .git file naming nothing is a broken repository, not none: %v", err)
	}
	if _, err := Discover(plain, env("GIT_DIR", brokenDir)); err == nil {
		t.Error("GIT_DIR naming no repository")
	}
	// The walk up does not enter a ceiling directory.
	sub := filepath.Join(r.dir, "src")
	if _, err := Discover(filepath.Join(sub, "deep"), env("GIT_CEILING_DIRECTORIES", "relative/ignored"+string(filepath.ListSeparator)+r.dir)); !errors.Is(err, ErrNotRepository) {
		t.Errorf("ceiling: %v", err)
	}
	if loc, err := Discover(sub, env("GIT_CEILING_DIRECTORIES", filepath.Dir(r.dir))); err != nil || loc.WorkTree != r.dir {
		t.Errorf("a ceiling above the repository: %+v %v", loc, err)
	}
}

func mustRel(t *testing.T, base, target string) string {
	t.Helper()
	rel, err := filepath.Rel(base, target)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// A path that does not exist inside a repository is an error naming it,
// never the enclosing repository (a mistyped REPO would be audited as the
// wrong one, under the mistyped name).
func TestDiscoverMissingPathInsideRepository(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "a\n")
	r.commit("init")
	missing := filepath.Join(r.dir, "no", "such", "repo")
	loc, err := Discover(missing, env())
	if err == nil {
		t.Fatalf("Discover(%s) = %+v, want an error", missing, loc)
	}
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("error = %v, want one naming %s as missing", err, missing)
	}
}
