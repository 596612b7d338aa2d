package gitsource

import (
	"bytes"
	"context"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/names"
)

// Keys in names (DESIGN §4, part "name"). A tree object is already read
// whole by the blob-first scan (to check that what it names is there); a
// tree whose bytes hold the prefix "xai-" — one bytes.Index over bytes in
// memory — is scanned as the list of its entry names, and only the rare
// trees that hold a key are attributed after the scan: each path whose
// last element holds the key is reported once, at the commit that
// introduced that path (no parent holds it), with the tree as Object.

// treeNames returns what is scanned of a tree: nil when no entry name can
// hold a key, else its entry names, one per line.
func treeNames(data []byte) []byte {
	if !bytes.Contains(data, []byte(rules.Prefix)) {
		return nil
	}
	var b bytes.Buffer
	_ = walkTree(data, func(name []byte, _ uint32, _ []byte) {
		if bytes.Contains(name, []byte(rules.Prefix)) {
			b.Write(name)
			b.WriteByte('\n')
		}
	})
	if b.Len() == 0 {
		// The prefix was in a binary object id, not in a name.
		return nil
	}
	return b.Bytes()
}

// markNameTree records that tree h was scanned for keys in its names, so
// Finish tells its findings from a blob's.
func (s *Source) markNameTree(h plumbing.Hash) {
	s.mu.Lock()
	if s.nameTrees == nil {
		s.nameTrees = map[plumbing.Hash]bool{}
	}
	s.nameTrees[h] = true
	s.mu.Unlock()
}

// nameHit is a path whose last element holds a key, in one commit's tree.
type nameHit struct {
	kp    keyPath
	start int           // offset of the last element in kp.path
	tree  plumbing.Hash // the tree whose entry it is
}

// attributeNames reports the keys found in tree entry names: for each
// (key, path) the best introduction among the commits (oldest first) whose
// tree holds the path and no parent's does; trees no commit holds are
// reported by the entry name alone, unreachable.
func (s *Source) attributeNames(ctx context.Context, trees map[plumbing.Hash][]scanner.Finding, reach reachability) ([]scanner.Finding, error) {
	if len(trees) == 0 {
		return nil, nil
	}
	keyed := map[plumbing.Hash]map[string]bool{}
	tmpl := map[string]scanner.Finding{}
	for h, fs := range trees {
		keyed[h] = map[string]bool{}
		for _, f := range fs {
			keyed[h][f.Key] = true
			if _, ok := tmpl[f.Key]; !ok {
				tmpl[f.Key] = f
			}
		}
	}
	w := nameWalk{s: s, keyed: keyed, memo: map[plumbing.Hash]bool{}, seen: map[plumbing.Hash]bool{}}
	best := map[keyPath]introduction{}
	where := map[keyPath]nameHit{}
	for _, c := range s.candidates(nil) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if c == nil {
			continue
		}
		for _, hit := range w.introduced(c) {
			in := s.introductionAt(c, reach, nil)
			in.blob = hit.tree
			if cur, ok := best[hit.kp]; !ok || in.better(cur) {
				best[hit.kp], where[hit.kp] = in, hit
			}
		}
	}
	head := s.nameHead()
	var out []scanner.Finding
	for _, kp := range sortedKeyPaths(best) {
		in, hit := best[kp], where[kp]
		f := nameFinding(tmpl[kp.key], kp, hit.start, in.blob)
		c := in.commit
		f.Commit, f.Author, f.Email, f.Date = c.hash.String(), c.author, c.email, c.date()
		f.Reachable, f.Attribution = in.reachable, in.doubt
		f.AtHead = head(kp.path)
		out = append(out, f)
	}
	return append(out, w.unattributed(tmpl)...), nil
}

// nameFinding is the finding of key kp.key in the last element (at start)
// of kp.path, in tree.
func nameFinding(t scanner.Finding, kp keyPath, start int, tree plumbing.Hash) scanner.Finding {
	t.Path, t.Part, t.Object = kp.path, names.Part, tree.String()
	t.Line, t.Column = 1, start+strings.Index(kp.path[start:], kp.key)+1
	t.Offset = int64(t.Column - 1)
	return t
}

// nameHead says whether a path is in HEAD's tree: true, false, or nil
// when HEAD cannot be read.
func (s *Source) nameHead() func(string) *bool {
	h, state := s.head()
	if state == headBroken {
		return func(string) *bool { return nil }
	}
	var tree plumbing.Hash
	if state == headOK {
		c, err := s.commitInfo(h)
		if err != nil {
			return func(string) *bool { return nil }
		}
		tree = c.tree
	}
	return func(p string) *bool { return boolPtr(!tree.IsZero() && s.hasPath(tree, p)) }
}

// nameWalk finds the keyed names in commits' trees, entering only the
// subtrees that hold one at some depth.
type nameWalk struct {
	s     *Source
	keyed map[plumbing.Hash]map[string]bool // tree -> keys found in its entry names
	memo  map[plumbing.Hash]bool            // tree -> holds a keyed tree at some depth
	seen  map[plumbing.Hash]bool            // keyed trees some commit holds
}

// introduced lists the keyed paths of commit c that none of its parents
// has.
func (w *nameWalk) introduced(c *commitInfo) []nameHit {
	var hits []nameHit
	w.walk(c.tree, "", &hits)
	if len(hits) == 0 {
		return nil
	}
	var parents []plumbing.Hash
	for _, p := range c.parents {
		if pc, err := w.s.commitInfo(p); err == nil {
			parents = append(parents, pc.tree)
		}
	}
	out := hits[:0]
	for _, h := range hits {
		old := false
		for _, pt := range parents {
			if w.s.hasPath(pt, h.kp.path) {
				old = true
				break
			}
		}
		if !old {
			out = append(out, h)
		}
	}
	return out
}

// walk collects the keyed entry names under tree t (at prefix).
func (w *nameWalk) walk(t plumbing.Hash, prefix string, hits *[]nameHit) {
	if !w.holds(t) {
		return
	}
	ents, err := w.s.treeEntries(t)
	if err != nil {
		return
	}
	keys := w.keyed[t]
	if keys != nil {
		w.seen[t] = true
	}
	for _, e := range ents {
		for k := range keys {
			if strings.Contains(e.name, k) {
				*hits = append(*hits, nameHit{kp: keyPath{k, prefix + e.name}, start: len(prefix), tree: t})
			}
		}
		if e.isTree() {
			w.walk(e.hash, prefix+e.name+"/", hits)
		}
	}
}

// holds reports whether tree t, or a tree below it, has a keyed name.
// Each distinct tree is read once.
func (w *nameWalk) holds(t plumbing.Hash) bool {
	if t.IsZero() {
		return false
	}
	if v, ok := w.memo[t]; ok {
		return v
	}
	w.memo[t] = false // a (corrupt) cycle ends here
	found := w.keyed[t] != nil
	if !found {
		ents, _ := w.s.treeEntries(t)
		for _, e := range ents {
			if e.isTree() && w.holds(e.hash) {
				found = true
				break
			}
		}
	}
	w.memo[t] = found
	return found
}

// unattributed reports the keyed trees no commit holds (dangling trees,
// trees only a ref names directly), once per key and entry name: the name
// is all the path there is.
func (w *nameWalk) unattributed(tmpl map[string]scanner.Finding) []scanner.Finding {
	var out []scanner.Finding
	for _, t := range sortedHashes(w.keyed) {
		if w.seen[t] {
			continue
		}
		ents, err := w.s.treeEntries(t)
		if err != nil {
			continue
		}
		for _, e := range ents {
			for _, k := range sortedKeys(w.keyed[t]) {
				if strings.Contains(e.name, k) {
					f := nameFinding(tmpl[k], keyPath{k, e.name}, 0, t)
					f.Reachable, f.AtHead = boolPtr(false), boolPtr(false)
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// hasPath reports whether tree t has an entry (of any kind) at path p.
func (s *Source) hasPath(t plumbing.Hash, p string) bool {
	for {
		ents, err := s.treeEntries(t)
		if err != nil {
			return false
		}
		dir, rest, more := strings.Cut(p, "/")
		var found *treeEntry
		for k := range ents {
			if ents[k].name == dir {
				found = &ents[k]
				break
			}
		}
		switch {
		case found == nil:
			return false
		case !more:
			return true
		case !found.isTree():
			return false
		}
		t, p = found.hash, rest
	}
}

// sendRefNames scans the names of the refs (branches, tags, remote-tracking
// refs, notes, stash, worktree HEADs) for keys: a finding's Path is the
// ref name, its Object what the ref names.
func (s *Source) sendRefNames(ctx context.Context, feed scanner.Feed) error {
	seen := map[string]bool{}
	for _, r := range s.refs.tips {
		if seen[r.name] || strings.Contains(r.name, "@{") {
			continue // a reflog entry repeats its ref's name
		}
		seen[r.name] = true
		it, ok := names.Item(r.name, 0, scanner.SourceGit, r.hash.String(), scanner.Finding{})
		if !ok {
			continue
		}
		if err := feed.Send(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

// refNameFinding attributes a key in a ref's name: to the commit the ref
// finally names, when it names one, so the refs exposing it are listed.
func (s *Source) refNameFinding(f scanner.Finding) scanner.Finding {
	h, _ := parseHex(f.Object)
	if c := s.commits[s.peel(h)]; c != nil {
		f.Commit = c.hash.String()
	}
	f.Reachable = boolPtr(true)
	return f
}
