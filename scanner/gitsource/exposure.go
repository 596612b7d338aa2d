package gitsource

import (
	"math/bits"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// exposureTargets are the few objects that hold keys: the introducing
// commits, the annotated tags whose message holds one, and the blobs no
// commit holds.
type exposureTargets struct {
	commits []plumbing.Hash // bit i of a reach set is commits[i]
	bit     map[plumbing.Hash]int
	tags    map[plumbing.Hash]bool
	blobs   map[plumbing.Hash]bool
}

// exposure is, for each target, the refs that reach it.
type exposure struct {
	commits, tags, blobs map[plumbing.Hash][]string
	// blobPaths is a path at which a tree named by a ref holds a blob.
	blobPaths map[plumbing.Hash]string
}

// expose fills in Refs on every finding of a full audit: every ref from
// which the finding's commit (its introducing commit, or the commit whose
// message or header holds the key), tag or blob is reachable. It is one
// reachability pass over all refs for all findings together (see
// exposurePass), not a walk per key per ref. A range scan walks only part
// of the history, so it says nothing about refs.
func (s *Source) expose(fs []scanner.Finding) []scanner.Finding {
	if s.rangeMode || len(fs) == 0 {
		return fs
	}
	t := s.exposureTargets(fs)
	if len(t.commits)+len(t.tags)+len(t.blobs) == 0 {
		return fs
	}
	x := s.exposurePass(t)
	for i := range fs {
		s.applyExposure(&fs[i], x)
	}
	return fs
}

// exposureTargets collects the objects whose refs the findings need.
func (s *Source) exposureTargets(fs []scanner.Finding) exposureTargets {
	t := exposureTargets{bit: map[plumbing.Hash]int{}, tags: map[plumbing.Hash]bool{}, blobs: map[plumbing.Hash]bool{}}
	for _, f := range fs {
		if f.Source != scanner.SourceGit {
			continue
		}
		obj, _ := parseHex(f.Object)
		switch {
		case f.Tag != "":
			t.tags[obj] = true
		case f.Commit != "":
			if c, ok := parseHex(f.Commit); ok {
				if _, dup := t.bit[c]; !dup {
					t.bit[c] = len(t.commits)
					t.commits = append(t.commits, c)
				}
			}
		case s.st.has(obj):
			t.blobs[obj] = true
		}
	}
	return t
}

// exposurePass walks from every ref tip once. Each commit gets the set of
// target commits it reaches (a bitset: its own bit or-ed with its
// parents' sets, computed once per commit, memoised), so the refs of every
// target fall out of the tips' sets. Reflog entries come last and only
// count for targets no ref reaches (see applyExposure).
func (s *Source) exposurePass(t exposureTargets) exposure {
	x := exposure{commits: map[plumbing.Hash][]string{}, tags: map[plumbing.Hash][]string{},
		blobs: map[plumbing.Hash][]string{}, blobPaths: map[plumbing.Hash]string{}}
	br := newBitReach(s.commits, t)
	trees := map[plumbing.Hash][]treeBlob{}
	for _, r := range s.exposureTips() {
		obj := s.exposeTagChain(r, t, &x)
		switch {
		case s.commits[obj] != nil:
			forBits(br.of(obj), func(i int) {
				x.commits[t.commits[i]] = append(x.commits[t.commits[i]], r.name)
			})
		case t.blobs[obj]:
			x.blobs[obj] = append(x.blobs[obj], r.name)
		case len(t.blobs) > 0 && s.tags[obj] == nil:
			s.exposeTree(obj, r.name, t, &x, trees)
		}
	}
	return x
}

// exposureTips are the refs (branches, tags, remote-tracking refs, notes,
// stash, pull-request refs, detached HEADs) and then the reflog entries.
func (s *Source) exposureTips() []ref {
	tips := make([]ref, 0, len(s.refs.tips)+len(s.refs.reflog))
	return append(append(tips, s.refs.tips...), s.refs.reflog...)
}

// exposeTagChain follows ref r through annotated tags, recording r on
// every target tag it passes, and returns the object the chain ends at.
func (s *Source) exposeTagChain(r ref, t exposureTargets, x *exposure) plumbing.Hash {
	h := r.hash
	for depth := 0; depth < 10; depth++ {
		tg := s.tags[h]
		if tg == nil {
			break
		}
		if t.tags[h] {
			x.tags[h] = append(x.tags[h], r.name)
		}
		h = tg.target
	}
	return h
}

// treeBlob is a blob a tree holds, and where.
type treeBlob struct {
	path string
	blob plumbing.Hash
}

// exposeTree handles a ref (or tag) naming a tree directly: the target
// blobs in it are exposed by the ref, at their path in that tree. Each
// tree is walked once (memo), for the target blobs only.
func (s *Source) exposeTree(h plumbing.Hash, name string, t exposureTargets, x *exposure, memo map[plumbing.Hash][]treeBlob) {
	held, ok := memo[h]
	if !ok {
		if typ, _, err := s.st.read(h); err == nil && typ == typTree {
			_ = s.walkBlobs(h, "", func(p string, b plumbing.Hash) {
				if t.blobs[b] {
					held = append(held, treeBlob{p, b})
				}
			})
		}
		memo[h] = held
	}
	for _, tb := range held {
		x.blobs[tb.blob] = appendName(x.blobs[tb.blob], name)
		if _, ok := x.blobPaths[tb.blob]; !ok {
			x.blobPaths[tb.blob] = tb.path
		}
	}
}

func appendName(l []string, n string) []string {
	if len(l) > 0 && l[len(l)-1] == n {
		return l
	}
	return append(l, n)
}

// applyExposure sets f's refs. A reflog entry is listed only when no ref
// reaches the object: then it is what still holds it. A blob that only a
// ref naming it (or a tree holding it) reaches is reachable, at the path
// that tree gives it. A key that only notes refs reach is "at HEAD" when
// a notes ref's tip still holds it, since notes have no HEAD of their own.
func (s *Source) applyExposure(f *scanner.Finding, x exposure) {
	if f.Source != scanner.SourceGit {
		return
	}
	obj, _ := parseHex(f.Object)
	var names []string
	switch {
	case f.Tag != "":
		names = x.tags[obj]
	case f.Commit != "":
		c, _ := parseHex(f.Commit)
		names = x.commits[c]
	default:
		names = x.blobs[obj]
	}
	f.Refs = preferRefs(names)
	if len(f.Refs) == 0 || isReflog(f.Refs[0]) {
		return
	}
	if f.Commit == "" && f.Tag == "" {
		f.Reachable, f.AtHead = boolPtr(true), nil
		if p, ok := x.blobPaths[obj]; ok && (f.Path == "" || strings.HasPrefix(f.Path, f.Object+"!")) {
			f.Path = p + memberPath(f.Path, p, f.Object)
		}
		return
	}
	if f.Part == "" && onlyNotes(f.Refs) {
		f.AtHead = s.atNotesTip(*f)
	}
}

// preferRefs sorts ref names and drops reflog entries when a ref reaches
// the object too.
func preferRefs(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	var refs, logs []string
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		if isReflog(n) {
			logs = append(logs, n)
		} else {
			refs = append(refs, n)
		}
	}
	if len(refs) == 0 {
		refs = logs
	}
	sort.Strings(refs)
	return refs
}

// isReflog is true for a reflog entry's name (NAME@{n}); stash@{n} is the
// stash list, a ref in its own right.
func isReflog(n string) bool {
	return strings.HasSuffix(n, "}") && strings.Contains(n, "@{") && !strings.HasPrefix(n, "stash@{")
}

func onlyNotes(refs []string) bool {
	for _, r := range refs {
		if !strings.HasPrefix(r, "refs/notes/") {
			return false
		}
	}
	return true
}

// atNotesTip says whether some notes ref's tip still holds the key at the
// finding's path.
func (s *Source) atNotesTip(f scanner.Finding) *bool {
	p := strings.TrimSuffix(f.Path, memberSuffix(f.Path))
	for _, r := range s.refs.tips {
		if !strings.HasPrefix(r.name, "refs/notes/") {
			continue
		}
		c := s.commits[s.peel(r.hash)]
		if c == nil {
			continue
		}
		if b, ok := s.blobAt(c.tree, p); ok && s.containsKey(b, f.Key) {
			return boolPtr(true)
		}
	}
	return boolPtr(false)
}

// bitReach computes, per commit, the set of target commits it reaches.
type bitReach struct {
	commits map[plumbing.Hash]*commitInfo
	bit     map[plumbing.Hash]int
	words   int
	slot    map[plumbing.Hash]int32 // commit -> its set's index in slab
	slab    []uint64
	open    map[plumbing.Hash]bool // expanded, set not yet computed
}

func newBitReach(commits map[plumbing.Hash]*commitInfo, t exposureTargets) *bitReach {
	return &bitReach{commits: commits, bit: t.bit, words: (len(t.commits) + 63) / 64,
		slot: map[plumbing.Hash]int32{}, open: map[plumbing.Hash]bool{}}
}

// of returns the set of targets commit root reaches. It is an iterative
// post-order walk (histories are deeper than any stack), memoised across
// calls, so all ref tips together visit each commit once. A parent that
// is not in the store reaches nothing; a cycle (a corrupt store) is cut.
func (b *bitReach) of(root plumbing.Hash) []uint64 {
	if b.words == 0 {
		return nil
	}
	stack := []plumbing.Hash{root}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		if _, done := b.slot[h]; done {
			stack = stack[:len(stack)-1]
			continue
		}
		c := b.commits[h]
		if !b.open[h] && c != nil {
			b.open[h] = true
			for _, p := range c.parents {
				if _, done := b.slot[p]; !done && !b.open[p] && b.commits[p] != nil {
					stack = append(stack, p)
				}
			}
			continue
		}
		stack = stack[:len(stack)-1]
		b.finish(h, c)
	}
	return b.set(b.slot[root])
}

// finish computes commit h's set once its parents' are known.
func (b *bitReach) finish(h plumbing.Hash, c *commitInfo) {
	i := int32(len(b.slab) / b.words)
	b.slab = append(b.slab, make([]uint64, b.words)...)
	own := b.set(i)
	if n, ok := b.bit[h]; ok {
		own[n/64] |= 1 << (n % 64)
	}
	if c != nil {
		for _, p := range c.parents {
			if j, ok := b.slot[p]; ok {
				for w, v := range b.set(j) {
					own[w] |= v
				}
			}
		}
	}
	delete(b.open, h)
	b.slot[h] = i
}

func (b *bitReach) set(i int32) []uint64 {
	return b.slab[int(i)*b.words : int(i+1)*b.words]
}

// forBits calls fn for each set bit.
func forBits(set []uint64, fn func(int)) {
	for w, v := range set {
		for v != 0 {
			i := bits.TrailingZeros64(v)
			fn(w*64 + i)
			v &= v - 1
		}
	}
}
