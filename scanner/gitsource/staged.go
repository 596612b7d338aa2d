package gitsource

import (
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner/staged"
)

// readStaged reads the index of the work tree being audited. A blob only
// the index names (staged, not committed) is then reported as staged
// content at its index path, not as an object no ref reaches.
func (s *Source) readStaged() {
	if s.loc.WorkTree == "" {
		return
	}
	ents, err := staged.ReadIndex(filepath.Join(s.loc.GitDir, "index"))
	if err != nil {
		// The blobs are scanned all the same; only their attribution
		// suffers.
		s.feed.Note(fmt.Sprintf("the index could not be read (%v): keys only staged are reported as objects no ref reaches", err))
		return
	}
	s.staged = map[plumbing.Hash][]string{}
	for _, e := range ents {
		if e.Gitlink || e.IntentToAdd {
			continue
		}
		if !containsString(s.staged[e.Hash], e.Path) {
			s.staged[e.Hash] = append(s.staged[e.Hash], e.Path)
		}
	}
}
