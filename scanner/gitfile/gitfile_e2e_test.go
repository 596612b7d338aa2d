// End-to-end tests through the recursive engine.

package gitfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/gitsource"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

func engineRun(t *testing.T, src scanner.Source, budget int64) scanner.Result {
	t.Helper()
	e := scanner.New(scanner.Options{Decoders: []scanner.Decoder{Decoder{}}, MaxDecodedBytes: budget})
	res, err := e.Run(context.Background(), src)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

func findingOf(res scanner.Result, key string) (scanner.Finding, bool) {
	for _, f := range res.Findings {
		if f.Key == key {
			return f, true
		}
	}
	return scanner.Finding{}, false
}

func writeTree(t *testing.T, root, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEngineBundleInTree: a bundle lying in a tree: the key only in a
// delta is found, named by the bundle and the object, encoded git-bundle,
// and the scan is complete.
func TestEngineBundleInTree(t *testing.T) {
	dir, key, id := deltaRepo(t)
	gittest.Must(t, dir, nil, "bundle", "create", "-q", "repo.bundle", "--all")
	data, err := os.ReadFile(filepath.Join(dir, "repo.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeTree(t, root, "backup/repo.bundle", data)
	res := engineRun(t, files.New([]string{root}, files.Options{}), 0)
	f, ok := findingOf(res, key)
	if !ok {
		t.Fatalf("key not found; findings %v", res.Findings)
	}
	if !strings.HasSuffix(f.Path, "backup/repo.bundle!"+id) || f.Encoding != EncodingBundle {
		t.Errorf("finding at %q encoding %q, want …backup/repo.bundle!%s, %s", f.Path, f.Encoding, id, EncodingBundle)
	}
	if res.Coverage.Partial() {
		t.Errorf("healthy bundle made the scan partial: %v", res.Coverage.Skipped)
	}
}

// TestEngineThinAndTruncatedAreNotes: a thin pack and a cut pack are
// notes, never a partial scan; what they hold is still found.
func TestEngineThinAndTruncatedAreNotes(t *testing.T) {
	dir, key, _ := deltaRepo(t)
	thin := gitOut(t, dir, "HEAD\n^HEAD~1\n", "pack-objects", "-q", "--stdout", "--revs", "--thin")
	full := gitOut(t, dir, "HEAD\n", "pack-objects", "-q", "--stdout", "--revs")
	root := t.TempDir()
	writeTree(t, root, "thin.pack", thin)
	writeTree(t, root, "cut.pack", full[:len(full)-30])
	res := engineRun(t, files.New([]string{root}, files.Options{}), 0)
	if _, ok := findingOf(res, key); !ok {
		t.Fatalf("key not found; findings %v", res.Findings)
	}
	if res.Coverage.Partial() {
		t.Errorf("thin or cut pack made the scan partial: %v", res.Coverage.Skipped)
	}
	notes := 0
	for _, s := range res.Coverage.Skipped {
		if s.Kind == scanner.KindNote {
			notes++
		}
	}
	if notes < 2 {
		t.Errorf("want a note for each pack, got %v", res.Coverage.Skipped)
	}
}

// TestEngineDeltaBombBudget: a pack of deltas that rebuild a large object
// again and again is stopped by the decoded-bytes budget: an error.
func TestEngineDeltaBombBudget(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, "bomb.pack", bombPack(1<<20))
	res := engineRun(t, files.New([]string{root}, files.Options{}), 16<<20)
	if !res.Coverage.Partial() {
		t.Errorf("delta bomb did not spend the budget: %v", res.Coverage.Skipped)
	}
}

// TestEngineBundleInHistory: a bundle committed to a repository is opened
// when the history is scanned.
func TestEngineBundleInHistory(t *testing.T) {
	dir, key, _ := deltaRepo(t)
	gittest.Must(t, dir, nil, "bundle", "create", "-q", "repo.bundle", "--all")
	data, err := os.ReadFile(filepath.Join(dir, "repo.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	outer := newRepo(t)
	writeTree(t, outer, "backups/repo.bundle", data)
	gittest.Must(t, outer, nil, "add", "-A")
	gittest.Must(t, outer, nil, "commit", "-q", "-m", "backup")
	src, err := gitsource.New(outer, gitsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := engineRun(t, src, 0)
	f, ok := findingOf(res, key)
	if !ok {
		t.Fatalf("key not found; findings %v", res.Findings)
	}
	if !strings.HasPrefix(f.Path, "backups/repo.bundle!") || f.Commit == "" {
		t.Errorf("finding at %q commit %q, want under backups/repo.bundle! with its commit", f.Path, f.Commit)
	}
}
