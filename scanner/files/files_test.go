package files_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	gittest.WriteFile(t, root, rel, content)
}

func scan(t *testing.T, roots []string, o files.Options) scanner.Result {
	t.Helper()
	res, err := scanner.New(scanner.Options{}).Run(context.Background(), files.New(roots, o))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func paths(res scanner.Result) string {
	var ps []string
	for _, f := range res.Findings {
		ps = append(ps, f.Path)
	}
	sort.Strings(ps)
	return strings.Join(ps, " ")
}

// Paths are slash-separated and relative to a single root; with several
// roots each keeps the root it came from.
func TestPathsAreRelativeAndSlashed(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	write(t, dir, "a/b/c.env", key)
	write(t, dir, "d.txt", key)
	if got := paths(scan(t, []string{dir}, files.Options{})); got != "a/b/c.env d.txt" {
		t.Fatalf("single root: %q", got)
	}
	old, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(old)
	if got := paths(scan(t, []string{"a", "d.txt"}, files.Options{})); got != "a/b/c.env d.txt" {
		t.Fatalf("two roots: %q", got)
	}
	res := scan(t, []string{"./a/../a/b"}, files.Options{})
	if res.Coverage.Files != 1 || paths(res) != "c.env" {
		t.Fatalf("cleaned root: %q (%d files)", paths(res), res.Coverage.Files)
	}
}

// The filter leaves out paths (and whole directories) without a skip
// record, and the note says so.
func TestFilter(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	write(t, dir, "keep/x.env", key)
	write(t, dir, "ignored/y.env", key)
	write(t, dir, "z.log", key)
	var asked []string
	res := scan(t, []string{dir}, files.Options{
		Filter: func(rel string, isDir bool) bool {
			asked = append(asked, rel)
			return rel != "ignored" && !strings.HasSuffix(rel, ".log")
		},
		FilterNote: "left out what git ignores",
	})
	if got := paths(res); got != "keep/x.env" {
		t.Fatalf("findings in %q", got)
	}
	for _, a := range asked {
		if strings.HasPrefix(a, "ignored/") {
			t.Fatalf("filter asked about %s inside a directory it excluded", a)
		}
	}
	if len(res.Coverage.Skipped) != 0 || len(res.Coverage.Notes) != 1 {
		t.Fatalf("skipped %v notes %v", res.Coverage.Skipped, res.Coverage.Notes)
	}
}

func TestMissingRootIsAnError(t *testing.T) {
	res := scan(t, []string{filepath.Join(t.TempDir(), "nope")}, files.Options{})
	if !res.Coverage.Partial() || !strings.Contains(res.Coverage.Skipped[0].Reason, "no such file") {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
}

// Symlinks: skipped with a reason by default; followed on request, with a
// loop detected rather than walked forever.
func TestSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	write(t, dir, "real/k.env", rulestest.APIKey())
	if err := os.Symlink("../real", filepath.Join(dir, "tree", "link")); err != nil {
		if err := os.MkdirAll(filepath.Join(dir, "tree"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("../real", filepath.Join(dir, "tree", "link")); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("..", filepath.Join(dir, "tree", "up")); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "tree")
	res := scan(t, []string{root}, files.Options{})
	if len(res.Findings) != 0 || len(res.Coverage.Skipped) != 2 || res.Coverage.Partial() {
		t.Fatalf("default: findings %v skipped %+v", paths(res), res.Coverage.Skipped)
	}
	res = scan(t, []string{root}, files.Options{FollowSymlinks: true})
	// The key is reachable as link/k.env and again through up/real, and
	// up/tree is the root itself: every directory is read once, the walk
	// ends, and the key is reported once.
	if got := paths(res); got != "link/k.env" {
		t.Fatalf("following: %q", got)
	}
	loop := false
	for _, s := range res.Coverage.Skipped {
		loop = loop || strings.Contains(s.Reason, "symlink loop")
	}
	if !loop {
		t.Fatalf("loop not reported: %+v", res.Coverage.Skipped)
	}
}
