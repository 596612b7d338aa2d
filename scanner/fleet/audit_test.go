package fleet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gitsource"
	"github.com/xaiscan/xaiscan/scanner/gittest"
	"github.com/xaiscan/xaiscan/scanner/remote"
	"github.com/xaiscan/xaiscan/scanner/remote/remotetest"
)

func TestMain(m *testing.M) {
	gittest.Isolate()
	os.Exit(m.Run())
}

func openHistory(dir string) (scanner.Source, error) { return gitsource.New(dir, gitsource.Options{}) }

func cloneWith(o remote.Options) func(context.Context, remote.Endpoint, string) error {
	return func(ctx context.Context, e remote.Endpoint, dir string) error { return remote.Clone(ctx, e, dir, o) }
}

func mustRepo(t *testing.T, spec string) Repo {
	t.Helper()
	r, err := ParseRepo(spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

// TestAuditAcrossRepositories: remote and local repositories in one
// result; a key in two repositories is one fingerprint with a location in
// each; a repository that cannot be cloned is an error of its own while
// the others are reported; no clone is left behind.
func TestAuditAcrossRepositories(t *testing.T) {
	root := t.TempDir()
	shared := rulestest.APIKey()
	first := true
	sharedFirst := func() string {
		if first {
			first = false
			return shared
		}
		return rulestest.APIKey()
	}
	ka := remotetest.MakeRepo(t, root, "a.git", 2, sharedFirst)
	first = true
	kb := remotetest.MakeRepo(t, root, "b.git", 0, sharedFirst)
	kLocal := remotetest.MakeRepo(t, root, "local.git", 0, rulestest.APIKey)
	srv := remotetest.New(t, root, remotetest.Options{})
	tmp := t.TempDir()

	repos := Select([]Repo{
		mustRepo(t, srv.URL+"/b.git"), mustRepo(t, srv.URL+"/a.git"),
		mustRepo(t, srv.URL+"/missing.git"), mustRepo(t, filepath.Join(root, "local.git")),
	}, Shard{})
	var started []string
	res := Audit(context.Background(), scanner.New(scanner.Options{Workers: 2}), repos, Options{
		TempDir: tmp, Open: openHistory, Clone: cloneWith(remote.Options{}),
		Started: func(i, n int, r Repo) { started = append(started, r.Label) },
	})
	if len(started) != 4 {
		t.Errorf("started %v, want all 4 repositories", started)
	}
	if left := entries(t, tmp); len(left) != 0 {
		t.Errorf("clones left behind: %v", left)
	}
	byRepo := map[string]map[string]bool{}
	for _, f := range res.Findings {
		if f.Repository == "" {
			t.Errorf("finding without a repository: %+v", f)
		}
		if byRepo[f.Repository] == nil {
			byRepo[f.Repository] = map[string]bool{}
		}
		byRepo[f.Repository][f.Key] = true
	}
	localLabel := filepath.ToSlash(filepath.Join(root, "local.git"))
	for label, keys := range map[string]remotetest.Keys{srv.URL + "/a.git": ka, srv.URL + "/b.git": kb, localLabel: kLocal} {
		for _, k := range keys.All() {
			if !byRepo[label][k] {
				t.Errorf("%s: key %s not reported", label, rules.Redact(k))
			}
		}
	}
	if !byRepo[srv.URL+"/a.git"][shared] || !byRepo[srv.URL+"/b.git"][shared] {
		t.Error("the shared key is not reported in both repositories")
	}
	var errs []scanner.Skipped
	for _, s := range res.Coverage.Skipped {
		if s.IsError() {
			errs = append(errs, s)
		}
	}
	if len(errs) != 1 || errs[0].Path != srv.URL+"/missing.git" || !strings.Contains(errs[0].Reason, "could not clone") {
		t.Errorf("coverage errors %+v, want one for missing.git", errs)
	}
	if !res.Coverage.Partial() || res.Interrupted {
		t.Error("the audit of a fleet with an unclonable repository must be partial, not interrupted")
	}
	for i := 1; i < len(res.Findings); i++ {
		if res.Findings[i-1].Repository > res.Findings[i].Repository {
			t.Fatal("findings are not sorted by repository")
		}
	}
}

// TestAuditOverlapsAndBounds: the next clone runs while the current
// repository is scanned, and never more than Ahead clones wait beside the
// one being scanned.
func TestAuditOverlapsAndBounds(t *testing.T) {
	root := t.TempDir()
	var repos []Repo
	for _, n := range []string{"r0.git", "r1.git", "r2.git", "r3.git", "r4.git"} {
		remotetest.MakeRepo(t, root, n, 0, rulestest.APIKey)
	}
	srv := remotetest.New(t, root, remotetest.Options{})
	for _, n := range []string{"r0.git", "r1.git", "r2.git", "r3.git", "r4.git"} {
		repos = append(repos, mustRepo(t, srv.URL+"/"+n))
	}
	tmp := t.TempDir()
	var clonesStarted atomic.Int64
	var mu sync.Mutex
	startedClone := map[int64]chan struct{}{}
	signal := func(i int64) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if startedClone[i] == nil {
			startedClone[i] = make(chan struct{})
		}
		return startedClone[i]
	}
	maxDirs := 0
	scanned := int64(0)
	for _, ahead := range []int{1, 2} {
		clonesStarted.Store(0)
		scanned = 0
		mu.Lock()
		startedClone = map[int64]chan struct{}{}
		mu.Unlock()
		maxDirs = 0
		res := Audit(context.Background(), scanner.New(scanner.Options{Workers: 2}), repos, Options{
			Ahead: ahead, TempDir: tmp,
			Clone: func(ctx context.Context, e remote.Endpoint, dir string) error {
				close(signal(clonesStarted.Add(1) - 1))
				return remote.Clone(ctx, e, dir, remote.Options{})
			},
			Open: func(dir string) (scanner.Source, error) {
				if n := len(entries(t, tmp)); n > maxDirs {
					maxDirs = n
				}
				// Scanning repository i waits for the clone of i+1 to
				// start: the audit must overlap them, or this times out.
				if next := scanned + 1; next < int64(len(repos)) {
					select {
					case <-signal(next):
					case <-time.After(30 * time.Second):
						t.Errorf("ahead %d: the clone of repository %d did not start while %d was scanned", ahead, next, scanned)
					}
				}
				scanned++
				return openHistory(dir)
			},
		})
		if res.Coverage.Partial() || len(res.Findings) == 0 {
			t.Fatalf("ahead %d: partial or empty audit: %+v", ahead, res.Coverage.Skipped)
		}
		if maxDirs > ahead+1 {
			t.Errorf("ahead %d: %d clones on disk at once, want at most %d", ahead, maxDirs, ahead+1)
		}
		if left := entries(t, tmp); len(left) != 0 {
			t.Errorf("ahead %d: clones left behind: %v", ahead, left)
		}
	}
}

// TestAuditCancelled: cancelling during a clone stops at once, removes
// every clone, and names each repository left unread.
func TestAuditCancelled(t *testing.T) {
	root := t.TempDir()
	remotetest.MakeRepo(t, root, "a.git", 0, rulestest.APIKey)
	remotetest.MakeRepo(t, root, "b.git", 0, rulestest.APIKey)
	srv := remotetest.New(t, root, remotetest.Options{Stall: true})
	repos := []Repo{mustRepo(t, srv.URL+"/a.git"), mustRepo(t, srv.URL+"/b.git")}
	tmp := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan scanner.Result, 1)
	go func() {
		done <- Audit(ctx, scanner.New(scanner.Options{Workers: 2}), repos, Options{
			TempDir: tmp, Open: openHistory, Clone: cloneWith(remote.Options{}),
		})
	}()
	for srv.Stalled() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if len(entries(t, tmp)) == 0 {
		t.Fatal("no clone directory while the clone runs")
	}
	cancel()
	res := <-done
	if !res.Interrupted {
		t.Error("a cancelled audit must be interrupted")
	}
	var unread []string
	for _, s := range res.Coverage.Skipped {
		if s.IsError() && strings.Contains(s.Reason, "interrupted") {
			unread = append(unread, s.Path)
		}
	}
	if len(unread) != 2 {
		t.Errorf("unread repositories %v, want both", unread)
	}
	if left := entries(t, tmp); len(left) != 0 {
		t.Errorf("clones left behind after cancellation: %v", left)
	}
}

// TestAuditEmptyAndBrokenLocal: an empty remote is a note, a local path
// that is no repository an error naming it.
func TestAuditEmptyAndBrokenLocal(t *testing.T) {
	root := t.TempDir()
	gittest.Must(t, root, nil, "init", "-q", "--bare", "empty.git")
	srv := remotetest.New(t, root, remotetest.Options{})
	notRepo := t.TempDir()
	res := Audit(context.Background(), scanner.New(scanner.Options{Workers: 1}),
		[]Repo{mustRepo(t, srv.URL+"/empty.git"), mustRepo(t, notRepo)},
		Options{TempDir: t.TempDir(), Open: openHistory, Clone: cloneWith(remote.Options{})})
	if len(res.Coverage.Notes) != 1 || !strings.Contains(res.Coverage.Notes[0], "empty.git: empty repository") {
		t.Errorf("notes %q, want the empty repository noted", res.Coverage.Notes)
	}
	if len(res.Coverage.Skipped) != 1 || !res.Coverage.Skipped[0].IsError() || !strings.HasPrefix(res.Coverage.Skipped[0].Path, filepath.ToSlash(filepath.Clean(notRepo))) {
		t.Errorf("skipped %+v, want one error for the non-repository", res.Coverage.Skipped)
	}
}
