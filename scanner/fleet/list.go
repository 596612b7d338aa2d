// Package fleet audits many repositories as one: it gathers them (paths
// and URLs given by the user, a list file, a GitHub organisation, a GitLab
// group), sorts and de-duplicates them, takes one shard of the list for
// one machine, and scans them one after another on one scanner.Engine
// while the next clones are prepared, so one report covers them all.
//
// The engine stays the one owner of scan concurrency: Audit runs the
// repositories' scans in turn and only overlaps them with cloning, at most
// Options.Ahead clones ahead, so disk and memory stay bounded whatever the
// size of the fleet.
package fleet

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/remote"
)

// Repo is one entry of a fleet audit.
type Repo struct {
	// Label names the repository in reports: the URL without credentials,
	// or the local path (cleaned, slash-separated).
	Label string
	// Path is a local repository, read in place; empty for a remote.
	Path string
	// Remote is the repository to clone; nil for a local path.
	Remote *remote.Endpoint
	// Skip, when set, is recorded instead of scanning: a fork left out, a
	// bad line of a list file. It is sharded like any entry, so every
	// entry is accounted for by exactly one shard.
	Skip *scanner.Skipped
}

// ParseRepo turns a command-line argument or a list line into a Repo: a
// URL (see remote.IsURL) or a local path.
func ParseRepo(spec string) (Repo, error) {
	if remote.IsURL(spec) {
		e, err := remote.Parse(spec)
		if err != nil {
			return Repo{}, err
		}
		return Repo{Label: e.Label, Remote: &e}, nil
	}
	if strings.ContainsFunc(spec, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Repo{}, fmt.Errorf("repository path %q holds control characters", spec)
	}
	return Repo{Label: remote.RedactKeys(filepath.ToSlash(filepath.Clean(spec))), Path: spec}, nil
}

// ReadList reads a list of repositories: one path or URL per line; blank
// lines and lines whose first non-blank character is '#' are ignored. A
// line that is no valid repository becomes an error entry naming
// name:line, and the other lines are still read.
func ReadList(name string, r io.Reader) ([]Repo, error) {
	var repos []Repo
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		repo, err := ParseRepo(line)
		if err != nil {
			where := name + ":" + strconv.Itoa(n)
			s := scanner.ErrorAt(where, err.Error())
			repo = Repo{Label: where, Skip: &s}
		}
		repos = append(repos, repo)
	}
	if err := sc.Err(); err != nil {
		return repos, fmt.Errorf("reading %s: %w", name, err)
	}
	return repos, nil
}

// Shard selects one machine's share of a sorted list: entry i belongs to
// shard i mod N. The zero value is the whole list.
type Shard struct {
	K, N int
}

// ParseShard reads "K/N": shard K (0-based) of N.
func ParseShard(s string) (Shard, error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return Shard{}, fmt.Errorf("want K/N with 0 <= K < N (K is 0-based, e.g. 0/4 ... 3/4), got %q", s)
	}
	return Shard{K: k, N: n}, nil
}

// String is "K/N", or "" for the whole list.
func (s Shard) String() string {
	if s.N <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Select sorts repos by label, keeps one entry per label (one to scan over
// one to skip, else the first), and returns shard s's share: every N-th
// entry from the K-th. The shards of one list are disjoint and together
// are the whole list, on any machine that built the same list.
func Select(repos []Repo, s Shard) []Repo {
	sorted := append([]Repo(nil), repos...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Label < sorted[j].Label })
	var uniq []Repo
	for _, r := range sorted {
		if n := len(uniq); n > 0 && uniq[n-1].Label == r.Label {
			if uniq[n-1].Skip != nil && r.Skip == nil {
				uniq[n-1] = r
			}
			continue
		}
		uniq = append(uniq, r)
	}
	if s.N <= 1 {
		return uniq
	}
	var out []Repo
	for i := s.K; i < len(uniq); i += s.N {
		out = append(out, uniq[i])
	}
	return out
}

// FromListing turns a host's listing into entries. Archived repositories
// are audited: a key in one is still exposed to whoever can read it. Forks
// are entries to skip (listed as excluded) unless includeForks: a fork's
// history is mostly its parent's, which is audited on its own.
func FromListing(ls []Listed, includeForks bool) []Repo {
	out := make([]Repo, 0, len(ls))
	for _, l := range ls {
		e, err := remote.Parse(l.CloneURL)
		if err != nil {
			s := scanner.ErrorAt(remote.RedactKeys(l.Name), "the API's clone URL is not usable: "+err.Error())
			out = append(out, Repo{Label: s.Path, Skip: &s})
			continue
		}
		r := Repo{Label: e.Label, Remote: &e}
		if l.Fork && !includeForks {
			s := scanner.ExcludedAt(e.Label, "fork: not audited (--include-forks audits forks too)")
			r.Skip = &s
		}
		out = append(out, r)
	}
	return out
}
