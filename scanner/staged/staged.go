// Package staged scans what the next commit would add: the blobs recorded in
// the git index that differ from HEAD.
//
// It reads the index, never the working tree, so a partially staged file is
// scanned as it will be committed, and line numbers are those of the staged
// content. Keys that HEAD (or, during a merge, the merged commit) already
// holds at the same path are not reported: they were committed before, and a
// pre-commit hook that blocked every later edit of such a file would only
// teach people to bypass it. History scans and pre-push checks are where
// those keys are caught.
//
// Given file names (Paths, as the pre-commit framework passes them), it
// checks those files instead: every key in the staged content of each is
// reported, committed before or not, because the commit contains it and
// "pre-commit run --all-files" must fail on a tracked file holding a key.
package staged

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/xaiscan/xaiscan/scanner"
)

// emptyBlob is the id of the empty blob; "git add -N" records it for a
// path whose content is not staged yet, often without writing the object.
var emptyBlob = plumbing.NewHash("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")

// maxOpenPacks bounds the pack files kept open while blobs are read.
const maxOpenPacks = 16

// maxRenameReads bounds how many deleted HEAD blobs Finish reads when it
// looks for the origin of a key in a renamed file, so a commit that deletes
// thousands of files stays fast.
const maxRenameReads = 256

// Source is a scanner.Source (and scanner.Finisher) over the staged changes
// of one repository. Create it with New; it is single-use.
type Source struct {
	repo *git.Repository
	// indexPath is the index file read: $GIT_INDEX_FILE when git set it
	// (git commit -a and git commit PATH run the hook against a temporary
	// index), else the repository's (worktree's) own index.
	indexPath string

	// Decoding is how the keys already committed at a path are found: set
	// it to the engine's options, so an encoded key that HEAD already
	// holds is recognised as committed too; the zero value reads plain
	// bytes only.
	Decoding scanner.Options

	// Paths, when not empty, switches to checking named files (see
	// namedItems): slash-separated, relative to Root, as RepoPaths
	// returns them; "" is the whole tree and a directory stands for the
	// files under it. Every key in their staged content is reported.
	Paths []string

	// Known, if set, reports the findings the caller will suppress as
	// known keys (baseline, .xaiscanignore); notes about the findings
	// leave them out, so the counts match the report.
	Known func(scanner.Finding) bool

	// objects reads trees, commits and blobs, keeping pack files open
	// (see New).
	objects storer.EncodedObjectStorer

	// Filled in by Items, used by Finish.
	head    *object.Tree             // HEAD's root tree, nil before the first commit
	cache   map[string]plumbing.Hash // the index's cache tree: directory -> tree id
	hasHead bool                     // false before the first commit
	old     map[string]plumbing.Hash // HEAD's blob at each changed path, if any
	deleted []treeEntry              // HEAD files and directories the index no longer has
	known   []*object.Tree           // other trees whose keys count as committed (MERGE_HEAD...)
	todo    []entry                  // changed stage-0 entries, in index order
	added   []entry                  // stage-0 entries at paths HEAD does not have (names.go)

	noCacheTree bool // benchmarks: measure the walk without the cache tree
}

// treeEntry is a path in HEAD's tree.
type treeEntry struct {
	path string
	hash plumbing.Hash
	dir  bool
}

// New opens the repository containing repoPath ("" means the current
// directory). It finds the repository from a subdirectory and supports
// linked worktrees. A bare repository has no index and is an error.
func New(repoPath string) (*Source, error) {
	if repoPath == "" {
		repoPath = "."
	}
	repo, err := git.PlainOpenWithOptions(repoPath, &git.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", repoPath, err)
	}
	s := &Source{repo: repo, objects: repo.Storer}
	if st, ok := repo.Storer.(*filesystem.Storage); ok {
		// go-git reopens a pack file for every object it reads from it,
		// which dominates a check of thousands of files (pre-commit run
		// --all-files); this store keeps a few open. Finish closes them (a scan
		// that stops early leaves them to the garbage collector).
		s.objects = filesystem.NewStorageWithOptions(st.Filesystem(), cache.NewObjectLRUDefault(), filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
	}
	if p := os.Getenv("GIT_INDEX_FILE"); p != "" {
		// Git sets it for hooks, relative to the hook's working directory.
		s.indexPath = p
	} else {
		st, ok := repo.Storer.(*filesystem.Storage)
		if !ok {
			return nil, fmt.Errorf("open git repository %s: unsupported storage", repoPath)
		}
		if _, err := repo.Worktree(); errors.Is(err, git.ErrIsBareRepository) {
			return nil, fmt.Errorf("%s is a bare repository: it has no index to scan", repoPath)
		}
		s.indexPath = st.Filesystem().Join(gitDir(st), "index")
	}
	return s, nil
}

// Root returns the work tree's top directory (the linked worktree's, in a
// worktree): where .xaiscanignore and .xaiscan.toml are looked up, and what
// finding paths are relative to.
func (s *Source) Root() string {
	wt, err := s.repo.Worktree()
	if err != nil {
		return ""
	}
	return wt.Filesystem.Root()
}

// gitDir is the directory holding the (worktree's) index.
func gitDir(st *filesystem.Storage) string {
	type rooter interface{ Root() string }
	if r, ok := st.Filesystem().(rooter); ok {
		return r.Root()
	}
	return ""
}

// Items implements scanner.Source: it sends every stage-0 index entry whose
// blob differs from HEAD's blob at the same path.
func (s *Source) Items(ctx context.Context, feed scanner.Feed) error {
	idx, err := readIndex(s.indexPath)
	if err != nil {
		return err
	}
	s.cache = idx.trees
	if s.noCacheTree {
		s.cache = nil
	}
	s.old = map[string]plumbing.Hash{}
	head, err := s.headTree()
	if err != nil {
		return err
	}
	s.head = head
	s.loadKnownTrees(feed)
	if len(s.Paths) > 0 {
		return s.namedItems(ctx, idx, feed)
	}

	var staged []entry
	var unmerged []string
	for _, e := range idx.entries {
		if e.stage != 0 {
			if len(unmerged) == 0 || unmerged[len(unmerged)-1] != e.name {
				unmerged = append(unmerged, e.name)
			}
			continue
		}
		staged = append(staged, e)
	}
	// Git writes the index sorted; a hand-made one might not be, and the
	// directory walk relies on the order.
	if !sort.SliceIsSorted(staged, func(i, j int) bool { return staged[i].name < staged[j].name }) {
		sort.SliceStable(staged, func(i, j int) bool { return staged[i].name < staged[j].name })
	}
	// When the whole index is HEAD's tree, nothing is staged.
	if h, ok := s.cache[""]; !ok || head == nil || h != head.Hash {
		if err := s.compare(ctx, "", head, staged, feed); err != nil {
			return err
		}
	}
	skipUnmerged(unmerged, feed)
	if err := s.sendNames(ctx, s.added, false, feed); err != nil {
		return err
	}
	feed.Expect(int64(len(s.todo)))
	return s.sendBlobs(ctx, s.todo, feed)
}

// sendBlobs sends the staged blob of each entry; a blob that cannot be
// read is an error naming its path.
func (s *Source) sendBlobs(ctx context.Context, entries []entry, feed scanner.Feed) error {
	for _, e := range entries {
		var data []byte
		if e.hash != emptyBlob { // often not even written to the store
			var err error
			if data, err = s.readBlob(e.hash); err != nil {
				feed.Skip(scanner.ErrorAt(e.name, fmt.Sprintf("staged blob %s: %v", e.hash, err)))
				continue
			}
		}
		it := scanner.Item{
			Path:   e.name,
			Source: scanner.SourceStaged,
			Object: e.hash.String(),
			Size:   int64(len(data)),
			Data:   data,
			Counts: scanner.CountFile,
		}
		if err := feed.Send(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

// skipUnmerged lists the paths still in conflict. Git refuses to commit
// an unmerged path; once resolved and added, it is a stage-0 entry and is
// scanned.
func skipUnmerged(paths []string, feed scanner.Feed) {
	for _, p := range paths {
		feed.Skip(scanner.ExcludedAt(p, "unmerged (conflict not resolved): git cannot commit it until it is resolved and added"))
	}
}

// compare collects the entries under directory dir ("" or "a/b/") that
// differ from tree, HEAD's tree for dir (nil when HEAD has none). A
// directory whose cache-tree id equals HEAD's is identical and skipped
// without reading anything, so the cost follows the directories the commit
// touches, not the size of the repository.
func (s *Source) compare(ctx context.Context, dir string, tree *object.Tree, entries []entry, feed scanner.Feed) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if tree == nil {
		for _, e := range entries {
			s.consider(e, plumbing.ZeroHash, false, feed)
		}
		return nil
	}
	children := make(map[string]*object.TreeEntry, len(tree.Entries))
	for i := range tree.Entries {
		children[tree.Entries[i].Name] = &tree.Entries[i]
	}
	seen := make(map[string]bool, len(tree.Entries))
	for i := 0; i < len(entries); {
		rest := entries[i].name[len(dir):]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 || slash == len(rest)-1 {
			// A file (or a sparse-index directory entry "name/").
			name := strings.TrimSuffix(rest, "/")
			seen[name] = true
			if c := children[name]; c != nil && c.Mode != filemode.Dir {
				s.consider(entries[i], c.Hash, true, feed)
			} else {
				s.consider(entries[i], plumbing.ZeroHash, false, feed)
			}
			i++
			continue
		}
		// A subdirectory: its entries are contiguous in index order.
		name := rest[:slash]
		sub := dir + name + "/"
		j := i + 1
		for j < len(entries) && strings.HasPrefix(entries[j].name, sub) {
			j++
		}
		seen[name] = true
		var subTree *object.Tree
		if c := children[name]; c != nil && c.Mode == filemode.Dir {
			if h, ok := s.cache[dir+name]; ok && h == c.Hash {
				i = j
				continue // identical to HEAD
			}
			t, err := object.GetTree(s.objects, c.Hash)
			if err != nil {
				return fmt.Errorf("read HEAD tree %s (%s): %w", dir+name, c.Hash, err)
			}
			subTree = t
		}
		if err := s.compare(ctx, sub, subTree, entries[i:j], feed); err != nil {
			return err
		}
		i = j
	}
	for _, c := range tree.Entries {
		if !seen[c.Name] && c.Mode != filemode.Submodule {
			s.deleted = append(s.deleted, treeEntry{path: dir + c.Name, hash: c.Hash, dir: c.Mode == filemode.Dir})
		}
	}
	return nil
}

// consider queues a stage-0 entry for scanning unless it holds nothing
// new: the same blob as HEAD (old, when inHead), nothing staged yet ("git
// add -N"), a sparse-index directory, or a submodule.
func (s *Source) consider(e entry, old plumbing.Hash, inHead bool, feed scanner.Feed) {
	if !inHead && !e.intentToAdd && e.mode != filemode.Dir {
		// A new path's name is committed whatever its content (an empty
		// file, a submodule).
		s.added = append(s.added, e)
	}
	switch {
	case inHead && e.hash == old:
	case e.intentToAdd, e.mode == filemode.Dir, e.hash == emptyBlob:
	case e.mode == filemode.Submodule:
		feed.Skip(scanner.Skipped{Path: e.name, Reason: "submodule (gitlink): its commits are checked in its own repository", Kind: scanner.KindExcluded})
	default:
		if inHead {
			s.old[e.name] = old
		}
		s.todo = append(s.todo, e)
	}
}

// Finish implements scanner.Finisher: it drops the findings whose key HEAD
// already holds at the same path (or at a path this commit deletes, so a
// renamed file does not re-report its old keys), and, during a merge or
// cherry-pick, whose key the merged commit holds at that path.
// Only files with findings are read.
func (s *Source) Finish(ctx context.Context, raw []scanner.Finding, feed scanner.Feed) ([]scanner.Finding, error) {
	defer s.closeObjects()
	if len(raw) == 0 || (!s.hasHead && len(s.known) == 0) {
		return raw, nil
	}
	if len(s.Paths) > 0 {
		return raw, s.noteCommitted(ctx, raw, feed)
	}
	byPath := map[string]map[string]bool{} // path -> committed fingerprints
	var renamed map[string]bool            // fingerprints in deleted HEAD files, built on demand
	kept := raw[:0]
	for _, f := range raw {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		committed, ok := byPath[f.Path]
		if !ok {
			committed = s.committedAt(f.Path, feed)
			byPath[f.Path] = committed
		}
		if committed[f.Fingerprint] {
			continue
		}
		if renamed == nil {
			renamed = s.deletedKeys(feed)
		}
		if renamed[f.Fingerprint] {
			continue
		}
		kept = append(kept, f)
	}
	return kept, nil
}

// committedAt returns the fingerprints of the keys in HEAD's (and the known
// trees') blobs at path.
func (s *Source) committedAt(path string, feed scanner.Feed) map[string]bool {
	fps := map[string]bool{}
	if h, ok := s.old[path]; ok {
		s.addKeys(fps, h, path, feed)
	}
	for _, t := range s.known {
		if e, err := t.FindEntry(path); err == nil && e.Mode.IsFile() {
			s.addKeys(fps, e.Hash, path, feed)
		}
	}
	return fps
}

// deletedKeys returns the fingerprints of the keys in HEAD files that the
// index no longer has: the origin of a renamed or moved file. At most
// maxRenameReads files are read.
func (s *Source) deletedKeys(feed scanner.Feed) map[string]bool {
	fps := map[string]bool{}
	reads := 0
	queue := append([]treeEntry(nil), s.deleted...)
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		if reads >= maxRenameReads {
			feed.Note(fmt.Sprintf("this commit deletes many files; only %d were read to recognise keys moved by a rename", maxRenameReads))
			break
		}
		reads++
		if !e.dir {
			s.addKeys(fps, e.hash, e.path, feed)
			continue
		}
		t, err := object.GetTree(s.objects, e.hash)
		if err != nil {
			feed.Note(fmt.Sprintf("could not read the committed directory %s (%v): keys moved out of it are reported as new", e.path, err))
			continue
		}
		for _, c := range t.Entries {
			if c.Mode == filemode.Submodule {
				continue
			}
			queue = append(queue, treeEntry{path: e.path + "/" + c.Name, hash: c.Hash, dir: c.Mode == filemode.Dir})
		}
	}
	return fps
}

// addKeys adds the fingerprints of the keys in blob h to fps. A blob that
// cannot be read only means its keys are reported, so it is noted, not an
// error.
func (s *Source) addKeys(fps map[string]bool, h plumbing.Hash, path string, feed scanner.Feed) {
	data, err := s.readBlob(h)
	if err != nil {
		feed.Note(fmt.Sprintf("could not read the committed version of %s (%v): its keys are reported as new", path, err))
		return
	}
	// Allow markers are deliberately not applied (Fingerprints ignores
	// them): a key that was committed is committed, whatever its line says.
	for fp := range scanner.Fingerprints(context.Background(), s.Decoding, data) {
		fps[fp] = true
	}
}

// closeObjects releases the pack files the object store kept open.
func (s *Source) closeObjects() {
	if c, ok := s.objects.(io.Closer); ok && s.objects != s.repo.Storer {
		c.Close()
	}
}

func (s *Source) readBlob(h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(s.objects, h)
	if err != nil {
		return nil, err
	}
	rc, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, b.Size))
	if _, err := io.Copy(buf, rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// headTree returns HEAD's root tree, or nil before the first commit
// (everything staged is then new).
func (s *Source) headTree() (*object.Tree, error) {
	ref, err := s.repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("resolve HEAD: %w", err)
	}
	c, err := object.GetCommit(s.objects, ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("read HEAD commit %s: %w", ref.Hash(), err)
	}
	t, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("read HEAD tree: %w", err)
	}
	s.hasHead = true
	return t, nil
}

// loadKnownTrees reads the trees of MERGE_HEAD and CHERRY_PICK_HEAD: while
// a merge or cherry-pick is being concluded, the keys those commits already
// hold were committed (on the other branch) and are not what this commit
// leaks.
func (s *Source) loadKnownTrees(feed scanner.Feed) {
	st, ok := s.repo.Storer.(*filesystem.Storage)
	if !ok {
		return
	}
	for _, name := range []string{"MERGE_HEAD", "CHERRY_PICK_HEAD"} {
		f, err := st.Filesystem().Open(name)
		if err != nil {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil {
			continue
		}
		for _, line := range strings.Fields(string(data)) {
			if !plumbing.IsHash(line) {
				continue
			}
			c, err := object.GetCommit(s.objects, plumbing.NewHash(line))
			if err != nil {
				feed.Note(fmt.Sprintf("%s %s unreadable (%v): keys it holds are reported as new", name, line, err))
				continue
			}
			t, err := c.Tree()
			if err != nil {
				continue
			}
			s.known = append(s.known, t)
		}
	}
}
