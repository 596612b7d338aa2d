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

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"

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
	// AcceptShallow makes a shallow clone's missing history a note instead
	// of an error: the whole-history audit of a shallow clone, or a range
	// that reaches past its cut, reads only the commits present.
	AcceptShallow bool
	// Getenv reads GIT_DIR, GIT_WORK_TREE and GIT_CEILING_DIRECTORIES for
	// New's discovery; nil means os.Getenv.
	Getenv func(string) string
}

// Source reads a repository's history. It implements scanner.Source and
// scanner.Finisher. A Source is for one scan.
type Source struct {
	path      string // the repository's root, for messages
	loc       Location
	gitDir    string
	commonDir string
	repo      *git.Repository
	opts      Options
	st        *store
	storeErrs []problem
	refs      refSet
	shallow   map[plumbing.Hash]bool
	promisor  bool
	// Range mode: the resolved revisions, and the annotated tags met on
	// the way to the included ones (their messages are scanned).
	inc, exc, incTags []plumbing.Hash

	feed scanner.Feed

	mu       sync.Mutex
	commits  map[plumbing.Hash]*commitInfo
	tags     map[plumbing.Hash]*tagInfo
	missing  map[plumbing.Hash]bool
	nMissing int
	listed   []*missingObj // the first MaxSkipped missing objects, reported by Finish
	boundary bool          // a range reached a shallow clone's cut

	// Range mode only.
	rangeMode  bool
	tip        plumbing.Hash                     // first Include revision: "HEAD" for AtHead
	intro      map[plumbing.Hash][]plumbing.Hash // blob -> commits whose diff added it
	scanned    map[plumbing.Hash]bool            // blobs sent for scanning
	firstPath  map[plumbing.Hash]string          // a path each scanned blob was met at
	inRange    map[plumbing.Hash]bool            // commits walked
	inRangeTag map[plumbing.Hash]bool            // annotated tags a range names
	containsMu sync.Mutex
	contains   map[containsKey]bool

	treeMu    sync.Mutex
	treeCache map[plumbing.Hash][]treeEntry

	// found maps each blob that holds a key to its keys (set by Finish).
	found map[plumbing.Hash]map[string]bool
	// nameTrees are the trees scanned for keys in their entry names
	// (names.go); guarded by mu.
	nameTrees map[plumbing.Hash]bool
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

// New opens the repository that repoPath belongs to (a work tree, any
// directory inside one, a bare repository, a linked worktree or submodule
// whose .git is a file; see Discover) for a scan with the given options.
// The repository is only read.
func New(repoPath string, o Options) (*Source, error) {
	loc, err := Discover(repoPath, o.Getenv)
	if err != nil {
		return nil, err
	}
	return NewAt(loc, o)
}

// NewAt opens the repository at a discovered location. It fails with an
// *UnsupportedError for object formats it cannot read, and with a
// *RevisionError for an Include or Exclude revision that does not resolve,
// so a mistyped --range fails before any scanning.
func NewAt(loc Location, o Options) (*Source, error) {
	if o.MaxSkipped <= 0 {
		o.MaxSkipped = 1000
	}
	root := filepath.ToSlash(loc.Root())
	if !isGitDir(loc.GitDir) {
		return nil, fmt.Errorf("not a git repository: %s (%s is not a git directory)", root, loc.GitDir)
	}
	cfg, err := readRepoConfig(loc.CommonDir)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", root, err)
	}
	if err := cfg.supported(root); err != nil {
		return nil, err
	}
	repo, err := openRepo(loc)
	if err != nil {
		return nil, fmt.Errorf("opening repository %s: %w", root, err)
	}
	if _, err := os.Stat(filepath.Join(loc.CommonDir, "objects")); err != nil {
		return nil, fmt.Errorf("repository %s has no objects directory: %w", root, err)
	}
	st, probs := openStore(filepath.Join(loc.CommonDir, "objects"))
	s := &Source{
		path: root, loc: loc, gitDir: loc.GitDir, commonDir: loc.CommonDir, repo: repo, opts: o,
		st: st, storeErrs: probs, refs: readRefs(loc), shallow: readShallow(loc.CommonDir),
		commits: map[plumbing.Hash]*commitInfo{}, tags: map[plumbing.Hash]*tagInfo{},
		missing: map[plumbing.Hash]bool{}, contains: map[containsKey]bool{},
	}
	s.promisor = cfg.partialClone
	if m, _ := filepath.Glob(filepath.Join(loc.CommonDir, "objects", "pack", "*.promisor")); len(m) > 0 {
		s.promisor = true
	}
	if len(o.Include) > 0 {
		if err := s.resolveRange(); err != nil {
			return nil, err
		}
	} else if len(o.Exclude) > 0 {
		return nil, errors.New("exclude revisions given without include revisions")
	}
	return s, nil
}

// readShallow reads the shallow file: the commits whose parents a shallow
// clone cut off.
func readShallow(commonDir string) map[plumbing.Hash]bool {
	m := map[plumbing.Hash]bool{}
	if b, err := os.ReadFile(filepath.Join(commonDir, "shallow")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			if h, ok := parseHex(l); ok {
				m[h] = true
			}
		}
	}
	return m
}

// openRepo opens the repository with go-git, which the scan uses only to
// resolve revisions. Its storage is given the git directory and the common
// directory explicitly, so layouts git's discovery allows (GIT_DIR, a
// .git file, a linked worktree) all open. go-git's check of repository
// extensions is skipped: the object format was checked already, and the
// others (worktreeConfig, set by git sparse-checkout; partialClone;
// preciousObjects) do not change how objects and refs are read.
func openRepo(loc Location) (*git.Repository, error) {
	var fs billy.Filesystem = osfs.New(loc.GitDir)
	if loc.CommonDir != loc.GitDir {
		fs = dotgit.NewRepositoryFilesystem(fs, osfs.New(loc.CommonDir))
	}
	st := filesystem.NewStorage(fs, cache.NewObjectLRUDefault())
	repo, err := git.Open(lenientStorage{st}, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return nil, fmt.Errorf("%w: %s", ErrNotRepository, loc.GitDir)
	}
	return repo, err
}

// lenientStorage is go-git's storage with the extensions left out of the
// configuration it reports (see openRepo).
type lenientStorage struct{ *filesystem.Storage }

// Config returns the configuration without its extensions.
func (l lenientStorage) Config() (*config.Config, error) {
	c, err := l.Storage.Config()
	if err != nil || c == nil {
		return c, err
	}
	cc := *c
	cc.Core.RepositoryFormatVersion = ""
	if c.Raw != nil {
		raw := *c.Raw
		raw.Sections = nil
		for _, sec := range c.Raw.Sections {
			if !sec.IsName("extensions") {
				raw.Sections = append(raw.Sections, sec)
			}
		}
		cc.Raw = &raw
	}
	return &cc, nil
}

// Items implements scanner.Source.
func (s *Source) Items(ctx context.Context, feed scanner.Feed) error {
	s.feed = feed
	for _, p := range s.storeErrs {
		feed.Skip(p.skipped())
	}
	for _, p := range s.refs.probs {
		feed.Skip(p.skipped())
	}
	if len(s.opts.Include) > 0 {
		return s.rangeItems(ctx, feed)
	}
	s.checkTips()
	s.checkShallow()
	if err := s.sendRefNames(ctx, feed); err != nil {
		return err
	}
	return s.fullItems(ctx, feed)
}

// checkShallow makes a shallow clone's whole-history audit an error (the
// history it was asked to read is not there) with the command that fixes
// it, or a note with Options.AcceptShallow.
func (s *Source) checkShallow() {
	n := 0
	for h := range s.shallow {
		if s.isCut(h) {
			n++
		}
	}
	if n == 0 {
		return
	}
	cut := fmt.Sprintf("shallow clone: history is cut at %d commit(s); older commits are not in this clone and were not scanned", n)
	if s.opts.AcceptShallow {
		s.feed.Note(cut + " (accepted with --accept-shallow); a key they introduced is attributed to the oldest commit present")
		return
	}
	s.feed.Skip(scanner.ErrorAt("shallow", cut+"; fetch the whole history with `git fetch --unshallow` (GitHub Actions: actions/checkout with fetch-depth: 0), or pass --accept-shallow to audit only what is present"))
}

// isCut reports whether shallow commit h really had parents cut off: git
// also lists a root commit at the depth limit, whose history is whole.
func (s *Source) isCut(h plumbing.Hash) bool {
	c, _, err := s.readCommit(h)
	return err != nil || len(c.parents) > 0
}

// checkTips reports every ref whose object is not in the store (a ref
// tip commit deleted, packs deleted): the history it names cannot be read.
func (s *Source) checkTips() {
	var bad []ref
	for _, r := range s.refs.tips {
		if !s.st.has(r.hash) {
			bad = append(bad, r)
		}
	}
	if len(bad) == 0 {
		return
	}
	if s.st.count() == 0 {
		s.feed.Skip(scanner.ErrorAt("objects", fmt.Sprintf("the object store holds no objects, yet %d ref(s) name some: its packs were deleted or never fetched", len(bad))))
	}
	for i, r := range bad {
		if i == s.opts.MaxSkipped {
			s.feed.Skip(scanner.ErrorAt("(more refs)", fmt.Sprintf("%d more refs name missing objects; only the first %d are listed", len(bad)-i, i)))
			break
		}
		s.feed.Skip(scanner.ErrorAt(r.name, fmt.Sprintf("names %s, which is not in the object store: the history it points to cannot be read", r.hash)))
	}
}

// Close releases the pack files. The scan does not need it called (files
// are closed when the Source is garbage) but long-running callers may.
func (s *Source) Close() error {
	s.st.close()
	return nil
}

// addCommit records a parsed commit and returns what is scanned of it:
// the whole object, headers (author, committer) and message.
func (s *Source) addCommit(h plumbing.Hash, data []byte) ([]byte, error) {
	c, _, err := parseCommit(h, data)
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
			s.noteMissing(missingObj{hash: c.tree, kind: "tree", role: "the root tree of commit " + h.String()})
		}
		if !s.shallow[h] {
			for _, p := range c.parents {
				if !s.st.has(p) {
					s.noteMissing(missingObj{hash: p, kind: "commit", role: "a parent of commit " + h.String()})
				}
			}
		}
	}
	return data, nil
}

// addTag records an annotated tag and returns what is scanned of it: the
// whole object, tagger and message.
func (s *Source) addTag(h plumbing.Hash, data []byte) ([]byte, error) {
	t, _, err := parseTag(data)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.tags[h] = t
	s.mu.Unlock()
	if !s.st.has(t.target) {
		s.noteMissing(missingObj{hash: t.target, kind: typeName(t.targetType), role: fmt.Sprintf("the target of tag %q (%s)", t.name, h)})
	}
	return data, nil
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
		s.noteMissing(missingObj{hash: e.hash, kind: kind, tree: h, name: e.name})
	}
	if err != nil {
		return fmt.Errorf("tree %s: %w", h, err)
	}
	return nil
}

var emptyReader = io.NopCloser(bytes.NewReader(nil))

// finishObject turns a resolved object into what the engine scans: a
// blob's content, a commit's or tag's message; a tree is checked, and
// only the rare one with an entry name that may hold a key is scanned, as
// its list of such names (names.go).
func (s *Source) finishObject(h plumbing.Hash, typ int8, data []byte) (io.ReadCloser, error) {
	switch typ {
	case typBlob:
		return io.NopCloser(bytes.NewReader(data)), nil
	case typTree:
		if err := s.checkTree(h, data); err != nil {
			return nil, err
		}
		if ns := treeNames(data); ns != nil {
			s.markNameTree(h)
			return nopReader(ns), nil
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

// headState is what HEAD is.
type headState int

const (
	headOK     headState = iota // a commit
	headUnborn                  // a branch with no commit yet: nothing is at HEAD
	headBroken                  // it cannot be resolved: what is at HEAD is unknown
)

// head returns the commit "HEAD" means for AtHead: the repository's HEAD in
// a full audit, the first Include revision otherwise.
func (s *Source) head() (plumbing.Hash, headState) {
	if s.rangeMode {
		if s.tip.IsZero() {
			return s.tip, headUnborn
		}
		return s.tip, headOK
	}
	r, err := s.repo.Head()
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound) && len(s.refs.probs) == 0:
		return plumbing.ZeroHash, headUnborn
	case err != nil:
		return plumbing.ZeroHash, headBroken
	}
	return r.Hash(), headOK
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
