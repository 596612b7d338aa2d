package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// missingObj is an object the repository refers to and does not hold.
// Missing objects are collected during the scan and reported by Finish,
// once the walk of commits can name the path and commit each was for.
type missingObj struct {
	hash plumbing.Hash
	kind string // "blob", "tree", "commit" or "object"
	// path and commit say where the object belongs, when known.
	path   string
	commit plumbing.Hash
	// tree and name are the tree entry that names the object, from which
	// Finish finds its path and commit.
	tree plumbing.Hash
	name string
	// role says what the object is for when it is not a tree entry: "the
	// root tree of commit X", "a parent of commit X", "the target of tag ...".
	role string
}

// reason is the coverage entry's reason: what the object was for, in the
// most precise terms known.
func (m *missingObj) reason(promisor bool) string {
	var r string
	switch {
	case m.path != "" && !m.commit.IsZero():
		r = fmt.Sprintf("missing object: %s for %s at commit %s", m.kind, m.path, m.commit)
	case m.role != "":
		r = fmt.Sprintf("missing object: %s, %s", m.kind, m.role)
	case !m.tree.IsZero():
		r = fmt.Sprintf("missing object: %s %q in tree %s (no commit in the store holds that tree)", m.kind, m.name, m.tree)
	default:
		r = "missing object: " + m.kind
	}
	if promisor {
		r += " (partial clone: the object was never fetched)"
	}
	return r
}

// noteMissing records a missing object once. The first MaxSkipped are
// kept to be listed one by one; the rest are only counted.
func (s *Source) noteMissing(m missingObj) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.missing[m.hash] {
		return
	}
	s.missing[m.hash] = true
	s.nMissing++
	if len(s.listed) < s.opts.MaxSkipped {
		s.listed = append(s.listed, &m)
	}
}

// reportUnreadable records an object that a walk needed and could not
// read, once. In a full audit every object in the store was already sent to
// the engine, which recorded its failure, so only missing objects are added
// here.
func (s *Source) reportUnreadable(h plumbing.Hash, kind string, err error) {
	if errors.Is(err, errMissing) {
		s.noteMissing(missingObj{hash: h, kind: kind})
		return
	}
	if !s.rangeMode {
		return
	}
	s.mu.Lock()
	dup := s.missing[h]
	s.missing[h] = true
	s.mu.Unlock()
	if !dup {
		s.feed.Skip(scanner.ErrorAt(h.String(), fmt.Sprintf("cannot read %s: %v", kind, err)))
	}
}

// flushMissing names each listed missing object by its path and commit
// where a commit's tree leads to it, then records them all.
func (s *Source) flushMissing(ctx context.Context) {
	s.locateMissing(ctx)
	s.mu.Lock()
	listed, n := s.listed, s.nMissing
	s.listed = nil
	s.mu.Unlock()
	for _, m := range listed {
		s.feed.Skip(scanner.ErrorAt(m.hash.String(), m.reason(s.promisor)))
	}
	if n > len(listed) {
		s.feed.Skip(scanner.ErrorAt("(more objects)", fmt.Sprintf("%d more objects are missing; only the first %d are listed", n-len(listed), len(listed))))
	}
}

// locateMissing finds, for each listed object met as a tree entry, the
// oldest commit whose tree holds it and its path there. Each tree is read
// at most once, so the walk costs at most one pass over the store's trees,
// and only a damaged store pays it.
func (s *Source) locateMissing(ctx context.Context) {
	want := map[plumbing.Hash]*missingObj{}
	for _, m := range s.listed {
		if m.path == "" && !m.tree.IsZero() {
			want[m.hash] = m
		}
	}
	if len(want) == 0 {
		return
	}
	commits := make([]*commitInfo, 0, len(s.commits))
	for _, c := range s.commits {
		commits = append(commits, c)
	}
	sort.Slice(commits, func(i, j int) bool {
		if commits[i].when != commits[j].when {
			return commits[i].when < commits[j].when
		}
		return bytes.Compare(commits[i].hash[:], commits[j].hash[:]) < 0
	})
	done := map[plumbing.Hash]bool{}
	for _, c := range commits {
		if ctx.Err() != nil || len(want) == 0 {
			return
		}
		s.locateIn(c, c.tree, "", want, done)
	}
}

// locateIn walks tree t of commit c for the wanted objects. It reads raw
// tree objects (walkTree allocates nothing) and builds a path only for
// what it finds: the walk may cover every tree of a partial clone.
func (s *Source) locateIn(c *commitInfo, t plumbing.Hash, prefix string, want map[plumbing.Hash]*missingObj, done map[plumbing.Hash]bool) {
	if done[t] || len(want) == 0 {
		return
	}
	done[t] = true
	typ, data, err := s.st.read(t)
	if err != nil || typ != typTree {
		return
	}
	var subs []treeEntry
	_ = walkTree(data, func(name []byte, mode uint32, hb []byte) {
		e := treeEntry{mode: mode}
		if e.isGitlink() {
			return
		}
		copy(e.hash[:], hb)
		if m := want[e.hash]; m != nil {
			m.path, m.commit = prefix+string(name), c.hash
			delete(want, e.hash)
		}
		if e.isTree() && !done[e.hash] {
			e.name = string(name)
			subs = append(subs, e)
		}
	})
	for _, e := range subs {
		s.locateIn(c, e.hash, prefix+e.name+"/", want, done)
	}
}
