package gitsource

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWorktreeFilter(t *testing.T) {
	r := newRepo(t)
	t.Setenv("HOME", r.home) // only this test's user-level excludes file
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(r.home, ".config"))
	os.MkdirAll(filepath.Join(r.home, ".config", "git"), 0o755)
	os.WriteFile(filepath.Join(r.home, ".config", "git", "ignore"), []byte("*.swp\n"), 0o644)
	r.write(".gitignore", "*.env\nbuild/\n")
	r.write("tracked.env", "tracked although ignored\n")
	r.git("add", "-f", "tracked.env")
	r.write("src/.gitignore", "local.txt\n")
	r.write("src/main.go", "package main\n")
	r.write("build/gen/tracked.go", "package gen\n")
	r.git("add", "-f", "build/gen/tracked.go")
	r.commit("init")
	r.write("secret.env", "ignored\n")
	r.write("notes.txt", "untracked, not ignored\n")
	r.write("src/local.txt", "ignored by the nested .gitignore\n")
	r.write("src/other.txt", "untracked, not ignored\n")
	r.write("build/out.bin", "ignored directory\n")
	r.write("build/gen/new.go", "untracked in an ignored directory\n")
	r.write("excluded.log", "ignored by info/exclude\n")
	os.MkdirAll(filepath.Join(r.dir, ".git", "info"), 0o755)
	os.WriteFile(filepath.Join(r.dir, ".git", "info", "exclude"), []byte("# comment\n*.log\n"), 0o644)

	keep, err := WorktreeFilter(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		rel   string
		dir   bool
		want  bool
		label string
	}{
		{"tracked.env", false, true, "tracked but ignored"},
		{"secret.env", false, false, "ignored"},
		{"notes.txt", false, true, "untracked, not ignored"},
		{"src", true, true, "directory"},
		{"src/main.go", false, true, "tracked"},
		{"src/local.txt", false, false, "nested .gitignore"},
		{"src/other.txt", false, true, "untracked in a subdirectory"},
		{"build", true, true, "ignored directory holding tracked files"},
		{"build/out.bin", false, false, "in an ignored directory"},
		{"build/gen/tracked.go", false, true, "tracked in an ignored directory"},
		{"build/gen/new.go", false, false, "untracked in an ignored directory"},
		{"excluded.log", false, false, "info/exclude"},
		{"src/.main.go.swp", false, false, "the user's excludes file"},
		{".git", true, false, "the git directory"},
		{".git/config", false, false, "inside the git directory"},
	}
	for _, c := range cases {
		if got := keep(c.rel, c.dir); got != c.want {
			t.Errorf("%s (%s): got %v, want %v", c.rel, c.label, got, c.want)
		}
	}
	if _, err := WorktreeFilter(t.TempDir()); err == nil {
		t.Error("want an error outside a repository")
	}
}
