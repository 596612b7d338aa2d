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
package known

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
)

// Entry is one known key.
type Entry struct {
	// Fingerprint is the lowercase hex SHA-256 of the key.
	Fingerprint string
	// Scope, when set, limits the entry to the paths it matches;
	// unscoped entries match the key anywhere, commit messages included.
	Scope *Glob
	// Origin says where the entry was written ("FILE:LINE"), for notes.
	Origin string
	// Reason is the justification written with the entry, if any.
	Reason string
}

// Set is a set of known keys.
type Set struct {
	byFP map[string][]Entry
}

// Add adds e to the set.
func (s *Set) Add(e Entry) {
	if s.byFP == nil {
		s.byFP = map[string][]Entry{}
	}
	s.byFP[e.Fingerprint] = append(s.byFP[e.Fingerprint], e)
}

// Merge adds every entry of o to s.
func (s *Set) Merge(o Set) {
	for _, es := range o.byFP {
		for _, e := range es {
			s.Add(e)
		}
	}
}

// Len is the number of entries.
func (s Set) Len() int {
	n := 0
	for _, es := range s.byFP {
		n += len(es)
	}
	return n
}

// Contains reports whether f's key is known at f's path.
func (s Set) Contains(f scanner.Finding) bool {
	for _, e := range s.byFP[strings.ToLower(f.Fingerprint)] {
		if e.Scope == nil || e.Scope.Match(f.Path) {
			return true
		}
	}
	return false
}

// isFingerprint reports whether s is 64 hex digits.
func isFingerprint(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// LoadBaseline reads an earlier JSON report written by xaiscan
// (--format json) and returns its keys. A key in the baseline is known at
// every path: the baseline records keys a team has already dealt with, and
// the same key showing up in another file is not a new leak. Only the
// findings' fingerprints are read, so baselines from any version of the
// report with that field work.
func LoadBaseline(file string) (Set, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return Set{}, fmt.Errorf("baseline: %w", err)
	}
	var rep struct {
		Findings []struct {
			Fingerprint *string `json:"fingerprint"`
			Path        string  `json:"path"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return Set{}, fmt.Errorf("baseline %s: not an xaiscan JSON report (%s)", file, jsonProblem(data, err))
	}
	var s Set
	for i, f := range rep.Findings {
		if f.Fingerprint == nil || !isFingerprint(*f.Fingerprint) {
			return Set{}, fmt.Errorf("baseline %s: finding %d has no valid fingerprint (want 64 hex digits)", file, i+1)
		}
		s.Add(Entry{Fingerprint: strings.ToLower(*f.Fingerprint), Origin: fmt.Sprintf("%s (finding %d, %s)", file, i+1, f.Path)})
	}
	return s, nil
}

// jsonProblem describes a JSON error with its line number.
func jsonProblem(data []byte, err error) string {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if off < 0 || off > int64(len(data)) {
		return err.Error()
	}
	line := 1 + strings.Count(string(data[:off]), "\n")
	return fmt.Sprintf("line %d: %v", line, err)
}
