package staged

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/xaiscan/xaiscan/scanner"
)

// RepoPaths turns file arguments into the slash-separated paths, relative
// to the work tree root, that the index uses. Relative arguments are
// relative to cwd, as git and the pre-commit framework give them (pre-commit
// runs hooks from the root); they are joined lexically, as git joins
// pathspecs, so a tracked symlink is named, not followed. An argument
// outside the work tree is an error.
func RepoPaths(root, cwd string, args []string) ([]string, error) {
	rootR, cwdR := resolved(root), resolved(cwd)
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a == "" {
			return nil, errors.New("an empty file name")
		}
		p, ok := within(rootR, cwdR, a)
		if !ok {
			p, ok = within(root, cwd, a)
		}
		if !ok {
			return nil, fmt.Errorf("%s is outside the repository %s", a, filepath.ToSlash(root))
		}
		out = append(out, p)
	}
	return out, nil
}

// resolved is dir with symlinks resolved (/tmp and /private/tmp on macOS),
// or dir itself when that fails.
func resolved(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}

func within(root, cwd, arg string) (string, bool) {
	abs := arg
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(cwd, arg)
	}
	rel, err := filepath.Rel(root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	if rel == "." {
		return "", true
	}
	return filepath.ToSlash(rel), true
}

// pathSet is the set of paths a named-files check was asked for; each
// also stands for everything under it.
type pathSet struct {
	want    map[string]bool // path -> matched by some index entry
	order   []string        // as given, without duplicates
	all     bool            // "" (the whole tree) was asked for
	anyDeep bool            // some path has a slash: sparse directories may hold it
}

func newPathSet(paths []string) *pathSet {
	ps := &pathSet{want: make(map[string]bool, len(paths))}
	for _, p := range paths {
		p = strings.Trim(p, "/")
		if p == "" || p == "." {
			ps.all = true
			continue
		}
		if _, dup := ps.want[p]; !dup {
			ps.want[p] = false
			ps.order = append(ps.order, p)
			ps.anyDeep = ps.anyDeep || strings.Contains(p, "/")
		}
	}
	return ps
}

// match reports whether name, or a directory above it, was asked for, and
// marks that path as found.
func (ps *pathSet) match(name string) bool {
	hit := ps.all
	for d := name; d != ""; {
		if _, ok := ps.want[d]; ok {
			ps.want[d] = true
			hit = true
		}
		i := strings.LastIndexByte(d, '/')
		if i < 0 {
			break
		}
		d = d[:i]
	}
	return hit
}

// under reports whether some asked-for path lies inside directory dir.
func (ps *pathSet) under(dir string) bool {
	if !ps.anyDeep {
		return false
	}
	for _, p := range ps.order {
		if strings.HasPrefix(p, dir+"/") {
			return true
		}
	}
	return false
}

// missing lists the asked-for paths no index entry matched.
func (ps *pathSet) missing() []string {
	var out []string
	for _, p := range ps.order {
		if !ps.want[p] {
			out = append(out, p)
		}
	}
	return out
}

// namedItems sends the staged content of the files named by Paths, which
// is what the commit will contain (partially staged files included):
// the pre-commit framework passes the staged files on a commit and every
// tracked file with --all-files. It may split a long list over several
// runs; each run reads only its own files, so each is right on its own.
//
// A named path the index does not have is, in order: a regular file in
// the working tree (untracked, or removed with "git rm --cached"): read
// from there, since it was asked for; an untracked directory: an error
// (not read; "git add" it or use "xaiscan dir"); another kind of file
// (symlink, special file): excluded, not followed; a path HEAD has but the
// index and working tree do not: excluded, the commit deletes it; anything
// else: an error, no such file.
func (s *Source) namedItems(ctx context.Context, idx *gitIndex, feed scanner.Feed) error {
	ps := newPathSet(s.Paths)
	var todo, sparse []entry
	var unmerged []string
	for _, e := range idx.entries {
		name := strings.TrimSuffix(e.name, "/")
		if e.mode == filemode.Dir { // a sparse-index directory
			if ps.match(name) || ps.under(name) {
				sparse = append(sparse, e)
			}
			continue
		}
		if !ps.match(name) {
			continue
		}
		switch {
		case e.stage != 0:
			if len(unmerged) == 0 || unmerged[len(unmerged)-1] != e.name {
				unmerged = append(unmerged, e.name)
			}
		case e.mode == filemode.Submodule:
			feed.Skip(scanner.ExcludedAt(e.name, "submodule (gitlink): its commits are checked in its own repository"))
		case e.intentToAdd:
			feed.Skip(scanner.ExcludedAt(e.name, "intent to add (git add -N): no content staged, so the commit will not contain it"))
		default:
			todo = append(todo, e)
		}
	}
	skipUnmerged(unmerged, feed)
	var err error
	if todo, err = s.sparseEntries(ctx, sparse, ps, todo, feed); err != nil {
		return err
	}
	if err := s.sendNames(ctx, todo, true, feed); err != nil {
		return err
	}
	feed.Expect(int64(len(todo)))
	if err := s.sendBlobs(ctx, todo, feed); err != nil {
		return err
	}
	return s.notInIndex(ctx, ps.missing(), feed)
}

// sparseEntries adds the files under sparse-index directory entries (the
// part of the tree a sparse checkout leaves out, recorded as one tree id)
// that were asked for, read from their trees.
func (s *Source) sparseEntries(ctx context.Context, sparse []entry, ps *pathSet, todo []entry, feed scanner.Feed) ([]entry, error) {
	for _, d := range sparse {
		dir := strings.TrimSuffix(d.name, "/")
		t, err := object.GetTree(s.objects, d.hash)
		if err != nil {
			feed.Skip(scanner.ErrorAt(dir, fmt.Sprintf("sparse-index directory: tree %s: %v", d.hash, err)))
			continue
		}
		err = t.Files().ForEach(func(f *object.File) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			name := dir + "/" + f.Name
			switch {
			case !ps.match(name):
			case f.Mode == filemode.Submodule:
			default:
				todo = append(todo, entry{name: name, hash: f.Hash, mode: f.Mode})
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			feed.Skip(scanner.ErrorAt(dir, fmt.Sprintf("sparse-index directory: %v", err)))
		}
	}
	return todo, nil
}

// notInIndex accounts for the named paths the index does not have (see
// namedItems for the rules).
func (s *Source) notInIndex(ctx context.Context, paths []string, feed scanner.Feed) error {
	root := s.Root()
	read := 0
	for _, p := range paths {
		full := filepath.Join(root, filepath.FromSlash(p))
		fi, err := os.Lstat(full)
		switch {
		case err == nil && fi.Mode().IsRegular():
			read++
			if err := feed.Send(ctx, workTreeItem(p, full, fi.Size())); err != nil {
				return err
			}
		case err == nil && fi.IsDir():
			feed.Skip(scanner.ErrorAt(p, "untracked directory (not in the index): not read; 'git add' it, or scan it with 'xaiscan dir'"))
		case err == nil:
			feed.Skip(scanner.ExcludedAt(p, "not in the index, and not a regular file in the working tree (symlink or special file): not followed"))
		case errors.Is(err, fs.ErrNotExist) && s.inHead(p):
			feed.Skip(scanner.ExcludedAt(p, "deleted: in HEAD but neither in the index nor in the working tree, so the commit removes it"))
		case errors.Is(err, fs.ErrNotExist):
			feed.Skip(scanner.ErrorAt(p, "no such file in the index, HEAD or the working tree"+argHint(p)))
		default:
			feed.Skip(scanner.ErrorAt(p, fmt.Sprintf("not in the index, and the working-tree file cannot be read: %v", err)))
		}
	}
	if read > 0 {
		feed.Note(fmt.Sprintf("%d named file(s) not in the index (untracked) were read from the working tree", read))
	}
	return nil
}

// argHint explains the likely cause of a "file" that looks like a flag:
// pre-commit appends a hook's args after its entry, where every word is a
// file name.
func argHint(p string) string {
	if strings.HasPrefix(p, "-") {
		return " (after --, every argument is a file name; with the pre-commit framework, pass flags by overriding the hook's entry, not with args)"
	}
	return ""
}

func workTreeItem(path, full string, size int64) scanner.Item {
	return scanner.Item{
		Path:   path,
		Source: scanner.SourceFile,
		Size:   size,
		Open:   func() (io.ReadCloser, error) { return os.Open(full) },
		Counts: scanner.CountFile,
	}
}

// inHead reports whether HEAD's tree has path (file or directory).
func (s *Source) inHead(path string) bool {
	if s.head == nil {
		return false
	}
	_, err := s.head.FindEntry(path)
	return err == nil
}

// noteCommitted says how many findings of a named-files check are keys
// that HEAD (or the commit being merged or cherry-picked) already holds at
// the same path: they are reported, because the files committed contain
// them, and the note tells the user this commit did not add them.
func (s *Source) noteCommitted(ctx context.Context, raw []scanner.Finding, feed scanner.Feed) error {
	byPath := map[string]map[string]bool{}
	n := 0
	for _, f := range raw {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.Source != scanner.SourceStaged || (s.Known != nil && s.Known(f)) {
			continue
		}
		committed, ok := byPath[f.Path]
		if !ok {
			if h, found := s.headBlob(f.Path); found {
				s.old[f.Path] = h
			}
			committed = s.committedAt(f.Path, feed)
			byPath[f.Path] = committed
		}
		if committed[f.Fingerprint] {
			n++
		}
	}
	switch {
	case n == 1:
		feed.Note("1 finding is a key already committed at its path (in HEAD, or in the commit being merged): this commit does not add it, but a file it commits contains it; rotate the key, or list it in .xaiscanignore if it is accepted")
	case n > 1:
		feed.Note(fmt.Sprintf("%d findings are keys already committed at their paths (in HEAD, or in the commit being merged): this commit does not add them, but the files it commits contain them; rotate the keys, or list accepted ones in .xaiscanignore", n))
	}
	return nil
}

// headBlob returns HEAD's blob at path, if HEAD has a file there.
func (s *Source) headBlob(path string) (plumbing.Hash, bool) {
	if s.head == nil {
		return plumbing.ZeroHash, false
	}
	e, err := s.head.FindEntry(path)
	if err != nil || !e.Mode.IsFile() {
		return plumbing.ZeroHash, false
	}
	return e.Hash, true
}
