package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/remote"
)

// Options configure Audit.
type Options struct {
	// Ahead is how many clones may be prepared ahead of the scan; 0 means
	// 1: while one repository is scanned the next is cloned, and at most
	// Ahead+1 clones exist on disk at any time.
	Ahead int
	// TempDir is where clones are made; "" means os.TempDir().
	TempDir string
	// Open opens a repository directory (a clone or a local path) for the
	// history scan.
	Open func(dir string) (scanner.Source, error)
	// Clone clones e into dir, an empty directory.
	Clone func(ctx context.Context, e remote.Endpoint, dir string) error
	// Started, if set, is called as the scan of repos[i] begins.
	Started func(i, n int, r Repo)
}

// ClonePrefix starts the name of every temporary clone directory.
const ClonePrefix = "xaiscan-clone-"

// prepared is a repository ready to scan: cloned (or failed to), or local.
type prepared struct {
	repo Repo
	dir  string // the clone, "" for a local path or a failed clone
	err  error  // why the clone failed
}

// remove deletes the clone, if any.
func (p prepared) remove() {
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// Audit scans repos in order on eng and returns one result: every finding
// carries its repository's label, coverage is summed, and each coverage
// entry names its repository. A repository that cannot be cloned or opened
// is a coverage error of its own; the others are still scanned. Clones are
// made in the background, at most o.Ahead ahead, and each is removed as
// soon as its scan ends, or when the audit is cancelled. A cancelled audit
// returns what was scanned, Interrupted, with an error entry for every
// repository left unread.
func Audit(ctx context.Context, eng *scanner.Engine, repos []Repo, o Options) scanner.Result {
	if o.Ahead < 1 {
		o.Ahead = 1
	}
	pctx, stop := context.WithCancel(ctx)
	pf := startPrefetch(pctx, repos, o)
	defer pf.close(stop)
	var results []scanner.Result
	done := 0
	for f := range pf.ready {
		<-f.done
		if ctx.Err() != nil {
			pf.release(f)
			break
		}
		if o.Started != nil {
			o.Started(done, len(repos), f.p.repo)
		}
		res := scanOne(ctx, eng, f.p, o)
		pf.release(f)
		results = append(results, res)
		if res.Interrupted {
			break
		}
		done++
	}
	out := scanner.Merge(results...)
	if ctx.Err() != nil {
		out.Interrupted = true
		for _, r := range repos[done:] {
			out.Coverage.Skipped = append(out.Coverage.Skipped, scanner.ErrorAt(r.Label, "not audited: the audit was interrupted"))
		}
	}
	sort.Strings(out.Coverage.Notes)
	return out
}

// prefetcher prepares repositories ahead of the scan, in order. A slot is
// taken before a clone starts and given back once its repository is
// scanned (or dropped), so at most Ahead+1 clones exist at any time: the
// one being scanned and Ahead made or in the making. Clones run
// concurrently within that bound: a clone mostly waits on the network.
type prefetcher struct {
	ready chan *future
	slots chan struct{}
}

// future is a repository being prepared; done is closed when p is set.
type future struct {
	p    prepared
	done chan struct{}
}

func startPrefetch(ctx context.Context, repos []Repo, o Options) *prefetcher {
	pf := &prefetcher{ready: make(chan *future, o.Ahead+1), slots: make(chan struct{}, o.Ahead+1)}
	go func() {
		defer close(pf.ready)
		for _, r := range repos {
			select {
			case pf.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			f := &future{done: make(chan struct{})}
			go func() {
				defer close(f.done)
				f.p = prepare(ctx, r, o)
			}()
			// Never blocks: no more futures are out than there are slots.
			pf.ready <- f
		}
	}()
	return pf
}

// release removes a future's clone and frees its slot.
func (pf *prefetcher) release(f *future) {
	f.p.remove()
	<-pf.slots
}

// close stops the cloning, waits for the clones under way to give up,
// and removes every clone that was never scanned.
func (pf *prefetcher) close(stop context.CancelFunc) {
	stop()
	for f := range pf.ready {
		<-f.done
		pf.release(f)
	}
}

// prepare clones a remote into a fresh temporary directory.
func prepare(ctx context.Context, r Repo, o Options) prepared {
	p := prepared{repo: r}
	if r.Remote == nil || r.Skip != nil {
		return p
	}
	dir, err := os.MkdirTemp(o.TempDir, ClonePrefix+"*")
	if err != nil {
		p.err = fmt.Errorf("creating a temporary directory: %w", err)
		return p
	}
	p.dir = dir
	if err := o.Clone(ctx, *r.Remote, dir); err != nil {
		p.err = err
		p.remove()
		p.dir = ""
	}
	return p
}

// scanOne scans one prepared repository and removes its clone.
func scanOne(ctx context.Context, eng *scanner.Engine, p prepared, o Options) scanner.Result {
	defer p.remove()
	label := p.repo.Label
	empty := scanner.Result{Coverage: scanner.Coverage{Skipped: []scanner.Skipped{}}}
	switch {
	case p.repo.Skip != nil:
		empty.Coverage.Skipped = append(empty.Coverage.Skipped, *p.repo.Skip)
		return empty
	case errors.Is(p.err, remote.ErrEmpty):
		empty.Coverage.Notes = []string{label + ": empty repository (no refs), nothing to audit"}
		return empty
	case p.err != nil:
		empty.Coverage.Skipped = append(empty.Coverage.Skipped, scanner.ErrorAt(label, "could not clone: "+cloneReason(p.err)))
		return empty
	}
	dir := p.repo.Path
	if p.dir != "" {
		dir = p.dir
	}
	src, err := o.Open(dir)
	if err != nil {
		empty.Coverage.Skipped = append(empty.Coverage.Skipped, scanner.ErrorAt(label, relabel(oneLine(err), p.dir)))
		return empty
	}
	res, err := eng.Run(ctx, src)
	if c, ok := src.(io.Closer); ok {
		// Release the pack files before the clone is removed.
		c.Close()
	}
	if err != nil {
		res.Coverage.Skipped = append(res.Coverage.Skipped, scanner.ErrorAt("", oneLine(err)))
	}
	tag(&res, label, p.dir)
	return res
}

// tag marks every finding with its repository and makes every coverage
// entry name it, with the temporary clone's location taken out.
func tag(res *scanner.Result, label, cloneDir string) {
	for i := range res.Findings {
		res.Findings[i].Repository = label
	}
	for i, s := range res.Coverage.Skipped {
		path := relabel(s.Path, cloneDir)
		if path == "" {
			path = label
		} else {
			path = label + ": " + path
		}
		res.Coverage.Skipped[i] = scanner.Skipped{Path: path, Reason: relabel(s.Reason, cloneDir), Kind: s.Kind}
	}
	for i, n := range res.Coverage.Notes {
		res.Coverage.Notes[i] = label + ": " + relabel(n, cloneDir)
	}
}

// relabel removes the temporary clone directory from a path or message:
// it is meaningless once removed, and differs from run to run.
func relabel(s, cloneDir string) string {
	if cloneDir == "" {
		return s
	}
	for _, d := range []string{cloneDir, filepath.ToSlash(cloneDir)} {
		s = strings.ReplaceAll(s, d+string(filepath.Separator), "")
		s = strings.ReplaceAll(s, d+"/", "")
		s = strings.ReplaceAll(s, d, ".")
	}
	return s
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// cloneReason is a clone error's text without the empty server reason
// go-git appends ("repository not found: " when the server says no more).
func cloneReason(err error) string {
	return strings.TrimSuffix(strings.TrimSpace(err.Error()), ":")
}
