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
	reachable bool
}

// better orders candidate introductions of one (key, path): a reachable
// commit first, then the oldest author date, then the hash, so the choice
// is deterministic.
func (a introduction) better(b introduction) bool {
	if a.reachable != b.reachable {
		return a.reachable
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
func (s *Source) Finish(ctx context.Context, raw []scanner.Finding, feed scanner.Feed) ([]scanner.Finding, error) {
	s.feed = feed
	reachC, reachT := s.reachable()
	var out []scanner.Finding
	// firsts[blob][key] is the first finding of key in blob.
	firsts := map[plumbing.Hash]map[string]scanner.Finding{}
	for _, f := range raw {
		h, ok := parseHex(f.Object)
		if !ok {
			out = append(out, f)
			continue
		}
		if c := s.commits[h]; c != nil && f.Path == "" {
			f.Commit, f.Author, f.Email, f.Date = h.String(), c.author, c.email, c.date()
			f.Reachable = boolPtr(reachC[h])
			out = append(out, f)
			continue
		}
		if t := s.tags[h]; t != nil && f.Path == "" {
			f.Commit = s.peel(h).String()
			f.Author, f.Email = t.tagger, t.email
			if t.when != 0 {
				f.Date = (&commitInfo{when: t.when}).date()
			}
			f.Reachable = boolPtr(reachT[h])
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

	// Which commits may have introduced a key: all of them in a full
	// audit (oldest first, which keeps the tree cache warm), those whose
	// diff added a found blob in a range scan.
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

	// In a full audit every blob was scanned, so a subtree pair in which
	// no tree holds a blob with a key cannot gain or lose one: the diffs
	// skip it, and most commits are never diffed at all.
	var skip func(plumbing.Hash, []plumbing.Hash) bool
	if !s.rangeMode {
		memo := map[plumbing.Hash]bool{}
		skip = func(nt plumbing.Hash, ots []plumbing.Hash) bool {
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
	best := map[keyPath]introduction{}
	seen := map[plumbing.Hash]bool{} // found blobs some commit's tree holds
	for _, c := range todo {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if c == nil {
			continue
		}
		// A tree that cannot be read was recorded where it was met; the
		// readable part of the diff still counts.
		_ = s.introductions(c, keysOf, seen, skip, func(kp keyPath, blob plumbing.Hash) {
			in := introduction{commit: c, blob: blob, reachable: s.rangeMode || reachC[c.hash]}
			if cur, ok := best[kp]; !ok || in.better(cur) {
				best[kp] = in
			}
		})
	}

	// Where each key sits at HEAD, for AtHead.
	headPaths := map[string]map[string]bool{}
	headTree := plumbing.ZeroHash
	if h, ok := s.head(); ok {
		if c, err := s.commitInfo(h); err == nil {
			headTree = c.tree
			_ = s.walkBlobs(c.tree, "", func(p string, b plumbing.Hash) {
				for k := range keysOf[b] {
					if headPaths[k] == nil {
						headPaths[k] = map[string]bool{}
					}
					headPaths[k][p] = true
				}
			})
		}
	}
	reported := map[keyPath]bool{}
	for kp := range best {
		reported[kp] = true
	}
	atHead := func(kp keyPath) bool {
		if headPaths[kp.key][kp.path] {
			return true
		}
		if headTree.IsZero() {
			return false
		}
		// A blob we did not scan (range mode) may still hold it there.
		if b, ok := s.blobAt(headTree, kp.path); ok && s.containsKey(b, kp.key) {
			return true
		}
		// Renamed since: the key lives on at a path not reported itself.
		for p := range headPaths[kp.key] {
			if !reported[keyPath{kp.key, p}] {
				return true
			}
		}
		return false
	}

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
		f.Reachable = boolPtr(in.reachable)
		f.AtHead = boolPtr(atHead(kp))
		out = append(out, f)
	}
	// Found blobs no commit holds (dangling blobs): reported once per key,
	// with no path, as unreachable.
	for _, h := range sortedHashes(firsts) {
		if seen[h] {
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
	return out, nil
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

// reachable returns the commits and tags some ref reaches.
func (s *Source) reachable() (commits, tags map[plumbing.Hash]bool) {
	commits, tags = map[plumbing.Hash]bool{}, map[plumbing.Hash]bool{}
	if s.rangeMode {
		for h := range s.inRange {
			commits[h] = true
		}
		for h := range s.inRangeTag {
			tags[h] = true
		}
		return commits, tags
	}
	var stack []plumbing.Hash
	for _, h := range s.refTips() {
		for depth := 0; depth < 10; depth++ {
			t := s.tags[h]
			if t == nil {
				break
			}
			tags[h] = true
			h = t.target
		}
		stack = append(stack, h)
	}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := s.commits[h]
		if c == nil || commits[h] {
			continue
		}
		commits[h] = true
		stack = append(stack, c.parents...)
	}
	return commits, tags
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
