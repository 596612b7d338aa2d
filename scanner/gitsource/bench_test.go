package gitsource

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// The history benchmark needs a big repository, which is built at bench time
// and never committed:
//
//	XAISCAN_BENCH_REPO=/tmp/xaiscan-bench XAISCAN_BENCH_BUILD=1 \
//	  go test -run '^$' -bench BenchmarkHistory -benchtime 3x ./scanner/gitsource/
//
// XAISCAN_BENCH_BUILD=1 builds the repository (into XAISCAN_BENCH_REPO if set
// and not yet built, else into a temporary directory); XAISCAN_BENCH_REPO alone
// reuses one built earlier. XAISCAN_BENCH_COMMITS sets the commit count
// (default 20000). Without either variable the benchmark is skipped, so the
// normal test run stays fast.

func benchRepo(b *testing.B) string {
	b.Helper()
	path := os.Getenv("XAISCAN_BENCH_REPO")
	build := os.Getenv("XAISCAN_BENCH_BUILD") == "1"
	if path == "" && !build {
		b.Skip("set XAISCAN_BENCH_REPO or XAISCAN_BENCH_BUILD=1 to run the history benchmark")
	}
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench")
	}
	if _, err := os.Stat(filepath.Join(path, "HEAD")); err == nil {
		return path
	}
	if !build {
		b.Fatalf("%s is not a built benchmark repository; set XAISCAN_BENCH_BUILD=1", path)
	}
	commits := 20000
	if s := os.Getenv("XAISCAN_BENCH_COMMITS"); s != "" {
		fmt.Sscan(s, &commits)
	}
	start := time.Now()
	if err := buildBenchRepo(path, commits); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %s (%d commits) in %s", path, commits, time.Since(start).Round(time.Second))
	return path
}

// buildBenchRepo writes a bare repository at dir whose history replays the Go
// source tree: the first commits add $GOROOT/src's .go files a few at a time,
// the rest edit one file each (a line replaced by a line of another file, a
// line inserted). It feeds `git fast-import` and then repacks like a clone
// would be packed (`git repack -adf`, then `git gc`).
func buildBenchRepo(dir string, commits int) error {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w", err)
	}
	goroot := strings.TrimSpace(string(out))
	src := filepath.Join(goroot, "src")
	var files []string
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".go") && !strings.Contains(p, "testdata") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	if err := exec.Command("git", "init", "-q", "--bare", dir).Run(); err != nil {
		return fmt.Errorf("git init: %w", err)
	}
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	rng := rand.New(rand.NewSource(1))
	content := map[string][][]byte{}
	var added []string
	when := int64(1600000000)
	next := 0
	for c := 0; c < commits; c++ {
		when += 60
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n", when)
		msg := fmt.Sprintf("commit %d", c)
		type change struct {
			path string
			data []byte
		}
		var changes []change
		if next < len(files) && (c%2 == 0 || c >= commits-1) {
			// Add a handful of files.
			for k := 0; k < 8 && next < len(files); k++ {
				p := files[next]
				next++
				b, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				rel, _ := filepath.Rel(src, p)
				rel = filepath.ToSlash(rel)
				content[rel] = bytes.SplitAfter(b, []byte("\n"))
				added = append(added, rel)
				changes = append(changes, change{rel, b})
			}
		} else if len(added) > 0 {
			// Edit one file.
			rel := added[rng.Intn(len(added))]
			other := content[added[rng.Intn(len(added))]]
			lines := content[rel]
			if len(lines) > 0 && len(other) > 0 {
				i := rng.Intn(len(lines))
				lines[i] = other[rng.Intn(len(other))]
			}
			ins := []byte(fmt.Sprintf("// edit %d\n", c))
			j := rng.Intn(len(lines) + 1)
			lines = append(lines[:j], append([][]byte{ins}, lines[j:]...)...)
			content[rel] = lines
			changes = append(changes, change{rel, bytes.Join(lines, nil)})
		}
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		for _, ch := range changes {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n", ch.path, len(ch.data))
			w.Write(ch.data)
			w.WriteString("\n")
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %w", err)
	}
	for _, args := range [][]string{{"repack", "-adf", "-q"}, {"gc", "-q"}} {
		c := exec.Command("git", append([]string{"-C", dir}, args...)...)
		c.Stderr = os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("git %s: %w", args[0], err)
		}
	}
	return nil
}

// BenchmarkHistoryFullAudit scans the whole object store of the benchmark
// repository with the real engine, and reports the time of
// `git cat-file --batch-all-objects --batch >/dev/null` on the same
// repository (the practical floor) next to it.
func BenchmarkHistoryFullAudit(b *testing.B) {
	repo := benchRepo(b)
	floor := catFileTime(b, repo)
	b.ResetTimer()
	var res scanner.Result
	var peak uint64
	for i := 0; i < b.N; i++ {
		src, err := New(repo, Options{})
		if err != nil {
			b.Fatal(err)
		}
		stop := samplePeakHeap(&peak)
		res, err = scanner.New(scanner.Options{}).Run(context.Background(), src)
		stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(res.Coverage.Blobs), "blobs")
	b.ReportMetric(float64(res.Coverage.Commits), "commits")
	b.ReportMetric(float64(res.Coverage.Bytes)/1e6, "MB-scanned")
	b.ReportMetric(floor.Seconds(), "catfile-s")
	b.ReportMetric(per.Seconds()/floor.Seconds(), "x-catfile")
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	if rss := peakRSS(); rss > 0 {
		// The whole test process's high-water mark (git runs in child
		// processes and is not included).
		b.ReportMetric(float64(rss)/1e6, "peak-rss-MB")
	}
	if len(res.Coverage.Skipped) > 0 {
		b.Logf("skipped: %v", res.Coverage.Skipped[:min(5, len(res.Coverage.Skipped))])
	}
}

// BenchmarkHistoryFullAuditWithKey is the full audit of a copy of the
// benchmark repository with one more commit that adds a key, so Finish has
// to attribute it: it diffs every commit against its parents.
func BenchmarkHistoryFullAuditWithKey(b *testing.B) {
	repo := benchRepo(b)
	dir := filepath.Join(b.TempDir(), "withkey.git")
	if out, err := exec.Command("cp", "-r", repo, dir).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v %s", err, out)
	}
	key := rulestest.APIKey()
	stream := fmt.Sprintf("commit refs/heads/main\ncommitter Bench <bench@example.com> 1900000000 +0000\ndata 4\nleak\nfrom refs/heads/main^0\nM 100644 inline leak/config.env\ndata %d\nXAI_API_KEY=%s\n\n", len(key)+13, key)
	c := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	c.Stdin = strings.NewReader(stream)
	if out, err := c.CombinedOutput(); err != nil {
		b.Fatalf("fast-import: %v %s", err, out)
	}
	b.ResetTimer()
	var res scanner.Result
	for i := 0; i < b.N; i++ {
		src, err := New(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, err = scanner.New(scanner.Options{}).Run(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if len(res.Findings) != 1 || res.Findings[0].Path != "leak/config.env" {
		b.Fatalf("want the planted key attributed once, got %d findings", len(res.Findings))
	}
}

// BenchmarkHistoryBranch is `--branch main` on the benchmark repository:
// the commit walk and a tree diff per commit, through random access reads.
func BenchmarkHistoryBranch(b *testing.B) {
	repo := benchRepo(b)
	b.ResetTimer()
	var res scanner.Result
	for i := 0; i < b.N; i++ {
		src, err := New(repo, Options{Include: []string{"main"}})
		if err != nil {
			b.Fatal(err)
		}
		res, err = scanner.New(scanner.Options{}).Run(context.Background(), src)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(res.Coverage.Blobs), "blobs")
	b.ReportMetric(float64(res.Coverage.Commits), "commits")
}

// catFileTime runs the practical floor once for warm caches, then times it.
func catFileTime(b *testing.B, repo string) time.Duration {
	b.Helper()
	var best time.Duration
	for i := 0; i < 2; i++ {
		c := exec.Command("git", "-C", repo, "cat-file", "--batch-all-objects", "--batch")
		devnull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		c.Stdout = devnull
		start := time.Now()
		if err := c.Run(); err != nil {
			b.Fatalf("git cat-file: %v", err)
		}
		devnull.Close()
		if d := time.Since(start); i == 1 || d < best {
			best = d
		}
	}
	return best
}

// peakRSS returns the process's peak resident set (VmHWM) on Linux, else 0.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}

// samplePeakHeap samples the Go heap every 20ms and keeps the largest
// in-use figure in *peak (heap in use plus stacks: a lower bound of RSS).
func samplePeakHeap(peak *uint64) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if v := ms.HeapInuse + ms.StackInuse; v > *peak {
				*peak = v
			}
			select {
			case <-t.C:
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}
