package staged

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// IndexEntry is one entry of a git index, as other scans (the history
// audit, the working-tree filter) need it.
type IndexEntry struct {
	// Path is slash-separated and relative to the work tree's top.
	Path string
	// Hash is the staged blob, or a submodule's commit for a gitlink.
	Hash plumbing.Hash
	// Stage is 0, or 1-3 for the sides of a merge conflict.
	Stage int
	// Gitlink marks a submodule entry.
	Gitlink bool
	// IntentToAdd marks a "git add -N" entry, whose content is not staged.
	IntentToAdd bool
}

// ReadIndex decodes the index file at path with the parser the staged scan
// uses (fast, and it accepts index.skipHash). A missing file is an empty
// index.
func ReadIndex(path string) ([]IndexEntry, error) {
	idx, err := readIndex(path)
	if err != nil {
		return nil, err
	}
	out := make([]IndexEntry, len(idx.entries))
	for i, e := range idx.entries {
		out[i] = IndexEntry{Path: e.name, Hash: e.hash, Stage: e.stage, Gitlink: e.mode == filemode.Submodule, IntentToAdd: e.intentToAdd}
	}
	return out, nil
}
