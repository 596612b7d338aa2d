package known

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Glob is a path pattern over slash-separated paths relative to the
// scanned root, with gitignore-like rules:
//
//   - "*", "?" and "[...]" match within one path segment (path.Match);
//   - "**" as a whole segment matches zero or more segments;
//   - a pattern without a slash (other than a trailing one) matches a name
//     at any depth ("*.md", "testdata");
//   - a pattern with a slash is anchored at the root; a leading "/" is
//     optional;
//   - a pattern that matches a directory matches everything under it
//     ("vendor" and "vendor/**" are equivalent);
//   - a trailing "/" matches directories only, as in gitignore: "build/"
//     matches what lies under a directory named build, never a file
//     named build (MatchDir asks about a directory itself).
//
// Archive members, reported as "outer.zip!inner/path", match when the
// pattern matches the outer path (or the whole string).
type Glob struct {
	pattern  string
	segments []string
	anywhere bool // no slash: match at any depth
}

// ErrEmptyGlob is returned by ParseGlob for an empty pattern.
var ErrEmptyGlob = errors.New("empty path pattern")

// ParseGlob validates pattern and compiles it.
func ParseGlob(pattern string) (Glob, error) {
	p := strings.TrimSpace(pattern)
	if p == "" {
		return Glob{}, ErrEmptyGlob
	}
	dirOnly := strings.HasSuffix(p, "/")
	p = strings.TrimSuffix(p, "/")
	anywhere := !strings.Contains(p, "/")
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return Glob{}, fmt.Errorf("path pattern %q matches nothing", pattern)
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" {
			return Glob{}, fmt.Errorf("path pattern %q has an empty segment", pattern)
		}
		if s == "**" {
			continue
		}
		if strings.Contains(s, "**") {
			return Glob{}, fmt.Errorf("path pattern %q: \"**\" must be a whole segment (use \"**/\" or \"/**\")", pattern)
		}
		if _, err := path.Match(s, ""); err != nil {
			return Glob{}, fmt.Errorf("path pattern %q: %w", pattern, err)
		}
	}
	if anywhere && p != "**" {
		segs = append([]string{"**"}, segs...)
	}
	// Matching a directory matches everything under it: a trailing "**"
	// says so, and lets one pass over the path decide.
	// A directory-only pattern needs at least one segment after the
	// directory, so a file of that name is not matched.
	switch {
	case dirOnly && segs[len(segs)-1] != "**":
		segs = append(segs, "*", "**")
	case segs[len(segs)-1] != "**":
		segs = append(segs, "**")
	}
	return Glob{pattern: pattern, segments: segs, anywhere: anywhere}, nil
}

// String returns the pattern as written.
func (g Glob) String() string { return g.pattern }

// Match reports whether p (a slash path, possibly an archive member
// "a.zip!b/c") is matched by g, or lies under a directory g matches. The
// empty path (a commit or tag message) matches no pattern.
func (g Glob) Match(p string) bool {
	if p == "" || len(g.segments) == 0 {
		return false
	}
	if g.matchPath(p) {
		return true
	}
	if i := strings.IndexByte(p, '!'); i > 0 {
		return g.matchPath(p[:i])
	}
	return false
}

// MatchDir reports whether the directory p is matched by g: what Match
// says of p, or of anything inside p (which a directory-only pattern
// requires).
func (g Glob) MatchDir(p string) bool {
	return g.Match(p) || (p != "" && g.matchPath(strings.TrimSuffix(p, "/")+"/."))
}

func (g Glob) matchPath(p string) bool {
	return matchSegments(g.segments, strings.Split(strings.TrimPrefix(p, "/"), "/"))
}

// matchSegments matches pattern segments against path segments; "**"
// matches any number of segments. Memoised on (i, j) so adversarial
// patterns stay polynomial.
func matchSegments(pat, segs []string) bool {
	memo := make(map[[2]int]bool)
	var m func(i, j int) bool
	m = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(pat):
			r = j == len(segs)
		case pat[i] == "**":
			r = m(i+1, j) || (j < len(segs) && m(i, j+1))
		case j == len(segs):
			r = false
		default:
			ok, _ := path.Match(pat[i], segs[j])
			r = ok && m(i+1, j+1)
		}
		memo[key] = r
		return r
	}
	return m(0, 0)
}
