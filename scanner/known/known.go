// Package known decides which findings are already known and must not be
// reported again: keys in a baseline (an earlier JSON report), keys listed
// in the .xaiscanignore file, and the ignore entries and allowed paths of
// .xaiscan.toml.
//
// Every entry names a key by its fingerprint (the SHA-256 of the key), never
// by a line number, so the filter is the same in every mode (files,
// history, staged, pre-push, stdin): moving a key to another line does not
// resurrect it, and a different key written on an ignored line is still
// caught.
//
// These files can come with the content being scanned (a stranger's
// repository holds its own .xaiscanignore and .xaiscan.toml), so each is
// read under a size limit far above real use, with memory linear in its
// size, and errors never echo a key.
package known

import (
	"encoding/hex"

	"github.com/xaiscan/xaiscan/scanner"
)

// Entry is one known key.
type Entry struct {
	// Fingerprint is the hex SHA-256 of the key (either case). An entry
	// whose fingerprint is not 64 hex digits matches nothing.
	Fingerprint string
	// Scope, when set, limits the entry to the paths it matches;
	// unscoped entries match the key anywhere, commit messages included.
	Scope *Glob
}

// fingerprint is a decoded key fingerprint: half the memory of its hex
// form, and no string to keep alive per entry.
type fingerprint [32]byte

// parseFingerprint decodes 64 hex digits (either case).
func parseFingerprint(s string) (fingerprint, bool) {
	var fp fingerprint
	if len(s) != 64 {
		return fp, false
	}
	_, err := hex.Decode(fp[:], []byte(s))
	return fp, err == nil
}

// isFingerprint reports whether s is 64 hex digits.
func isFingerprint(s string) bool {
	_, ok := parseFingerprint(s)
	return ok
}

// Set is a set of known keys. The zero Set is empty and ready to use.
type Set struct {
	anywhere map[fingerprint]struct{}
	scoped   map[fingerprint][]*Glob
	n        int
}

// Add adds e to the set.
func (s *Set) Add(e Entry) {
	fp, ok := parseFingerprint(e.Fingerprint)
	if !ok {
		return
	}
	s.add(fp, e.Scope)
}

func (s *Set) add(fp fingerprint, scope *Glob) {
	s.n++
	if scope == nil {
		if s.anywhere == nil {
			s.anywhere = map[fingerprint]struct{}{}
		}
		s.anywhere[fp] = struct{}{}
		return
	}
	if s.scoped == nil {
		s.scoped = map[fingerprint][]*Glob{}
	}
	s.scoped[fp] = append(s.scoped[fp], scope)
}

// Merge adds every entry of o to s.
func (s *Set) Merge(o Set) {
	for fp := range o.anywhere {
		s.add(fp, nil)
	}
	for fp, gs := range o.scoped {
		for _, g := range gs {
			s.add(fp, g)
		}
	}
}

// Len is the number of entries added.
func (s Set) Len() int { return s.n }

// Contains reports whether f's key is known at f's path.
func (s Set) Contains(f scanner.Finding) bool {
	fp, ok := parseFingerprint(f.Fingerprint)
	if !ok {
		return false
	}
	if _, ok := s.anywhere[fp]; ok {
		return true
	}
	for _, g := range s.scoped[fp] {
		if g.Match(f.Path) {
			return true
		}
	}
	return false
}
