package gitsource

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
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
	gitDir, workTree, err := findGitDir(root)
	if err != nil {
		return nil, err
	}
	if workTree == "" {
		return nil, &os.PathError{Op: "worktree filter", Path: root, Err: os.ErrInvalid}
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	prefix, err := filepath.Rel(workTree, absRoot)
	if err != nil {
		return nil, err
	}
	prefix = filepath.ToSlash(prefix)
	if prefix == "." {
		prefix = ""
	}

	repo, err := git.PlainOpenWithOptions(workTree, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, err
	}
	tracked := map[string]bool{}
	trackedDirs := map[string]bool{}
	gitlinks := map[string]bool{}
	if idx, err := repo.Storer.Index(); err == nil {
		for _, e := range idx.Entries {
			if e.Mode == filemode.Submodule {
				gitlinks[e.Name] = true
				continue
			}
			tracked[e.Name] = true
			for d := path.Dir(e.Name); d != "." && d != "/" && !trackedDirs[d]; d = path.Dir(d) {
				trackedDirs[d] = true
			}
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}

	// Lowest priority first: system, user, repository excludesFile,
	// info/exclude, then every .gitignore (deeper ones later).
	var ps []gitignore.Pattern
	rootFS := osfs.New("/")
	if sys, err := gitignore.LoadSystemPatterns(rootFS); err == nil {
		ps = append(ps, sys...)
	}
	if glob, err := gitignore.LoadGlobalPatterns(rootFS); err == nil && len(glob) > 0 {
		ps = append(ps, glob...)
	} else {
		// git's default core.excludesFile: $XDG_CONFIG_HOME/git/ignore.
		xdg := os.Getenv("XDG_CONFIG_HOME")
		if xdg == "" {
			if home, err := os.UserHomeDir(); err == nil {
				xdg = filepath.Join(home, ".config")
			}
		}
		if xdg != "" {
			ps = append(ps, readPatternFile(filepath.Join(xdg, "git", "ignore"))...)
		}
	}
	commonDir := gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		cd := strings.TrimSpace(string(b))
		if !filepath.IsAbs(cd) {
			cd = filepath.Join(gitDir, cd)
		}
		commonDir = cd
	}
	if cfg, err := repo.Config(); err == nil && cfg.Raw != nil {
		if f := cfg.Raw.Section("core").Option("excludesfile"); f != "" {
			if strings.HasPrefix(f, "~/") {
				if home, err := os.UserHomeDir(); err == nil {
					f = filepath.Join(home, f[2:])
				}
			}
			ps = append(ps, readPatternFile(f)...)
		}
	}
	ps = append(ps, readPatternFile(filepath.Join(commonDir, "info", "exclude"))...)
	wtFS := osfs.New(workTree)
	ignores, err := gitignore.ReadPatterns(wtFS, nil)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(workTree, ".git")); err == nil && fi.IsDir() {
		// ReadPatterns read .git/info/exclude itself; it is already in.
		ignores = ignores[min(len(ignores), len(readPatternFile(filepath.Join(workTree, ".git", "info", "exclude")))):]
	}
	ps = append(ps, ignores...)
	m := gitignore.NewMatcher(ps)

	return func(rel string, isDir bool) bool {
		full := strings.Trim(path.Join(prefix, rel), "/")
		if full == "" || full == "." {
			return true
		}
		parts := strings.Split(full, "/")
		for _, p := range parts {
			if p == ".git" {
				return false
			}
		}
		if gitlinks[full] {
			return false
		}
		if tracked[full] {
			return true
		}
		if isDir && trackedDirs[full] {
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
	}, nil
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
