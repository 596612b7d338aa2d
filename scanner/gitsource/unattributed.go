package gitsource

import (
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// unattributed reports the found blobs no commit holds: staged content,
// at its index path; or other blobs (dangling, or reached only by a ref
// naming a blob or tree directly), once per occurrence, with their object
// id and no path yet: expose fills in the refs, and a path where a tree a
// ref names holds the blob.
func (s *Source) unattributed(blobs map[plumbing.Hash]map[string][]scanner.Finding, seen map[plumbing.Hash]bool) []scanner.Finding {
	var out []scanner.Finding
	var unseen []plumbing.Hash
	for _, h := range sortedHashes(blobs) {
		if !seen[h] {
			unseen = append(unseen, h)
		}
	}
	staged := s.stagedPaths(unseen)
	for _, h := range unseen {
		if paths := staged[h]; len(paths) > 0 {
			out = append(out, stagedFindings(blobs[h], paths)...)
			continue
		}
		for _, k := range sortedKeys(blobs[h]) {
			for _, f := range blobs[h][k] {
				// No path is known; an archive member keeps "<blob>!member".
				if memberSuffix(f.Path) == "" {
					f.Path = ""
				}
				f.Reachable = boolPtr(false)
				f.AtHead = boolPtr(false)
				out = append(out, f)
			}
		}
	}
	return out
}

// stagedFindings reports the keys of a blob only the index names as
// staged content, once per index path and occurrence.
func stagedFindings(keys map[string][]scanner.Finding, paths []string) []scanner.Finding {
	var out []scanner.Finding
	for _, p := range paths {
		for _, k := range sortedKeys(keys) {
			for _, f := range keys[k] {
				f.Source = scanner.SourceStaged
				f.Path = p + memberPath(f.Path, p, f.Object)
				f.Commit, f.Author, f.Email, f.Date = "", "", "", ""
				f.Reachable, f.AtHead = nil, nil
				out = append(out, f)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// memberSuffix returns the "!member/path" part of a finding's path inside
// an archive blob, or "".
func memberSuffix(p string) string {
	if i := strings.IndexByte(p, '!'); i >= 0 {
		return p[i:]
	}
	return ""
}

// memberPath is the member part of a finding's path raw inside the blob
// obj once the blob is known to sit at blobPath. A compressed stream
// whose header names no file (gzip -n, bzip2) has its one member named
// after the outer name without its suffix, as a directory scan names it
// ("backup/env.gz!env"); the blob was scanned before its path was known,
// so the expander could only use its id ("!<id>"), which is renamed here
// by the same rule.
func memberPath(raw, blobPath, obj string) string {
	suffix := memberSuffix(raw)
	if obj == "" || !strings.HasPrefix(suffix, "!"+obj) {
		return suffix
	}
	rest := suffix[1+len(obj):]
	if rest != "" && rest[0] != '!' && rest[0] != '/' {
		return suffix
	}
	return "!" + strippedName(path.Base(blobPath)) + rest
}

// strippedName is a compressed file's name without its compression
// suffix, ".tgz" and ".tbz2" naming a tar (the archive expander's rule).
func strippedName(name string) string {
	lower := strings.ToLower(name)
	for _, r := range []struct{ ext, repl string }{{".tgz", ".tar"}, {".tbz2", ".tar"}, {".gz", ""}, {".bz2", ""}} {
		if strings.HasSuffix(lower, r.ext) {
			return name[:len(name)-len(r.ext)] + r.repl
		}
	}
	return name
}
