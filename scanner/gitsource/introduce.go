package gitsource

import (
	"context"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
)

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
		gains, err := s.introductions(c, keysOf, seen, skip)
		in := s.introductionAt(c, reach, err)
		for _, g := range gains {
			in.blob = g.blob
			if cur, ok := best[g.kp]; !ok || in.better(cur) {
				best[g.kp] = in
			}
		}
	}
	return best, seen, nil
}

// introductionAt is what an introduction by commit c is worth. A commit
// whose parent is missing was diffed against nothing: everything looks
// introduced there, so it only counts when no commit with a known
// parentage introduced the key, and then it says so. A tree that could
// not be read (diffErr) was recorded where it was met; the readable part
// of the diff still counts, with the same warning.
func (s *Source) introductionAt(c *commitInfo, reach reachability, diffErr error) introduction {
	in := introduction{commit: c, certain: true, reachable: reach.commit(c.hash)}
	if s.rangeMode {
		in.reachable = boolPtr(true)
		return in
	}
	if !s.shallow[c.hash] && s.parentMissing(c) {
		in.certain = false
		in.doubt = fmt.Sprintf("uncertain: a parent of commit %s is missing from the object store (damaged or truncated pack?), so an older commit may have introduced the key", c.hash)
	} else if diffErr != nil {
		in.doubt = fmt.Sprintf("uncertain: part of commit %s could not be read (%v), so its diff against its parents is incomplete", c.hash, diffErr)
	}
	return in
}

// gain is a (key, path) a commit introduced, and the blob holding it.
type gain struct {
	kp   keyPath
	blob plumbing.Hash
}

// change is one path a commit's diff touched: the new blob and the
// parents' blobs there.
type change struct {
	path string
	nb   plumbing.Hash
	obs  []plumbing.Hash
}

// introductions finds the (key, path) pairs commit c introduced. A key is
// introduced on path p when c holds it there and no parent does, unless
// it is a rename (see notRenamed).
func (s *Source) introductions(c *commitInfo, keysOf map[plumbing.Hash]map[string]bool, seen map[plumbing.Hash]bool, skip func(plumbing.Hash, []plumbing.Hash) bool) ([]gain, error) {
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
		return nil, err
	}
	var out []gain
	for k, gs := range s.keyGains(changes, keysOf) {
		for _, g := range notRenamed(gs, s.keyLosses(changes, keysOf, k)) {
			out = append(out, gain{keyPath{k, g.path}, g.nb})
		}
	}
	return out, err
}

// keyGains lists, per key, the changed paths whose new blob holds the key
// and none of whose old blobs do.
func (s *Source) keyGains(changes []change, keysOf map[plumbing.Hash]map[string]bool) map[string][]change {
	gains := map[string][]change{}
	for _, ch := range changes {
		for k := range keysOf[ch.nb] {
			if !s.anyHas(ch.obs, k) {
				gains[k] = append(gains[k], ch)
			}
		}
	}
	return gains
}

// keyLosses lists the changed paths an old blob of which held key k and
// whose new blob does not.
func (s *Source) keyLosses(changes []change, keysOf map[plumbing.Hash]map[string]bool, k string) []string {
	var losses []string
	for _, ch := range changes {
		if !keysOf[ch.nb][k] && s.anyHas(ch.obs, k) {
			losses = append(losses, ch.path)
		}
	}
	return losses
}

// anyHas reports whether some of the blobs holds key k.
func (s *Source) anyHas(obs []plumbing.Hash, k string) bool {
	for _, o := range obs {
		if !o.IsZero() && s.containsKey(o, k) {
			return true
		}
	}
	return false
}

// notRenamed returns the gains of one key that are not renames. When the
// same commit also removed the key from other paths (losses), that many of
// the new paths are renames, paired by file name first, then in path
// order, and are not introductions; the rest are copies and are.
func notRenamed(gs []change, losses []string) []change {
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
	var out []change
	for i, g := range gs {
		if !renamed[i] {
			out = append(out, g)
		}
	}
	return out
}
