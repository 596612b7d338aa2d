package known

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
)

// maxUnmatchedListed bounds how many stale entries of one file are named.
const maxUnmatchedListed = 20

// source is one file of known keys, kept so that entries matching nothing
// can be named with the file they are written in.
type source struct {
	name string
	// baseline sources are counted rather than listed: a baseline holds
	// every key of an old report, and keys removed since are the point.
	baseline bool
	set      Set
}

// describeSources names the sets Load read: the configuration's
// [[ignore]] entries, the ignore file, then the baselines in order.
func describeSources(cfg *Config, ignoreFile string, ign Set, baselines []string, baselineSets []Set) []source {
	var out []source
	if cfg != nil && cfg.Ignore.Len() > 0 {
		out = append(out, source{name: cfg.File, set: cfg.Ignore})
	}
	if ign.Len() > 0 {
		out = append(out, source{name: ignoreFile, set: ign})
	}
	for i, b := range baselines {
		if i < len(baselineSets) && baselineSets[i].Len() > 0 {
			out = append(out, source{name: b, baseline: true, set: baselineSets[i]})
		}
	}
	return out
}

// each calls fn for every entry of the set, the fingerprint in lowercase
// hex.
func (s Set) each(fn func(fp string, scope *Glob)) {
	for fp := range s.anywhere {
		fn(hex.EncodeToString(fp[:]), nil)
	}
	for fp, gs := range s.scoped {
		for _, g := range gs {
			fn(hex.EncodeToString(fp[:]), g)
		}
	}
}

// Unmatched returns notes naming the entries of the ignore file, the
// configuration's [[ignore]] entries and the baselines that matched none
// of findings (the scan's findings before Apply). A stale entry is worth
// knowing: either its key is gone (the entry can go) or the entry is wrong
// (it hides nothing, and the key it was written for is reported). Ignore
// entries are named one by one (fingerprint and scope); a baseline gets one
// note with a count. Only a scan that read everything the entries can be
// about (not a range, a staged change or a push) should ask.
func (f *Filter) Unmatched(findings []scanner.Finding) []string {
	if f == nil || len(f.sources) == 0 {
		return nil
	}
	at := map[string][]string{} // fingerprint -> paths found at
	for _, fd := range findings {
		fp := strings.ToLower(fd.Fingerprint)
		at[fp] = append(at[fp], fd.Path)
	}
	matches := func(fp string, scope *Glob) bool {
		paths, ok := at[fp]
		if !ok || scope == nil {
			return ok
		}
		for _, p := range paths {
			if scope.Match(p) {
				return true
			}
		}
		return false
	}
	var notes []string
	for _, src := range f.sources {
		notes = append(notes, src.unmatched(matches)...)
	}
	return notes
}

// unmatched is Unmatched for one source.
func (src source) unmatched(matches func(string, *Glob) bool) []string {
	var stale []string
	keys, staleKeys := map[string]bool{}, map[string]bool{}
	src.set.each(func(fp string, scope *Glob) {
		keys[fp] = true
		if matches(fp, scope) {
			return
		}
		staleKeys[fp] = true
		entry := fp[:min(12, len(fp))] + "…"
		if scope != nil {
			entry += " " + scope.String()
		}
		stale = append(stale, entry)
	})
	if len(stale) == 0 {
		return nil
	}
	if src.baseline {
		return []string{fmt.Sprintf("baseline %s: %d of its %d key(s) were not found in this scan; regenerate the baseline to drop them",
			src.name, len(staleKeys), len(keys))}
	}
	sort.Strings(stale)
	var notes []string
	for i, e := range stale {
		if i == maxUnmatchedListed {
			notes = append(notes, fmt.Sprintf("%s: ... and %d more entries that matched nothing", src.name, len(stale)-i))
			break
		}
		notes = append(notes, fmt.Sprintf("%s: entry %s matched nothing in this scan (the key is gone, or the entry is wrong); remove it or fix it", src.name, e))
	}
	return notes
}
