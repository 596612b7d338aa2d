package gitsource

import (
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner/staged"
)

// stagedPaths returns, for each of the given blobs that the index of the
// audited work tree names, its index paths. It is called only for found
// blobs no commit holds (staged, not committed), so the index is read only
// when such a blob exists, and only those blobs are kept.
func (s *Source) stagedPaths(blobs []plumbing.Hash) map[plumbing.Hash][]string {
	if s.rangeMode || s.loc.WorkTree == "" || len(blobs) == 0 {
		return nil
	}
	ents, err := staged.ReadIndex(filepath.Join(s.loc.GitDir, "index"))
	if err != nil {
		// The blobs were scanned all the same; only their attribution
		// suffers.
		s.feed.Note(fmt.Sprintf("the index could not be read (%v): keys only staged are reported as objects no ref reaches", err))
		return nil
	}
	want := make(map[plumbing.Hash]bool, len(blobs))
	for _, b := range blobs {
		want[b] = true
	}
	out := map[plumbing.Hash][]string{}
	for _, e := range ents {
		if e.Gitlink || e.IntentToAdd || !want[e.Hash] {
			continue
		}
		if !containsString(out[e.Hash], e.Path) {
			out[e.Hash] = append(out[e.Hash], e.Path)
		}
	}
	return out
}
