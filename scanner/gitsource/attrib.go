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
}

// better orders candidate introductions of one (key, path): a commit whose
// parents are known first, then a reachable one, then one of unknown
// reachability, then the oldest author date, then the hash, so the choice
// is deterministic.
func (a introduction) better(b introduction) bool {
	if a.certain != b.certain {
		return a.certain
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
// only carries a key already reported on its path).
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

// attribute is Finish's attribution of raw findings.
func (s *Source) attribute(ctx context.Context, raw []scanner.Finding) ([]scanner.Finding, error) {
	reach := s.reachable()
	out, firsts := s.attributeMessages(raw, reach)
	if len(firsts) == 0 {
		return out, nil
	}
	keysOf := map[plumbing.Hash]map[string]bool{}
	for h, m := range firsts {
		keysOf[h] = map[string]bool{}
		for k := range m {
			keysOf[h][k] = true
		}
	}
	s.found = keysOf
	best, seen, err := s.bestIntroductions(ctx, s.candidates(firsts), keysOf, reach)
	if err != nil {
		return out, err
	}
	head := s.newHeadView(keysOf, best)
	for kp, in := range best {
		f, ok := firsts[in.blob][kp.key]
		if !ok {
			continue
		}
		c := in.commit
		// A key inside an archive blob keeps its member part
		// ("backup.tgz!config/app.env"): the blob's own path replaces
		// the hash the archive expander had to name it by.
		f.Path = kp.path + memberSuffix(f.Path)
		f.Commit, f.Author, f.Email, f.Date = c.hash.String(), c.author, c.email, c.date()
		f.Reachable = in.reachable
		f.AtHead = head.atHead(kp)
		out = append(out, f)
	}
	return append(out, s.unattributed(firsts, seen)...), nil
}

// attributeMessages fills in the commit or tag of message findings and
// returns them, with the first finding of each key in each other object
// (blobs), by object.
func (s *Source) attributeMessages(raw []scanner.Finding, reach reachability) ([]scanner.Finding, map[plumbing.Hash]map[string]scanner.Finding) {
	var out []scanner.Finding
	firsts := map[plumbing.Hash]map[string]scanner.Finding{}
	for _, f := range raw {
		h, ok := parseHex(f.Object)
		if !ok {
			out = append(out, f)
			continue
		}
		if c := s.commits[h]; c != nil && f.Path == "" {
			f.Commit, f.Author, f.Email, f.Date = h.String(), c.author, c.email, c.date()
			f.Reachable = reach.commit(h)
			out = append(out, f)
			continue
		}
		if t := s.tags[h]; t != nil && f.Path == "" {
			f.Commit = s.peel(h).String()
			f.Author, f.Email = t.tagger, t.email
			if t.when != 0 {
				f.Date = (&commitInfo{when: t.when}).date()
			}
			f.Reachable = reach.tag(h)
			out = append(out, f)
			continue
		}
		m := firsts[h]
		if m == nil {
			m = map[string]scanner.Finding{}
			firsts[h] = m
		}
		if prev, ok := m[f.Key]; !ok || f.Offset < prev.Offset {
			m[f.Key] = f
		}
	}
	return out, firsts
}

// candidates lists the commits that may have introduced a found blob: all
// of them in a full audit, those whose diff added one in a range scan;
// oldest first, which keeps the tree cache warm.
func (s *Source) candidates(firsts map[plumbing.Hash]map[string]scanner.Finding) []*commitInfo {
	var todo []*commitInfo
	if s.rangeMode {
		set := map[plumbing.Hash]bool{}
		for h := range firsts {
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

// bestIntroductions diffs the candidate commits and keeps, for each (key,
// path), the best introduction. It also returns the found blobs some
// commit's tree holds.
func (s *Source) bestIntroductions(ctx context.Context, todo []*commitInfo, keysOf map[plumbing.Hash]map[string]bool, reach reachability) (map[keyPath]introduction, map[plumbing.Hash]bool, error) {
	skip := s.keylessSubtrees()
	best := map[keyPath]introduction{}
	seen := map[plumbing.Hash]bool{}
	for _, c := range todo {
		if err := ctx.Err(); err != nil {
			return best, seen, err
		}
		if c == nil {
			continue
		}
		// A commit whose parent is missing was diffed against nothing:
		// everything looks introduced there, so it only counts when no
		// commit with a known parentage introduced the key.
		certain := s.rangeMode || s.shallow[c.hash] || !s.parentMissing(c)
		reachable := reach.commit(c.hash)
		if s.rangeMode {
			reachable = boolPtr(true)
		}
		// A tree that cannot be read was recorded where it was met; the
		// readable part of the diff still counts.
		_ = s.introductions(c, keysOf, seen, skip, func(kp keyPath, blob plumbing.Hash) {
			in := introduction{commit: c, blob: blob, certain: certain, reachable: reachable}
			if cur, ok := best[kp]; !ok || in.better(cur) {
				best[kp] = in
			}
		})
	}
	return best, seen, nil
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

// unattributed reports the found blobs no commit holds: staged content,
// at its index path; or dangling blobs, once per key, with no path, as
// unreachable.
func (s *Source) unattributed(firsts map[plumbing.Hash]map[string]scanner.Finding, seen map[plumbing.Hash]bool) []scanner.Finding {
	var out []scanner.Finding
	var unseen []plumbing.Hash
	for _, h := range sortedHashes(firsts) {
		if !seen[h] {
			unseen = append(unseen, h)
		}
	}
	staged := s.stagedPaths(unseen)
	for _, h := range unseen {
		if paths := staged[h]; len(paths) > 0 {
			out = append(out, stagedFindings(firsts[h], paths)...)
			continue
		}
		for _, f := range firsts[h] {
			// No path is known; an archive member keeps "<blob>!member".
			if memberSuffix(f.Path) == "" {
				f.Path = ""
			}
			f.Reachable = boolPtr(false)
			f.AtHead = boolPtr(false)
			out = append(out, f)
		}
	}
	return out
}

// stagedFindings reports the keys of a blob only the index names as
// staged content, once per index path that holds it.
func stagedFindings(keys map[string]scanner.Finding, paths []string) []scanner.Finding {
	var out []scanner.Finding
	for _, p := range paths {
		for _, f := range keys {
			f.Source = scanner.SourceStaged
			f.Path = p + memberSuffix(f.Path)
			f.Commit, f.Author, f.Email, f.Date = "", "", "", ""
			f.Reachable, f.AtHead = nil, nil
			out = append(out, f)
		}
	}
	return out
}

// introductions finds the (key, path) pairs commit c introduced. A key is
// introduced on path p when c holds it there and no parent does. When the
// same commit also removed the key from other paths, that many of the new
// paths are renames (paired by file name first) and are not introductions;
// the rest are copies and are.
func (s *Source) introductions(c *commitInfo, keysOf map[plumbing.Hash]map[string]bool, seen map[plumbing.Hash]bool, skip func(plumbing.Hash, []plumbing.Hash) bool, fn func(keyPath, plumbing.Hash)) error {
	type change struct {
		path string
		nb   plumbing.Hash
		obs  []plumbing.Hash
	}
	var changes []change
	relevant := false
	err := s.diffCommitPruned(c, skip, func(p string, nb plumbing.Hash, obs []plumbing.Hash) {
		changes = append(changes, change{p, nb, obs})
		if keysOf[nb] != nil {
			relevant = true
			seen[nb] = true
		}
	})
	if !relevant {
		return err
	}
	anyHas := func(obs []plumbing.Hash, k string) bool {
		for _, o := range obs {
			if !o.IsZero() && s.containsKey(o, k) {
				return true
			}
		}
		return false
	}
	gains := map[string][]change{}
	for _, ch := range changes {
		for k := range keysOf[ch.nb] {
			if !anyHas(ch.obs, k) {
				gains[k] = append(gains[k], ch)
			}
		}
	}
	for k, gs := range gains {
		var losses []string
		for _, ch := range changes {
			if !keysOf[ch.nb][k] && anyHas(ch.obs, k) {
				losses = append(losses, ch.path)
			}
		}
		// Pair renames: same file name first, then in path order.
		sort.Slice(gs, func(i, j int) bool { return gs[i].path < gs[j].path })
		sort.Strings(losses)
		renamed := make([]bool, len(gs))
		used := make([]bool, len(losses))
		for pass := 0; pass < 2; pass++ {
			for i, g := range gs {
				if renamed[i] {
					continue
				}
				for j, l := range losses {
					if !used[j] && (pass == 1 || baseName(l) == baseName(g.path)) {
						used[j], renamed[i] = true, true
						break
					}
				}
			}
		}
		for i, g := range gs {
			if !renamed[i] {
				fn(keyPath{k, g.path}, g.nb)
			}
		}
	}
	return err
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

// memberSuffix returns the "!member/path" part of a finding's path inside
// an archive blob, or "".
func memberSuffix(p string) string {
	if i := strings.IndexByte(p, '!'); i >= 0 {
		return p[i:]
	}
	return ""
}
