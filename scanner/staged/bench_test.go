package staged

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// buildLargeRepo makes a repository with n tracked files in nested
// directories, committed with git fast-import, and an index read from HEAD
// (no checkout: the staged scan never reads the working tree).
func buildLargeRepo(b testing.TB, n int) *repo {
	r := newRepo(b)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("file %d\n%s\n", i, strings.Repeat("some ordinary configuration text\n", 8))
		fmt.Fprintf(&sb, "blob\nmark :%d\ndata %d\n%s\n", i+1, len(body), body)
	}
	fmt.Fprintf(&sb, "commit refs/heads/main\ncommitter t <t@e> 1700000000 +0000\ndata 4\ninit\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "M 100644 :%d %s\n", i+1, largePath(i))
	}
	sb.WriteString("\n")
	if out, err := gitIn(r.dir, sb.String(), "fast-import", "--quiet"); err != nil {
		b.Fatalf("fast-import: %v\n%s", err, out)
	}
	r.git("read-tree", "HEAD")
	return r
}

// largePath spreads files over 20 top-level directories of 10
// subdirectories each, 50 files a leaf directory for 10k files.
func largePath(i int) string {
	return fmt.Sprintf("pkg%02d/sub%d/file%05d.txt", i%20, (i/20)%10, i)
}

// BenchmarkStaged10k measures "xaiscan staged" on a 10,000-file repository
// with a 5-file change (one new file holding a key, four edits).
func BenchmarkStaged10k(b *testing.B) { benchStaged(b, false) }

// BenchmarkStaged10kNoCacheTree is the worst case: an index whose cache
// tree is missing or fully invalidated, so every HEAD tree is read.
func BenchmarkStaged10kNoCacheTree(b *testing.B) { benchStaged(b, true) }

func benchStaged(b *testing.B, noCacheTree bool) {
	r := buildLargeRepo(b, 10000)
	r.write("pkg03/new.env", "K="+rulestest.APIKey()+"\n")
	for i := 0; i < 4; i++ {
		r.write(largePath(i*997), "edited\n")
	}
	r.git("add", "pkg03/new.env", largePath(0), largePath(997), largePath(2*997), largePath(3*997))
	eng := scanner.New(scanner.Options{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := New(r.dir)
		if err != nil {
			b.Fatal(err)
		}
		src.noCacheTree = noCacheTree
		res, err := eng.Run(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) != 1 || res.Coverage.Files != 5 {
			b.Fatalf("findings=%d files=%d", len(res.Findings), res.Coverage.Files)
		}
	}
}

// BenchmarkStagedAllFiles10k measures the pre-commit framework's
// "pre-commit run --all-files" on a 10,000-file repository: every tracked
// file is named, so every staged blob is read and scanned.
func BenchmarkStagedAllFiles10k(b *testing.B) {
	r := buildLargeRepo(b, 10000)
	paths := make([]string, 10000)
	for i := range paths {
		paths[i] = largePath(i)
	}
	eng := scanner.New(scanner.Options{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		src, err := New(r.dir)
		if err != nil {
			b.Fatal(err)
		}
		src.Paths = paths
		res, err := eng.Run(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Findings) != 0 || res.Coverage.Files != 10000 {
			b.Fatalf("findings=%d files=%d", len(res.Findings), res.Coverage.Files)
		}
	}
}
