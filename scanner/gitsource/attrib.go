package gitsource

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// keyPath is one (key, path) pair: the unit a history finding is reported
// once for.
type keyPath struct {
	key  string
	path string
}

// introduction is a commit at which a key appeared on a path.
type introduction struct {
	commit    *commitInfo
	blob      plumbing.Hash
	certain   bool  // the commit's parents were all there to diff against
	reachable *bool // nil: unknown (the refs are damaged)
	// doubt says why the introduction rests on damaged data ("" when it
	// does not): a parent commit or a tree missing.
	doubt string
}

// better orders candidate introductions of one (key, path): a commit whose
// parents are known first, then one whose diff was whole, then a reachable
// one, then one of unknown reachability, then the oldest author date, then
// the hash, so the choice is deterministic.
func (a introduction) better(b introduction) bool {
	if a.certain != b.certain {
		return a.certain
	}
	if (a.doubt == "") != (b.doubt == "") {
		return a.doubt == ""
	}
	if ra, rb := reachRank(a.reachable), reachRank(b.reachable); ra != rb {
		return ra > rb
	}
	if a.commit.when != b.commit.when {
		return a.commit.when < b.commit.when
	}
	return bytes.Compare(a.commit.hash[:], b.commit.hash[:]) < 0
}

// Finish implements scanner.Finisher: it fills in the commit metadata of
// message findings and attributes blob findings to the (commit, path)
// pairs that introduced each key. A raw finding may become several
// findings (one per path the key was introduced on) or none (a blob that
// only carries a key already reported on its path). Every finding of a
// full audit then gets the refs that expose it (see expose).
//
// Finish also reports the objects found missing during the scan, each
// named by the path and commit it was for where a commit's tree leads to
// it.
func (s *Source) Finish(ctx context.Context, raw []scanner.Finding, feed scanner.Feed) ([]scanner.Finding, error) {
	s.feed = feed
	out, err := s.attribute(ctx, raw)
	s.flushMissing(ctx)
	return out, err
}

// attribute is Finish's attribution of raw findings, one rule per step:
// keys in commit and tag objects belong to that object; keys in blobs to
// the commits that introduced them on each path; blobs no commit holds to
// the index or to nothing; then every finding gets its exposure.
func (s *Source) attribute(ctx context.Context, raw []scanner.Finding) ([]scanner.Finding, error) {
	reach := s.reachable()
	r := s.splitRaw(raw)
	out := append(r.other, s.attributeObjects(r.objects, reach)...)
	named, err := s.attributeNames(ctx, r.trees, reach)
	out = append(out, named...)
	if err != nil {
		return out, err
	}
	if len(r.blobs) > 0 {
		blobs, err := s.attributeBlobs(ctx, r.blobs, reach)
		out = append(out, blobs...)
		if err != nil {
			return out, err
		}
	}
	return s.expose(out), nil
}

// attributeBlobs attributes the findings in blobs to the commits and paths
// that introduced each key, and reports the blobs no commit holds.
func (s *Source) attributeBlobs(ctx context.Context, blobs map[plumbing.Hash]map[string][]scanner.Finding, reach reachability) ([]scanner.Finding, error) {
	keysOf := map[plumbing.Hash]map[string]bool{}
	for h, m := range blobs {
		keysOf[h] = map[string]bool{}
		for k := range m {
			keysOf[h][k] = true
		}
	}
	s.found = keysOf
	best, seen, err := s.bestIntroductions(ctx, s.candidates(blobs), keysOf, reach)
	if err != nil {
		return nil, err
	}
	head := s.newHeadView(keysOf, best)
	var out []scanner.Finding
	for _, kp := range sortedKeyPaths(best) {
		in := best[kp]
		for _, f := range blobs[in.blob][kp.key] {
			out = append(out, s.introducedFinding(f, kp, in, head))
		}
	}
	return append(out, s.unattributed(blobs, seen)...), nil
}

// introducedFinding is a blob's finding at the commit and path that
// introduced its key.
func (s *Source) introducedFinding(f scanner.Finding, kp keyPath, in introduction, head headView) scanner.Finding {
	c := in.commit
	// A key inside an archive blob keeps its member part
	// ("backup.tgz!config/app.env"): the blob's own path replaces the
	// hash the archive expander had to name it by.
	f.Path = kp.path + memberPath(f.Path, kp.path, f.Object)
	f.Commit, f.Author, f.Email, f.Date = c.hash.String(), c.author, c.email, c.date()
	f.Reachable = in.reachable
	f.AtHead = head.atHead(kp)
	f.Attribution = in.doubt
	return f
}

// sortedKeyPaths orders the (key, path) pairs, so output does not depend
// on map order.
func sortedKeyPaths(m map[keyPath]introduction) []keyPath {
	out := make([]keyPath, 0, len(m))
	for kp := range m {
		out = append(out, kp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].path != out[j].path {
			return out[i].path < out[j].path
		}
		return out[i].key < out[j].key
	})
	return out
}

// candidates lists the commits that may have introduced a found blob: all
// of them in a full audit, those whose diff added one in a range scan;
// oldest first, which keeps the tree cache warm.
func (s *Source) candidates(blobs map[plumbing.Hash]map[string][]scanner.Finding) []*commitInfo {
	var todo []*commitInfo
	if s.rangeMode {
		set := map[plumbing.Hash]bool{}
		for h := range blobs {
			for _, c := range s.intro[h] {
				set[c] = true
			}
		}
		for _, h := range sortedHashes(set) {
			todo = append(todo, s.commits[h])
		}
	} else {
		for _, h := range sortedHashes(s.commits) {
			todo = append(todo, s.commits[h])
		}
	}
	sort.SliceStable(todo, func(i, j int) bool { return todo[i].when < todo[j].when })
	return todo
}

// keylessSubtrees returns the diff pruning of a full audit: every blob was
// scanned, so a subtree pair in which no tree holds a blob with a key
// cannot gain or lose one, and most commits are never diffed at all. A
// range scan has no pruning (nil).
func (s *Source) keylessSubtrees() func(plumbing.Hash, []plumbing.Hash) bool {
	if s.rangeMode {
		return nil
	}
	memo := map[plumbing.Hash]bool{}
	return func(nt plumbing.Hash, ots []plumbing.Hash) bool {
		if s.treeHasKey(nt, memo) {
			return false
		}
		for _, ot := range ots {
			if s.treeHasKey(ot, memo) {
				return false
			}
		}
		return true
	}
}

// headView says whether a key still sits on a path at HEAD.
type headView struct {
	s        *Source
	known    bool // false: HEAD names a commit that cannot be read
	tree     plumbing.Hash
	paths    map[string]map[string]bool // key -> paths at HEAD holding it
	reported map[keyPath]bool
}

func (s *Source) newHeadView(keysOf map[plumbing.Hash]map[string]bool, best map[keyPath]introduction) headView {
	v := headView{s: s, paths: map[string]map[string]bool{}, reported: map[keyPath]bool{}}
	for kp := range best {
		v.reported[kp] = true
	}
	h, state := s.head()
	v.known = state != headBroken
	if state != headOK {
		return v
	}
	c, err := s.commitInfo(h)
	if err != nil {
		v.known = false
		return v
	}
	v.tree = c.tree
	_ = s.walkBlobs(c.tree, "", func(p string, b plumbing.Hash) {
		for k := range keysOf[b] {
			if v.paths[k] == nil {
				v.paths[k] = map[string]bool{}
			}
			v.paths[k][p] = true
		}
	})
	return v
}

// atHead is true, false, or nil when HEAD cannot be read.
func (v headView) atHead(kp keyPath) *bool {
	if !v.known {
		return nil
	}
	if v.paths[kp.key][kp.path] {
		return boolPtr(true)
	}
	if v.tree.IsZero() {
		return boolPtr(false)
	}
	// A blob we did not scan (range mode) may still hold it there.
	if b, ok := v.s.blobAt(v.tree, kp.path); ok && v.s.containsKey(b, kp.key) {
		return boolPtr(true)
	}
	// Renamed since: the key lives on at a path not reported itself.
	for p := range v.paths[kp.key] {
		if !v.reported[keyPath{kp.key, p}] {
			return boolPtr(true)
		}
	}
	return boolPtr(false)
}

// containsKey reports whether blob b holds key k. Blobs that were scanned
// are answered from the findings; in a range scan, older blobs (the
// parents' side of a diff) are read and searched.
func (s *Source) containsKey(b plumbing.Hash, k string) bool {
	if !s.rangeMode || s.scanned[b] {
		return s.keyFound(b, k)
	}
	ck := containsKey{b, k}
	s.containsMu.Lock()
	v, ok := s.contains[ck]
	s.containsMu.Unlock()
	if ok {
		return v
	}
	t, data, err := s.st.read(b)
	v = err == nil && t == typBlob && bytes.Contains(data, []byte(k))
	s.containsMu.Lock()
	s.contains[ck] = v
	s.containsMu.Unlock()
	return v
}

// keyFound is set by Finish: whether the scan found k in blob b.
func (s *Source) keyFound(b plumbing.Hash, k string) bool {
	return s.found[b][k]
}

// treeHasKey reports whether tree t holds, at any depth, a blob in which the
// scan found a key. Each distinct tree is read once (memo); reading stops at
// the first such blob.
func (s *Source) treeHasKey(t plumbing.Hash, memo map[plumbing.Hash]bool) bool {
	if t.IsZero() {
		return false
	}
	if v, ok := memo[t]; ok {
		return v
	}
	memo[t] = false // a (corrupt) cycle ends here
	typ, data, err := s.st.read(t)
	if err != nil || typ != typTree {
		return false
	}
	found := false
	var subs []plumbing.Hash
	_ = walkTree(data, func(_ []byte, mode uint32, hb []byte) {
		if found {
			return
		}
		e := treeEntry{mode: mode}
		var h plumbing.Hash
		copy(h[:], hb)
		switch {
		case e.isGitlink():
		case e.isTree():
			subs = append(subs, h)
		default:
			if s.found[h] != nil {
				found = true
			}
		}
	})
	for _, sub := range subs {
		if found {
			break
		}
		found = s.treeHasKey(sub, memo)
	}
	memo[t] = found
	return found
}

// walkBlobs calls fn for every blob under tree t.
func (s *Source) walkBlobs(t plumbing.Hash, prefix string, fn func(string, plumbing.Hash)) error {
	ents, err := s.treeEntries(t)
	if err != nil {
		return err
	}
	for _, e := range ents {
		switch {
		case e.isGitlink():
		case e.isTree():
			if err := s.walkBlobs(e.hash, prefix+e.name+"/", fn); err != nil {
				return err
			}
		default:
			fn(prefix+e.name, e.hash)
		}
	}
	return nil
}

// reachability is which commits and tags some ref reaches.
type reachability struct {
	commits, tags map[plumbing.Hash]bool
	// complete is false when a ref could not be read or names a missing
	// object, or a reached commit's parent is missing: what the walk did
	// not reach may still be reachable, so it is unknown, not unreachable.
	complete bool
}

// commit says whether commit h is reachable: true, false, or nil (unknown).
func (r reachability) commit(h plumbing.Hash) *bool { return r.of(r.commits[h]) }

// tag is commit for annotated tags.
func (r reachability) tag(h plumbing.Hash) *bool { return r.of(r.tags[h]) }

func (r reachability) of(reached bool) *bool {
	if !reached && !r.complete {
		return nil
	}
	return boolPtr(reached)
}

// reachable walks from every ref tip. A tip that is missing only loses
// what it alone reaches: the other refs still count.
func (s *Source) reachable() reachability {
	r := reachability{commits: map[plumbing.Hash]bool{}, tags: map[plumbing.Hash]bool{}, complete: true}
	if s.rangeMode {
		for h := range s.inRange {
			r.commits[h] = true
		}
		for h := range s.inRangeTag {
			r.tags[h] = true
		}
		return r
	}
	if len(s.refs.probs) > 0 {
		r.complete = false
	}
	var stack []plumbing.Hash
	for _, tip := range s.refs.tips {
		h := tip.hash
		for depth := 0; depth < 10; depth++ {
			t := s.tags[h]
			if t == nil {
				break
			}
			r.tags[h] = true
			h = t.target
		}
		if !s.st.has(h) {
			r.complete = false
		}
		stack = append(stack, h)
	}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := s.commits[h]
		if c == nil || r.commits[h] {
			continue
		}
		r.commits[h] = true
		if !s.shallow[h] && s.parentMissing(c) {
			r.complete = false
		}
		stack = append(stack, c.parents...)
	}
	return r
}

// parentMissing reports whether some parent of c is not in the store
// (shallow boundaries aside): then c's diff against its parents, and what
// lies below it, are unknown.
func (s *Source) parentMissing(c *commitInfo) bool {
	for _, p := range c.parents {
		if !s.st.has(p) {
			return true
		}
	}
	return false
}

// peel follows a tag to the object it finally names.
func (s *Source) peel(h plumbing.Hash) plumbing.Hash {
	for depth := 0; depth < 10; depth++ {
		t := s.tags[h]
		if t == nil {
			break
		}
		h = t.target
	}
	return h
}

func boolPtr(b bool) *bool { return &b }

// reachRank orders reachability: reachable, unknown, unreachable.
func reachRank(r *bool) int {
	switch {
	case r == nil:
		return 1
	case *r:
		return 2
	}
	return 0
}

func nopReader(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

func splitLines(b []byte) []string { return strings.Split(string(b), "\n") }

func cutPrefix(s, p string) (string, bool) { return strings.CutPrefix(s, p) }
