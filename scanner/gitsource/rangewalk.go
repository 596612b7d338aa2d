package gitsource

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// resolveRev resolves a revision to a commit hash: go-git understands
// refs, hashes (full and short), HEAD~n and friends. Annotated tags are
// peeled to their commit.
func (s *Source) resolveRev(rev string) (plumbing.Hash, error) {
	c, _, err := s.resolveRevTags(rev)
	return c, err
}

// resolveRevTags is resolveRev that also returns the annotated tag objects
// met on the way to the commit (a pushed tag, a --branch naming a tag):
// their messages are part of what the range publishes.
func (s *Source) resolveRevTags(rev string) (plumbing.Hash, []plumbing.Hash, error) {
	var tags []plumbing.Hash
	if ref, err := s.repo.Reference(plumbing.ReferenceName(rev), true); err == nil {
		tags = s.tagChain(ref.Hash())
	} else if ref, err := s.repo.Reference(plumbing.NewTagReferenceName(rev), true); err == nil {
		tags = s.tagChain(ref.Hash())
	} else if full, ok := parseHex(rev); ok {
		tags = s.tagChain(full)
	}
	h, err := s.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		if full, ok := parseHex(rev); ok && s.st.has(full) {
			h = &full
		} else {
			if errors.Is(err, io.EOF) {
				// go-git's answer for HEAD~n past the first commit.
				err = errors.New("no such commit (the history is not that long)")
			}
			return plumbing.ZeroHash, nil, fmt.Errorf("unknown revision %q: %w", rev, err)
		}
	}
	for depth := 0; depth < 10; depth++ {
		t, data, err := s.st.read(*h)
		if err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("revision %q (%s): %w", rev, h, err)
		}
		switch t {
		case typCommit:
			return *h, tags, nil
		case typTag:
			ti, _, err := parseTag(data)
			if err != nil {
				return plumbing.ZeroHash, nil, fmt.Errorf("revision %q: %w", rev, err)
			}
			h = &ti.target
		default:
			return plumbing.ZeroHash, nil, fmt.Errorf("revision %q is a %s, not a commit", rev, typeName(t))
		}
	}
	return plumbing.ZeroHash, nil, fmt.Errorf("revision %q: tag chain too long", rev)
}

// tagChain lists the annotated tag objects starting at h (a tag of a tag
// of a commit has two), or nothing when h is not a tag.
func (s *Source) tagChain(h plumbing.Hash) []plumbing.Hash {
	var tags []plumbing.Hash
	for depth := 0; depth < 10; depth++ {
		t, data, err := s.st.read(h)
		if err != nil || t != typTag {
			return tags
		}
		ti, _, err := parseTag(data)
		if err != nil {
			return tags
		}
		tags = append(tags, h)
		h = ti.target
	}
	return tags
}

// readCommit reads and parses a commit through the store.
func (s *Source) readCommit(h plumbing.Hash) (*commitInfo, int64, error) {
	t, data, err := s.st.read(h)
	if err != nil {
		return nil, 0, err
	}
	if t != typCommit {
		return nil, 0, fmt.Errorf("%s is a %s, not a commit", h, typeName(t))
	}
	c, _, err := parseCommit(h, data)
	if err != nil {
		return nil, 0, err
	}
	return c, committerTime(data), nil
}

// committerTime returns a commit's committer time, which orders the walk.
func committerTime(data []byte) int64 {
	hdr, _ := splitMessage(data)
	for _, line := range splitLines(hdr) {
		if v, ok := cutPrefix(line, "committer "); ok {
			_, _, when := parseSignature(v)
			return when
		}
	}
	return 0
}

// walkItem is a commit in the revision walk's queue.
type walkItem struct {
	c     *commitInfo
	ctime int64
	flag  *walkFlag
}

type walkFlag struct {
	uninteresting bool
	parents       []plumbing.Hash
}

type walkQueue []walkItem

func (q walkQueue) Len() int           { return len(q) }
func (q walkQueue) Less(i, j int) bool { return q[i].ctime > q[j].ctime }
func (q walkQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *walkQueue) Push(x any)        { *q = append(*q, x.(walkItem)) }
func (q *walkQueue) Pop() any          { o := *q; it := o[len(o)-1]; *q = o[:len(o)-1]; return it }
func (q walkQueue) anyInteresting() bool {
	for _, it := range q {
		if !it.flag.uninteresting {
			return true
		}
	}
	return false
}

// revWalk returns the commits reachable from include and not from exclude,
// newest first, with git's algorithm: walk by committer date, propagate
// "uninteresting" down from the excluded side, and stop once every queued
// commit is uninteresting (plus some slop for clock skew), so excluding a
// long main line does not walk all of it.
func (s *Source) revWalk(include, exclude []plumbing.Hash) ([]*commitInfo, error) {
	flags := map[plumbing.Hash]*walkFlag{}
	var q walkQueue
	markDown := func(f *walkFlag) {
		stack := []*walkFlag{f}
		for len(stack) > 0 {
			g := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, p := range g.parents {
				if pf := flags[p]; pf != nil && !pf.uninteresting {
					pf.uninteresting = true
					stack = append(stack, pf)
				}
			}
		}
	}
	push := func(h plumbing.Hash, unint bool, child plumbing.Hash) {
		if f := flags[h]; f != nil {
			if unint && !f.uninteresting {
				f.uninteresting = true
				markDown(f)
			}
			return
		}
		c, ct, err := s.readCommit(h)
		if err != nil {
			s.walkFailed(h, child, err)
			flags[h] = &walkFlag{uninteresting: unint}
			return
		}
		f := &walkFlag{uninteresting: unint}
		if !s.shallow[h] {
			f.parents = c.parents
		}
		flags[h] = f
		heap.Push(&q, walkItem{c: c, ctime: ct, flag: f})
	}
	for _, h := range exclude {
		push(h, true, plumbing.ZeroHash)
	}
	for _, h := range include {
		push(h, false, plumbing.ZeroHash)
	}
	var out []walkItem
	slop := 5
	for q.Len() > 0 {
		if !q.anyInteresting() {
			if slop == 0 {
				break
			}
			slop--
		} else {
			slop = 5
		}
		it := heap.Pop(&q).(walkItem)
		if !it.flag.uninteresting {
			out = append(out, it)
			if s.shallow[it.c.hash] && len(it.c.parents) > 0 {
				s.reachedCut(it.c.hash)
			}
		}
		for _, p := range it.flag.parents {
			push(p, it.flag.uninteresting, it.c.hash)
		}
	}
	var res []*commitInfo
	for _, it := range out {
		if !it.flag.uninteresting {
			res = append(res, it.c)
		}
	}
	return res, nil
}

// rangeItems scans what the commits in Include minus Exclude introduced:
// each commit's message, and every blob its tree diff against its parents
// adds. Blobs are sent as soon as the diff finds them, so scanning overlaps
// the walk; each distinct blob is sent once.
func (s *Source) rangeItems(ctx context.Context, feed scanner.Feed) error {
	s.rangeMode = true
	s.intro = map[plumbing.Hash][]plumbing.Hash{}
	s.scanned = map[plumbing.Hash]bool{}
	s.inRange = map[plumbing.Hash]bool{}
	s.inRangeTag = map[plumbing.Hash]bool{}
	s.firstPath = map[plumbing.Hash]string{}
	commits, err := s.revWalk(s.inc, s.exc)
	if err != nil {
		return err
	}
	if err := s.sendTagMessages(ctx, feed, s.incTags); err != nil {
		return err
	}
	// Past the first streamThreshold blobs (a long branch, not a pull
	// request), random access would re-resolve delta chains over and over:
	// the rest are collected and read by streaming the packs instead.
	deferred := map[plumbing.Hash]bool{}
	for _, c := range commits {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.sendRangeCommit(ctx, feed, c, deferred); err != nil {
			return err
		}
	}
	if len(deferred) == 0 {
		return nil
	}
	for h := range deferred {
		if !s.st.has(h) {
			s.noteMissing(missingObj{hash: h, kind: "blob", path: s.firstPath[h], commit: s.intro[h][0]})
			delete(deferred, h)
		}
	}
	return s.streamItems(ctx, feed, deferred)
}

// sendRangeCommit sends commit c's message and the blobs its diff against
// its parents adds (those past streamThreshold go to deferred instead).
func (s *Source) sendRangeCommit(ctx context.Context, feed scanner.Feed, c *commitInfo, deferred map[plumbing.Hash]bool) error {
	h := c.hash
	s.inRange[h] = true
	s.mu.Lock()
	s.commits[h] = c
	s.mu.Unlock()
	feed.AddCommits(1)
	feed.Expect(1)
	it := itemFor(h, typCommit, -1, func() (io.ReadCloser, error) {
		t, data, err := s.st.read(h)
		if err != nil {
			return nil, err
		}
		if t != typCommit {
			return nil, fmt.Errorf("not a commit")
		}
		if _, _, err := parseCommit(h, data); err != nil {
			return nil, err
		}
		// Headers too: a key pasted into an author name is published.
		return nopReader(data), nil
	})
	if err := feed.Send(ctx, it); err != nil {
		return err
	}
	var sendErr error
	// An unreadable tree was recorded by treeEntries; the rest of this
	// commit's diff is still used.
	_ = s.diffCommit(c, func(p string, nb plumbing.Hash, _ []plumbing.Hash) {
		if nb.IsZero() || sendErr != nil {
			return
		}
		s.intro[nb] = appendUnique(s.intro[nb], h)
		if s.scanned[nb] {
			return
		}
		s.scanned[nb] = true
		s.firstPath[nb] = p
		if len(s.scanned) > streamThreshold {
			deferred[nb] = true
			return
		}
		feed.Expect(1)
		sendErr = feed.Send(ctx, s.rangeBlob(nb, p, h))
	})
	return sendErr
}

// rangeBlob is the item of blob b, met at path p in commit c.
func (s *Source) rangeBlob(b plumbing.Hash, p string, c plumbing.Hash) scanner.Item {
	return itemFor(b, typBlob, -1, func() (io.ReadCloser, error) {
		t, data, err := s.st.read(b)
		if err != nil {
			if errors.Is(err, errMissing) {
				m := missingObj{hash: b, kind: "blob", path: p, commit: c}
				return nil, errors.New(m.reason(s.promisor))
			}
			if rc, ok := s.salvageBlob(b, t, data, err); ok {
				return rc, nil
			}
			return nil, err
		}
		if t != typBlob {
			return nil, fmt.Errorf("%s is a %s, not a blob", b, typeName(t))
		}
		return nopReader(data), nil
	})
}

// RevisionError is a revision of Options.Include or Exclude that does not
// resolve to a commit: a usage error, reported before any scanning.
type RevisionError struct{ Err error }

func (e *RevisionError) Error() string { return e.Err.Error() }
func (e *RevisionError) Unwrap() error { return e.Err }

// resolveRange resolves the Include and Exclude revisions to commits, so
// that a mistyped ref fails at once rather than after a long scan.
func (s *Source) resolveRange() error {
	for i, r := range s.opts.Include {
		h, ts, err := s.resolveRevTags(r)
		if err != nil {
			return &RevisionError{err}
		}
		s.incTags = append(s.incTags, ts...)
		if i == 0 {
			s.tip = h
		}
		s.inc = append(s.inc, h)
	}
	for _, r := range s.opts.Exclude {
		h, err := s.resolveRev(r)
		if err != nil {
			// A pre-push remote sha we do not have is no history of ours.
			if full, ok := parseHex(r); ok && !s.st.has(full) {
				continue
			}
			return &RevisionError{err}
		}
		s.exc = append(s.exc, h)
	}
	return nil
}

// walkFailed records a commit the range walk could not read.
func (s *Source) walkFailed(h, child plumbing.Hash, err error) {
	role := "a commit of the range"
	if !child.IsZero() {
		role = "a parent of commit " + child.String()
	}
	if errors.Is(err, errMissing) {
		s.noteMissing(missingObj{hash: h, kind: "commit", role: role})
		return
	}
	s.feed.Skip(scanner.ErrorAt(h.String(), fmt.Sprintf("cannot read commit (%s): %v", role, err)))
}

// reachedCut records, once, that the range reaches a shallow clone's cut:
// the commits beyond it are not in the clone. Like the whole-history
// audit of a shallow clone, this is an error unless AcceptShallow.
func (s *Source) reachedCut(h plumbing.Hash) {
	if s.boundary {
		return
	}
	s.boundary = true
	cut := fmt.Sprintf("shallow clone: the commits scanned reach its cut at commit %s; the older commits they build on are not in this clone and were not scanned", h)
	if s.opts.AcceptShallow {
		s.feed.Note(cut + " (accepted with --accept-shallow)")
		return
	}
	s.feed.Skip(scanner.ErrorAt("shallow", cut+"; fetch them with `git fetch --unshallow` (GitHub Actions: actions/checkout with fetch-depth: 0), or pass --accept-shallow"))
}

// streamThreshold is how many blobs a range scan reads by random access
// before it switches to streaming the packs for the rest.
var streamThreshold = 4096

func appendUnique(l []plumbing.Hash, h plumbing.Hash) []plumbing.Hash {
	for _, x := range l {
		if x == h {
			return l
		}
	}
	return append(l, h)
}

// diffCommit calls fn for every path where c differs from all of its
// parents (or, for a root or shallow-boundary commit, from nothing): nb is
// the blob at p in c (zero if p was deleted), obs the blob at p in each
// parent (zero where absent). A subtree equal to the same subtree in any
// parent is skipped whole, which is what makes merges cheap and keeps a
// merge from "introducing" what one of its parents already had.
func (s *Source) diffCommit(c *commitInfo, fn func(p string, nb plumbing.Hash, obs []plumbing.Hash)) error {
	return s.diffCommitPruned(c, nil, fn)
}

// diffCommitPruned is diffCommit that skips every subtree pair for which
// skip (if not nil) says nothing of interest lies below.
func (s *Source) diffCommitPruned(c *commitInfo, skip func(nt plumbing.Hash, ots []plumbing.Hash) bool, fn func(p string, nb plumbing.Hash, obs []plumbing.Hash)) error {
	var pts []plumbing.Hash
	if !s.shallow[c.hash] {
		for _, p := range c.parents {
			pc, err := s.commitInfo(p)
			if err != nil {
				// A missing parent was reported where found; diff
				// against the rest.
				pts = append(pts, plumbing.ZeroHash)
				continue
			}
			pts = append(pts, pc.tree)
		}
	}
	if skip != nil && skip(c.tree, pts) {
		return nil
	}
	return s.diffTree("", c.tree, pts, skip, fn)
}

// commitInfo returns a commit known from the scan, or reads it.
func (s *Source) commitInfo(h plumbing.Hash) (*commitInfo, error) {
	s.mu.Lock()
	c := s.commits[h]
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	c, _, err := s.readCommit(h)
	return c, err
}

// treeCacheSize bounds the parsed trees kept by treeEntries; the cache is
// simply dropped when full, which keeps the walk's recent trees.
const treeCacheSize = 8192

// treeEntries reads a tree (zero hash: the empty tree).
func (s *Source) treeEntries(h plumbing.Hash) ([]treeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	s.treeMu.Lock()
	ents, ok := s.treeCache[h]
	s.treeMu.Unlock()
	if ok {
		return ents, nil
	}
	t, data, err := s.st.read(h)
	if err == nil && t != typTree {
		err = fmt.Errorf("%s is a %s, not a tree", h, typeName(t))
	}
	if err == nil {
		ents, err = parseTree(data)
	}
	if err != nil {
		s.reportUnreadable(h, "tree", err)
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	// Walking history diffs each tree twice (as a commit's, then as its
	// child's parent's): keep the parsed form of recent trees.
	s.treeMu.Lock()
	if s.treeCache == nil || len(s.treeCache) >= treeCacheSize {
		s.treeCache = make(map[plumbing.Hash][]treeEntry, treeCacheSize)
	}
	s.treeCache[h] = ents
	s.treeMu.Unlock()
	return ents, nil
}

func (s *Source) diffTree(prefix string, nt plumbing.Hash, ots []plumbing.Hash, skip func(plumbing.Hash, []plumbing.Hash) bool, fn func(string, plumbing.Hash, []plumbing.Hash)) error {
	if skip != nil && skip(nt, ots) {
		return nil
	}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	newEnts, err := s.treeEntries(nt)
	note(err)
	olds := make([]map[string]treeEntry, len(ots))
	for j, ot := range ots {
		ents, err := s.treeEntries(ot)
		note(err)
		m := make(map[string]treeEntry, len(ents))
		for _, e := range ents {
			m[e.name] = e
		}
		olds[j] = m
	}
	inNew := make(map[string]bool, len(newEnts))
	for _, ne := range newEnts {
		inNew[ne.name] = true
		if ne.isGitlink() {
			continue
		}
		same := false
		obs := make([]plumbing.Hash, len(ots))
		otrees := make([]plumbing.Hash, len(ots))
		anyOldBlob, anyOldTree := false, false
		for j := range olds {
			oe, ok := olds[j][ne.name]
			if !ok || oe.isGitlink() {
				continue
			}
			if oe.hash == ne.hash && oe.isTree() == ne.isTree() {
				same = true
				break
			}
			if oe.isTree() {
				otrees[j], anyOldTree = oe.hash, true
			} else {
				obs[j], anyOldBlob = oe.hash, true
			}
		}
		if same {
			continue
		}
		p := prefix + ne.name
		if ne.isTree() {
			note(s.diffTree(p+"/", ne.hash, otrees, skip, fn))
			if anyOldBlob {
				fn(p, plumbing.ZeroHash, obs)
			}
		} else {
			fn(p, ne.hash, obs)
			if anyOldTree {
				note(s.diffTree(p+"/", plumbing.ZeroHash, otrees, skip, fn))
			}
		}
	}
	// Paths gone from the new tree: deletions, needed to recognise renames.
	done := map[string]bool{}
	for j := range olds {
		for name := range olds[j] {
			if inNew[name] || done[name] {
				continue
			}
			done[name] = true
			obs := make([]plumbing.Hash, len(ots))
			otrees := make([]plumbing.Hash, len(ots))
			anyBlob, anyTree := false, false
			for k := range olds {
				if oe, ok := olds[k][name]; ok && !oe.isGitlink() {
					if oe.isTree() {
						otrees[k], anyTree = oe.hash, true
					} else {
						obs[k], anyBlob = oe.hash, true
					}
				}
			}
			p := prefix + name
			if anyBlob {
				fn(p, plumbing.ZeroHash, obs)
			}
			if anyTree {
				note(s.diffTree(p+"/", plumbing.ZeroHash, otrees, skip, fn))
			}
		}
	}
	return firstErr
}

// blobAt returns the blob at slash-separated path p in tree t.
func (s *Source) blobAt(t plumbing.Hash, p string) (plumbing.Hash, bool) {
	dir, rest := p, ""
	for {
		ents, err := s.treeEntries(t)
		if err != nil {
			return plumbing.ZeroHash, false
		}
		dir, rest = p, ""
		if i := indexByte(p, '/'); i >= 0 {
			dir, rest = p[:i], p[i+1:]
		}
		var found *treeEntry
		for k := range ents {
			if ents[k].name == dir {
				found = &ents[k]
				break
			}
		}
		if found == nil {
			return plumbing.ZeroHash, false
		}
		if rest == "" {
			if found.isTree() || found.isGitlink() {
				return plumbing.ZeroHash, false
			}
			return found.hash, true
		}
		if !found.isTree() {
			return plumbing.ZeroHash, false
		}
		t, p = found.hash, rest
	}
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func baseName(p string) string { return path.Base(p) }

// sendTagMessages queues the messages of the annotated tags a range names
// (a pushed tag carries its message to the remote as surely as a commit).
func (s *Source) sendTagMessages(ctx context.Context, feed scanner.Feed, tags []plumbing.Hash) error {
	seen := map[plumbing.Hash]bool{}
	for _, h := range tags {
		if seen[h] {
			continue
		}
		seen[h] = true
		s.inRangeTag[h] = true
		feed.Expect(1)
		h := h
		it := itemFor(h, typTag, -1, func() (io.ReadCloser, error) {
			t, data, err := s.st.read(h)
			if err != nil {
				return nil, err
			}
			if t != typTag {
				return nil, fmt.Errorf("not a tag")
			}
			msg, err := s.addTag(h, data)
			if err != nil {
				return nil, err
			}
			return nopReader(msg), nil
		})
		if err := feed.Send(ctx, it); err != nil {
			return err
		}
	}
	return nil
}
