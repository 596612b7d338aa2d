// Package gitsource scans the history of a git repository: every blob,
// commit message and annotated tag message in its object store, including
// objects no ref reaches, and attributes the rare keys it finds to the
// commits and paths that introduced them.
//
// The scan is blob-first (DESIGN §6). In a full audit the source reads each
// packfile's index and entry headers, groups the entries into delta families
// (a base object and everything deltified against it), and hands the engine
// one item per object in an order where every delta follows its base. The
// engine's workers resolve the objects in parallel (inflate, apply the
// delta), keeping a base only until its last delta has used it, so memory
// stays bounded whatever the pack's size. Each distinct object is read and
// matched once. Only after the scan, Finish walks commits and tree diffs to
// find where each found key was introduced; when nothing was found that walk
// is skipped entirely.
//
// With Options.Include set (a range, a branch, pre-push), the source walks
// just those commits, diffs each against its parents and scans the blobs
// they introduced and their messages.
//
// The repository is read with go-git (opening, refs, revisions) and with this
// package's own concurrency-safe pack reader; the git binary is never run.
package gitsource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// Options select what part of the history to scan.
type Options struct {
	// Include lists revisions to start from (refs, hashes, "HEAD", anything
	// go-git's ResolveRevision accepts). Empty means the full audit: every
	// object in the store, reachable or not.
	Include []string
	// Exclude lists revisions whose history is left out (A in A..B; the
	// remote's shas for pre-push). Only used with Include.
	Exclude []string
	// MaxSkipped caps how many missing objects are listed one by one in
	// coverage.skipped before the rest are summarised in one entry; 0 means
	// 1000. A partial clone can miss millions of blobs.
	MaxSkipped int
}

// Source reads a repository's history. It implements scanner.Source and
// scanner.Finisher. A Source is for one scan.
type Source struct {
	path      string // as given, for messages
	gitDir    string
	commonDir string
	repo      *git.Repository
	opts      Options
	st        *store
	storeErrs []problem
	shallow   map[plumbing.Hash]bool
	promisor  bool

	feed scanner.Feed

	mu       sync.Mutex
	commits  map[plumbing.Hash]*commitInfo
	tags     map[plumbing.Hash]*tagInfo
	missing  map[plumbing.Hash]bool
	nMissing int

	// Range mode only.
	rangeMode  bool
	tip        plumbing.Hash                     // first Include revision: "HEAD" for AtHead
	intro      map[plumbing.Hash][]plumbing.Hash // blob -> commits whose diff added it
	scanned    map[plumbing.Hash]bool            // blobs sent for scanning
	inRange    map[plumbing.Hash]bool            // commits walked
	inRangeTag map[plumbing.Hash]bool            // annotated tags a range names
	containsMu sync.Mutex
	contains   map[containsKey]bool

	treeMu    sync.Mutex
	treeCache map[plumbing.Hash][]treeEntry

	// found maps each blob that holds a key to its keys (set by Finish).
	found map[plumbing.Hash]map[string]bool
}

type containsKey struct {
	blob plumbing.Hash
	key  string
}

// ParseRange splits "A..B" into include [B] and exclude [A]. An empty side
// means HEAD, as in git. The symmetric difference "A...B" is not supported.
func ParseRange(s string) (include, exclude []string, err error) {
	if strings.Contains(s, "...") {
		return nil, nil, fmt.Errorf("range %q: the symmetric difference A...B is not supported; use A..B", s)
	}
	a, b, ok := strings.Cut(s, "..")
	if !ok {
		return nil, nil, fmt.Errorf("range %q: expected A..B", s)
	}
	if strings.Contains(b, "..") {
		return nil, nil, fmt.Errorf("range %q: expected A..B", s)
	}
	if a == "" {
		a = "HEAD"
	}
	if b == "" {
		b = "HEAD"
	}
	return []string{b}, []string{a}, nil
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

// findGitDir finds the git directory for path: path itself when it is a git
// directory, else the .git directory or file of path or its nearest parent
// that has one. It also returns the work tree ("" when bare).
func findGitDir(path string) (gitDir, workTree string, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", err
	}
	if isGitDir(abs) {
		return abs, "", nil
	}
	for dir := abs; ; {
		dg := filepath.Join(dir, ".git")
		if fi, err := os.Stat(dg); err == nil {
			if fi.IsDir() {
				return dg, dir, nil
			}
			gd, err := readGitFile(dg)
			if err != nil {
				return "", "", err
			}
			return gd, dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", fmt.Errorf("not a git repository: %s", path)
		}
		dir = parent
	}
}

// New opens the repository at repoPath (a work tree, any directory inside
// one, a bare repository, or a linked worktree whose .git is a file) for a
// scan with the given options. The repository is only read.
func New(repoPath string, o Options) (*Source, error) {
	if o.MaxSkipped <= 0 {
		o.MaxSkipped = 1000
	}
	gitDir, workTree, err := findGitDir(repoPath)
	if err != nil {
		return nil, err
	}
	if !isGitDir(gitDir) {
		return nil, fmt.Errorf("not a git repository: %s (%s is not a git directory)", repoPath, gitDir)
	}
	commonDir := gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		cd := strings.TrimSpace(string(b))
		if !filepath.IsAbs(cd) {
			cd = filepath.Join(gitDir, cd)
		}
		commonDir = filepath.Clean(cd)
	}
	openAt := gitDir
	if workTree != "" {
		openAt = workTree
	}
	repo, err := git.PlainOpenWithOptions(openAt, &git.PlainOpenOptions{DetectDotGit: workTree != "", EnableDotGitCommonDir: true})
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("not a git repository: %s", repoPath)
		}
		return nil, fmt.Errorf("opening repository %s: %w", repoPath, err)
	}
	if _, err := os.Stat(filepath.Join(commonDir, "objects")); err != nil {
		return nil, fmt.Errorf("repository %s has no objects directory: %w", repoPath, err)
	}
	st, probs := openStore(filepath.Join(commonDir, "objects"))
	s := &Source{
		path: repoPath, gitDir: gitDir, commonDir: commonDir, repo: repo, opts: o,
		st: st, storeErrs: probs, shallow: map[plumbing.Hash]bool{},
		commits: map[plumbing.Hash]*commitInfo{}, tags: map[plumbing.Hash]*tagInfo{},
		missing: map[plumbing.Hash]bool{}, contains: map[containsKey]bool{},
	}
	if b, err := os.ReadFile(filepath.Join(commonDir, "shallow")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			if h, ok := parseHex(l); ok {
				s.shallow[h] = true
			}
		}
	}
	if cfg, err := repo.Config(); err == nil && cfg.Raw != nil {
		if cfg.Raw.Section("extensions").Option("partialclone") != "" {
			s.promisor = true
		}
	}
	if m, _ := filepath.Glob(filepath.Join(commonDir, "objects", "pack", "*.promisor")); len(m) > 0 {
		s.promisor = true
	}
	return s, nil
}

// Items implements scanner.Source.
func (s *Source) Items(ctx context.Context, feed scanner.Feed) error {
	s.feed = feed
	for _, p := range s.storeErrs {
		feed.Skip(scanner.Skipped{Path: p.path, Reason: p.reason, Kind: scanner.KindError})
	}
	if len(s.shallow) > 0 {
		feed.Note(fmt.Sprintf("shallow clone: history is truncated at %d commit(s); older commits were not scanned, and keys they introduced are attributed to the oldest commit present", len(s.shallow)))
	}
	if len(s.opts.Include) > 0 {
		return s.rangeItems(ctx, feed)
	}
	if len(s.opts.Exclude) > 0 {
		return errors.New("exclude revisions given without include revisions")
	}
	return s.fullItems(ctx, feed)
}

// Close releases the pack files. The scan does not need it called (files
// are closed when the Source is garbage) but long-running callers may.
func (s *Source) Close() error {
	s.st.close()
	return nil
}

// reportMissing records an object the repository references but does not
// hold, once per object, and no more than MaxSkipped of them one by one.
func (s *Source) reportMissing(h plumbing.Hash, what string) {
	s.mu.Lock()
	if s.missing[h] {
		s.mu.Unlock()
		return
	}
	s.missing[h] = true
	s.nMissing++
	n := s.nMissing
	s.mu.Unlock()
	reason := "missing object: " + what
	if s.promisor {
		reason += " (partial clone: the object was never fetched)"
	}
	switch {
	case n <= s.opts.MaxSkipped:
		s.feed.Skip(scanner.Skipped{Path: h.String(), Reason: reason, Kind: scanner.KindError})
	case n == s.opts.MaxSkipped+1:
		s.feed.Skip(scanner.Skipped{Path: "(more objects)", Reason: fmt.Sprintf("more than %d objects are missing; only the first are listed", s.opts.MaxSkipped), Kind: scanner.KindError})
	}
}

// reportUnreadable records an object that a walk needed and could not
// read, once. In a full audit every object in the store was already sent to
// the engine, which recorded its failure, so only missing objects are added
// here.
func (s *Source) reportUnreadable(h plumbing.Hash, what string, err error) {
	if errors.Is(err, errMissing) {
		s.reportMissing(h, what)
		return
	}
	if !s.rangeMode {
		return
	}
	s.mu.Lock()
	dup := s.missing[h]
	s.missing[h] = true
	s.mu.Unlock()
	if !dup {
		s.feed.Skip(scanner.Skipped{Path: h.String(), Reason: fmt.Sprintf("cannot read %s: %v", what, err), Kind: scanner.KindError})
	}
}

// addCommit records a parsed commit and returns its message.
func (s *Source) addCommit(h plumbing.Hash, data []byte) ([]byte, error) {
	c, msg, err := parseCommit(h, data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, dup := s.commits[h]
	s.commits[h] = c
	s.mu.Unlock()
	if !dup {
		s.feed.AddCommits(1)
	}
	if !s.rangeMode {
		if !s.st.has(c.tree) {
			s.reportMissing(c.tree, "tree of commit "+h.String())
		}
		if !s.shallow[h] {
			for _, p := range c.parents {
				if !s.st.has(p) {
					s.reportMissing(p, "parent of commit "+h.String())
				}
			}
		}
	}
	return msg, nil
}

// addTag records an annotated tag and returns its message.
func (s *Source) addTag(h plumbing.Hash, data []byte) ([]byte, error) {
	t, msg, err := parseTag(data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.tags[h] = t
	s.mu.Unlock()
	if !s.st.has(t.target) {
		s.reportMissing(t.target, fmt.Sprintf("target of tag %q (%s)", t.name, h))
	}
	return msg, nil
}

// checkTree verifies that everything a tree names is in the store: this is
// how a full audit notices missing blobs (partial clones, lost loose files)
// instead of silently not scanning them.
func (s *Source) checkTree(h plumbing.Hash, data []byte) error {
	var bad []treeEntry
	err := walkTree(data, func(name []byte, mode uint32, hb []byte) {
		e := treeEntry{mode: mode}
		if e.isGitlink() {
			return
		}
		if !s.st.all.has(hb) {
			copy(e.hash[:], hb)
			e.name = string(name)
			bad = append(bad, e)
		}
	})
	for _, e := range bad {
		kind := "blob"
		if e.isTree() {
			kind = "tree"
		}
		s.reportMissing(e.hash, fmt.Sprintf("%s %q in tree %s", kind, e.name, h))
	}
	if err != nil {
		return fmt.Errorf("tree %s: %w", h, err)
	}
	return nil
}

var emptyReader = io.NopCloser(bytes.NewReader(nil))

// finishObject turns a resolved object into what the engine scans: a
// blob's content, a commit's or tag's message, nothing for a tree (which is
// only checked).
func (s *Source) finishObject(h plumbing.Hash, typ int8, data []byte) (io.ReadCloser, error) {
	switch typ {
	case typBlob:
		return io.NopCloser(bytes.NewReader(data)), nil
	case typTree:
		if err := s.checkTree(h, data); err != nil {
			return nil, err
		}
		return emptyReader, nil
	case typCommit:
		msg, err := s.addCommit(h, data)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(msg)), nil
	case typTag:
		msg, err := s.addTag(h, data)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(msg)), nil
	}
	return nil, fmt.Errorf("unknown object type %d", typ)
}

// itemFor builds the engine item of an object whose type is known.
func itemFor(h plumbing.Hash, typ int8, size int64, open func() (io.ReadCloser, error)) scanner.Item {
	// Once: opening an object again would re-run the pack reader's
	// bookkeeping of delta bases, so the engine must not retry it.
	it := scanner.Item{Source: scanner.SourceGit, Object: h.String(), Size: size, Open: open, Once: true}
	switch typ {
	case typBlob:
		it.Counts = scanner.CountBlob
	case typCommit:
		it.Template.Commit = h.String()
	}
	return it
}

// refTips returns every object a ref points at directly: all refs (branches,
// tags, remote-tracking refs, notes, stash), HEAD, other worktrees' HEADs,
// and the stash reflog's entries (stash@{1} and older are still stashes).
func (s *Source) refTips() []plumbing.Hash {
	var out []plumbing.Hash
	if it, err := s.repo.References(); err == nil {
		_ = it.ForEach(func(r *plumbing.Reference) error {
			if r.Type() == plumbing.HashReference {
				out = append(out, r.Hash())
			}
			return nil
		})
	}
	if r, err := s.repo.Head(); err == nil {
		out = append(out, r.Hash())
	}
	heads, _ := filepath.Glob(filepath.Join(s.commonDir, "worktrees", "*", "HEAD"))
	heads = append(heads, filepath.Join(s.gitDir, "HEAD"), filepath.Join(s.commonDir, "HEAD"))
	for _, f := range heads {
		if b, err := os.ReadFile(f); err == nil {
			if h, ok := parseHex(strings.TrimSpace(string(b))); ok {
				out = append(out, h)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(s.commonDir, "logs", "refs", "stash")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if h, ok := parseHex(f[1]); ok {
					out = append(out, h)
				}
			}
		}
	}
	return out
}

// head returns the commit "HEAD" means for AtHead: the repository's HEAD in
// a full audit, the first Include revision otherwise.
func (s *Source) head() (plumbing.Hash, bool) {
	if s.rangeMode {
		return s.tip, !s.tip.IsZero()
	}
	r, err := s.repo.Head()
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return r.Hash(), true
}

// sortedHashes returns a set's members in order, for deterministic walks.
func sortedHashes[V any](m map[plumbing.Hash]V) []plumbing.Hash {
	out := make([]plumbing.Hash, 0, len(m))
	for h := range m {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i][:], out[j][:]) < 0 })
	return out
}
