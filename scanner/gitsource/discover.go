package gitsource

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/config"
)

// ErrNotRepository is what Discover returns (wrapped, with the path) when
// no repository encloses a path.
var ErrNotRepository = errors.New("not a git repository")

// Location is where the parts of a repository live, as git's own discovery
// finds them from a path.
type Location struct {
	// GitDir is the git directory: a work tree's .git, a bare repository,
	// or a linked worktree's directory under the main one's worktrees/.
	GitDir string
	// CommonDir holds the objects, the shared refs and the configuration:
	// GitDir itself, or the main repository's for a linked worktree.
	CommonDir string
	// WorkTree is the top of the work tree; "" for a bare repository.
	WorkTree string
	// Start is the absolute directory discovery started from.
	Start string
}

// Root is the directory findings and config files are relative to: the
// work tree's top, or the git directory of a bare repository.
func (l Location) Root() string {
	if l.WorkTree != "" {
		return l.WorkTree
	}
	return l.GitDir
}

// Inside reports whether discovery started below the repository's root (a
// subdirectory of the work tree, or inside its .git) rather than at it.
func (l Location) Inside() bool {
	root := l.Root()
	return l.Start != root && strings.HasPrefix(l.Start, strings.TrimSuffix(root, string(filepath.Separator))+string(filepath.Separator))
}

// Discover finds the repository that path (a directory, or a file whose
// directory is used) belongs to, the way git does: GIT_DIR and
// GIT_WORK_TREE when set (relative ones are taken from path, as with
// git -C path), otherwise the nearest of path and its parents that holds a
// .git directory or a .git file ("gitdir: ...", linked worktrees and
// submodules) or is itself a git directory. The walk up stops at the
// filesystem root and before entering a directory listed in
// GIT_CEILING_DIRECTORIES. getenv may be nil (os.Getenv).
//
// When nothing encloses path the error wraps ErrNotRepository; any other
// error is a repository that exists and is broken (a .git file naming a
// directory that is not a git directory), which a scan must not take for
// "no history".
func Discover(path string, getenv func(string) string) (Location, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Location{}, err
	}
	// A path that does not exist is an error, not a reason to walk up: a
	// mistyped REPO inside another repository would otherwise audit that
	// repository instead, under the mistyped name.
	fi, err := os.Stat(abs)
	if err != nil {
		return Location{}, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if !fi.IsDir() {
		abs = filepath.Dir(abs)
	}
	var loc Location
	if gd := getenv("GIT_DIR"); gd != "" {
		loc, err = fromGitDirEnv(abs, gd, getenv("GIT_WORK_TREE"))
	} else {
		loc, err = walkUp(abs, ceilings(getenv("GIT_CEILING_DIRECTORIES")))
	}
	if err != nil {
		return Location{}, err
	}
	loc.Start = abs
	loc.CommonDir = commonDirOf(loc.GitDir)
	return loc, nil
}

// IsRepository reports whether path is the top of a git work tree (it holds
// a .git directory or a .git file pointing elsewhere) or is itself a git
// directory (a bare repository). A subdirectory of a work tree is not.
func IsRepository(path string) bool {
	if isGitDir(path) {
		return true
	}
	fi, err := os.Stat(filepath.Join(path, ".git"))
	if err != nil {
		return false
	}
	if fi.IsDir() {
		return isGitDir(filepath.Join(path, ".git"))
	}
	_, err = readGitFile(filepath.Join(path, ".git"))
	return err == nil
}

// isGitDir reports whether dir looks like a git directory: HEAD plus objects
// and refs (or a commondir file, for a linked worktree's git directory).
func isGitDir(dir string) bool {
	if fi, err := os.Stat(filepath.Join(dir, "HEAD")); err != nil || fi.IsDir() {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "commondir")); err == nil {
		return true
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// readGitFile reads a ".git" file ("gitdir: PATH") and returns the absolute
// git directory it names.
func readGitFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	dir, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
	if !ok {
		return "", fmt.Errorf("%s: not a gitdir file", path)
	}
	dir = strings.TrimSpace(dir)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(path), dir)
	}
	return dir, nil
}

// fromGitDirEnv is discovery when GIT_DIR is set: it names the git
// directory; the work tree is GIT_WORK_TREE, else core.worktree, else none
// for a bare repository, else the starting directory (git's rule).
func fromGitDirEnv(start, gitDir, workTree string) (Location, error) {
	gitDir = absFrom(start, gitDir)
	if !isGitDir(gitDir) {
		gd, err := readGitFile(gitDir)
		if err != nil || !isGitDir(gd) {
			return Location{}, fmt.Errorf("GIT_DIR=%s is not a git directory", gitDir)
		}
		gitDir = gd
	}
	loc := Location{GitDir: gitDir}
	if workTree != "" {
		loc.WorkTree = absFrom(start, workTree)
		return loc, nil
	}
	cfg, _ := readRepoConfig(commonDirOf(gitDir))
	switch {
	case cfg.workTree != "":
		loc.WorkTree = absFrom(gitDir, cfg.workTree)
	case cfg.bare:
	default:
		loc.WorkTree = start
	}
	return loc, nil
}

// walkUp looks for the repository in start and its parents.
func walkUp(start string, stop map[string]bool) (Location, error) {
	for dir := start; ; {
		dg := filepath.Join(dir, ".git")
		if fi, err := os.Stat(dg); err == nil {
			if fi.IsDir() && isGitDir(dg) {
				return Location{GitDir: dg, WorkTree: dir}, nil
			}
			if !fi.IsDir() {
				gd, err := readGitFile(dg)
				if err != nil {
					return Location{}, err
				}
				if !isGitDir(gd) {
					return Location{}, fmt.Errorf("%s names %s, which is not a git directory", dg, gd)
				}
				return Location{GitDir: gd, WorkTree: dir}, nil
			}
		}
		if isGitDir(dir) {
			return gitDirLocation(dir), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir || stop[parent] {
			return Location{}, fmt.Errorf("%w: %s", ErrNotRepository, start)
		}
		dir = parent
	}
}

// gitDirLocation is the location of a git directory found as such: a bare
// repository, or (started inside it) a work tree's .git, whose work tree is
// its parent unless the configuration says otherwise.
func gitDirLocation(dir string) Location {
	loc := Location{GitDir: dir}
	cfg, _ := readRepoConfig(commonDirOf(dir))
	switch {
	case cfg.workTree != "":
		loc.WorkTree = absFrom(dir, cfg.workTree)
	case !cfg.bare && filepath.Base(dir) == ".git":
		loc.WorkTree = filepath.Dir(dir)
	}
	return loc
}

// ceilings parses GIT_CEILING_DIRECTORIES: absolute paths, separated like
// PATH; relative and empty entries are ignored, as git does.
func ceilings(v string) map[string]bool {
	m := map[string]bool{}
	for _, d := range filepath.SplitList(v) {
		if filepath.IsAbs(d) {
			m[filepath.Clean(d)] = true
		}
	}
	return m
}

func absFrom(base, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

// commonDirOf returns the directory named by gitDir's commondir file (a
// linked worktree's main repository), or gitDir.
func commonDirOf(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir
	}
	return filepath.Clean(absFrom(gitDir, strings.TrimSpace(string(b))))
}

// repoConfig is what the scan needs from a repository's configuration.
type repoConfig struct {
	bare         bool
	workTree     string
	objectFormat string // "" or "sha1" for SHA-1
	refStorage   string // "" or "files" for loose and packed refs
	partialClone bool
	excludesFile string
}

// readRepoConfig reads commonDir/config. A missing file is an empty
// configuration; an unreadable or malformed one is an error.
func readRepoConfig(commonDir string) (repoConfig, error) {
	var rc repoConfig
	f, err := os.Open(filepath.Join(commonDir, "config"))
	if errors.Is(err, os.ErrNotExist) {
		return rc, nil
	}
	if err != nil {
		return rc, fmt.Errorf("reading the repository's config: %w", err)
	}
	defer f.Close()
	cfg := config.New()
	if err := config.NewDecoder(f).Decode(cfg); err != nil {
		return rc, fmt.Errorf("parsing %s: %w", filepath.Join(commonDir, "config"), err)
	}
	core, ext := cfg.Section("core"), cfg.Section("extensions")
	rc.bare = strings.EqualFold(core.Option("bare"), "true")
	rc.workTree = core.Option("worktree")
	rc.excludesFile = core.Option("excludesfile")
	rc.objectFormat = strings.ToLower(ext.Option("objectformat"))
	rc.refStorage = strings.ToLower(ext.Option("refstorage"))
	rc.partialClone = ext.Option("partialclone") != ""
	return rc, nil
}

// UnsupportedError reports a repository xaiscan cannot read at all: its
// history was not scanned. The audit still reads the working tree.
type UnsupportedError struct {
	Repo string // the repository's root
	What string // what is not supported, e.g. "SHA-256 object format"
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the repository uses the %s, which xaiscan does not support; its history was not scanned", e.What)
}

// supported returns an UnsupportedError for formats the pack reader and
// the ref reader do not understand.
func (rc repoConfig) supported(root string) error {
	switch rc.objectFormat {
	case "", "sha1":
	case "sha256":
		return &UnsupportedError{Repo: root, What: "SHA-256 object format (extensions.objectFormat = sha256)"}
	default:
		return &UnsupportedError{Repo: root, What: fmt.Sprintf("object format %q (extensions.objectFormat)", rc.objectFormat)}
	}
	switch rc.refStorage {
	case "", "files":
	default:
		return &UnsupportedError{Repo: root, What: fmt.Sprintf("%s ref storage (extensions.refStorage)", rc.refStorage)}
	}
	return nil
}
