package gitsource

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"

	"github.com/xaiscan/xaiscan/scanner/staged"
)

// WorktreeFilter returns a filter for the files git would commit in the
// work tree at root: tracked files (from the index) and untracked files
// that no ignore rule excludes (.gitignore at every level, the repository's
// info/exclude, and core.excludesFile from the repository's, the user's and
// the system's configuration). rel is slash-separated and relative to root;
// the filter returns false for paths to leave out. It returns false for the
// .git directory, for submodules (their files belong to another repository)
// and for untracked nested repositories. A directory is kept, even when
// ignored, if tracked files live below it, so the walker can reach them.
func WorktreeFilter(root string) (func(rel string, isDir bool) bool, error) {
	loc, err := Discover(root, nil)
	if err != nil {
		return nil, err
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return WorktreeFilterAt(loc, absRoot)
}

// WorktreeFilterAt is WorktreeFilter for a discovered repository, with rel
// relative to root (the work tree's top, or a directory inside it). It
// fails when the index cannot be read: without it, tracked files that an
// ignore rule matches would be left out.
func WorktreeFilterAt(loc Location, root string) (func(rel string, isDir bool) bool, error) {
	if loc.WorkTree == "" {
		return nil, &os.PathError{Op: "worktree filter", Path: root, Err: os.ErrInvalid}
	}
	prefix, err := filepath.Rel(loc.WorkTree, root)
	if err != nil {
		return nil, err
	}
	prefix = filepath.ToSlash(prefix)
	if prefix == "." {
		prefix = ""
	}
	cfg, err := readRepoConfig(loc.CommonDir)
	if err != nil {
		return nil, err
	}
	idx, err := readTracked(loc, cfg)
	if err != nil {
		return nil, err
	}
	m, err := ignoreMatcher(loc, cfg)
	if err != nil {
		return nil, err
	}
	return func(rel string, isDir bool) bool {
		full := strings.Trim(path.Join(prefix, rel), "/")
		if full == "" || full == "." {
			return true
		}
		return idx.keep(full, isDir, m, loc.WorkTree)
	}, nil
}

// trackedSet is what the index says about the work tree's paths.
type trackedSet struct {
	files, dirs, gitlinks map[string]bool
}

// readTracked reads the index: the tracked files, the directories that
// hold them, and the submodules.
func readTracked(loc Location, cfg repoConfig) (trackedSet, error) {
	ts := trackedSet{files: map[string]bool{}, dirs: map[string]bool{}, gitlinks: map[string]bool{}}
	if cfg.objectFormat != "" && cfg.objectFormat != "sha1" {
		return ts, fmt.Errorf("reading the index: the %s object format is not supported", cfg.objectFormat)
	}
	ents, err := staged.ReadIndex(filepath.Join(loc.GitDir, "index"))
	if err != nil {
		return ts, err
	}
	for _, e := range ents {
		if e.Gitlink {
			ts.gitlinks[e.Path] = true
			continue
		}
		ts.files[e.Path] = true
		for d := path.Dir(e.Path); d != "." && d != "/" && !ts.dirs[d]; d = path.Dir(d) {
			ts.dirs[d] = true
		}
	}
	return ts, nil
}

// keep is the filter's decision for a slash path relative to the work
// tree's top.
func (ts trackedSet) keep(full string, isDir bool, m gitignore.Matcher, workTree string) bool {
	parts := strings.Split(full, "/")
	for _, p := range parts {
		if p == ".git" {
			return false
		}
	}
	switch {
	case ts.gitlinks[full]:
		return false
	case ts.files[full], isDir && ts.dirs[full]:
		return true
	}
	for i := 1; i <= len(parts); i++ {
		if m.Match(parts[:i], i < len(parts) || isDir) {
			return false
		}
	}
	if isDir {
		if _, err := os.Lstat(filepath.Join(workTree, filepath.FromSlash(full), ".git")); err == nil {
			return false // an untracked nested repository
		}
	}
	return true
}

// ignoreMatcher loads the ignore rules, lowest priority first: system,
// user, the repository's core.excludesFile, info/exclude, then every
// .gitignore (deeper ones later).
func ignoreMatcher(loc Location, cfg repoConfig) (gitignore.Matcher, error) {
	var ps []gitignore.Pattern
	rootFS := osfs.New("/")
	if sys, err := gitignore.LoadSystemPatterns(rootFS); err == nil {
		ps = append(ps, sys...)
	}
	if glob, err := gitignore.LoadGlobalPatterns(rootFS); err == nil && len(glob) > 0 {
		ps = append(ps, glob...)
	} else if xdg := xdgConfigHome(); xdg != "" {
		// git's default core.excludesFile: $XDG_CONFIG_HOME/git/ignore.
		ps = append(ps, readPatternFile(filepath.Join(xdg, "git", "ignore"))...)
	}
	if f := cfg.excludesFile; f != "" {
		if strings.HasPrefix(f, "~/") {
			if home, err := os.UserHomeDir(); err == nil {
				f = filepath.Join(home, f[2:])
			}
		}
		ps = append(ps, readPatternFile(f)...)
	}
	ps = append(ps, readPatternFile(filepath.Join(loc.CommonDir, "info", "exclude"))...)
	ignores, err := gitignore.ReadPatterns(osfs.New(loc.WorkTree), nil)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(loc.WorkTree, ".git")); err == nil && fi.IsDir() {
		// ReadPatterns read .git/info/exclude itself; it is already in.
		ignores = ignores[min(len(ignores), len(readPatternFile(filepath.Join(loc.WorkTree, ".git", "info", "exclude")))):]
	}
	return gitignore.NewMatcher(append(ps, ignores...)), nil
}

func xdgConfigHome() string {
	if xdg := os.Getenv("XDG_CONFIG_HOME"); xdg != "" {
		return xdg
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".config")
	}
	return ""
}

// readPatternFile reads an ignore file at the root's level.
func readPatternFile(file string) []gitignore.Pattern {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var ps []gitignore.Pattern
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	return ps
}
