// Package files is the directory source: it walks files and directories and
// hands every regular file to the engine.
//
// The walk itself is single-threaded and cheap (directory reads only; no
// stat per file, since directory entries carry their type, unless a size
// limit asks for one); reading and matching happen on the engine's
// workers. The walker never hangs or loops: FIFOs, sockets and devices met
// during a walk are skipped with a reason, symlinks are not followed
// unless asked (and then loops are detected), and git object storage is
// left to the history scan. Excluded paths (globs, a size limit) are never
// opened, and are listed as exclusions. Holes of sparse files are skipped
// where the system can find them (SEEK_DATA/SEEK_HOLE), not read as zeros.
//
// Every name the walk meets is scanned too (package names): a key in a
// file or directory name is a finding at that path with part "name", also
// for entries whose content is not read (a symlink not followed, a FIFO, a
// file over the size limit). Paths the user excluded by pattern, and what
// the audit's Filter leaves out, are not looked at at all.
package files

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/known"
	"github.com/xaiscan/xaiscan/scanner/names"
)

// Options configure a directory source.
type Options struct {
	// FollowSymlinks follows symbolic links met during the walk. Paths
	// named explicitly are always followed, as `find -H` does.
	FollowSymlinks bool
	// Filter, if set, is asked about every entry below a root directory
	// (rel is slash-separated and relative to that root); false leaves the
	// entry (and, for a directory, everything under it) out without a
	// skip record. The audit uses it to read only what git would commit.
	Filter func(rel string, isDir bool) bool
	// FilterNote is recorded once as a coverage note when Filter is set,
	// so a reader knows some paths were left out by design.
	FilterNote string
	// Source is the Finding.Source of items; default scanner.SourceFile.
	Source string
	// Exclude lists path patterns whose matches are not read: a matching
	// directory is not entered. Each is listed as an exclusion.
	Exclude []Exclusion
	// MaxFileSize, if positive, leaves files larger than it unread,
	// listed as exclusions.
	MaxFileSize int64
}

// Exclusion is a path pattern that leaves what it matches unread. Patterns
// match the paths shown in reports (relative to the root when there is one
// root; with several roots, including the root as given).
type Exclusion struct {
	Glob known.Glob
	// Origin says where the pattern was given, for the exclusion's
	// reason: "--exclude", ".xaiscan.toml [allow] paths".
	Origin string
}

// excluded returns why display (a directory when isDir) is excluded by
// a pattern, or "".
func (s *Source) excluded(display string, isDir bool) string {
	for _, x := range s.opts.Exclude {
		if (isDir && x.Glob.MatchDir(display)) || (!isDir && x.Glob.Match(display)) {
			return fmt.Sprintf("excluded by %s %q", x.Origin, x.Glob.String())
		}
	}
	return ""
}

// tooLarge returns why a file of size bytes is excluded by the size
// limit, or "".
func (s *Source) tooLarge(size int64) string {
	if s.opts.MaxFileSize <= 0 || size <= s.opts.MaxFileSize {
		return ""
	}
	return fmt.Sprintf("larger than the size limit (%s > %s, --max-file-size)",
		scanner.SizeString(size), scanner.SizeString(s.opts.MaxFileSize))
}

// Source walks paths. It implements scanner.Source.
type Source struct {
	roots []string
	opts  Options
}

// New returns a source over roots (files or directories).
func New(roots []string, opts Options) *Source {
	if opts.Source == "" {
		opts.Source = scanner.SourceFile
	}
	return &Source{roots: roots, opts: opts}
}

// Items implements scanner.Source.
func (s *Source) Items(ctx context.Context, feed scanner.Feed) error {
	if s.opts.Filter != nil && s.opts.FilterNote != "" {
		feed.Note(s.opts.FilterNote)
	}
	for _, root := range s.roots {
		if err := s.root(ctx, feed, root); err != nil {
			return err
		}
	}
	return nil
}

// root scans one path named by the user. Its display prefix is empty when
// it is the only root (paths are then relative to it), else the path as
// given, so findings from several roots stay distinguishable.
func (s *Source) root(ctx context.Context, feed scanner.Feed, root string) error {
	display := filepath.ToSlash(filepath.Clean(root))
	// A named path is followed even if it is a symlink.
	// A single root directory is what paths are relative to: patterns
	// apply below it. Named files, and roots among several, are matched.
	if why := s.excluded(display, isDirPath(root)); why != "" && len(s.roots) > 1 {
		feed.Skip(scanner.ExcludedAt(display, why))
		return nil
	}
	info, err := os.Stat(root)
	if err != nil {
		feed.Skip(scanner.Skipped{Path: display, Reason: reason(err), Kind: scanner.KindError})
		return nil
	}
	if !info.IsDir() {
		if why := s.excluded(display, false); why != "" {
			feed.Skip(scanner.ExcludedAt(display, why))
			return nil
		}
		if why := s.tooLarge(info.Size()); why != "" && info.Mode().IsRegular() {
			feed.Skip(scanner.ExcludedAt(display, why))
			return nil
		}
		if err := s.sendName(ctx, feed, display); err != nil {
			return err
		}
		// Named explicitly: read it whatever it is, so `xaiscan dir
		// <(cmd)` and named pipes work as they do with cat.
		return s.send(ctx, feed, root, display, info.Size())
	}
	prefix := ""
	if len(s.roots) > 1 {
		prefix = display
	}
	w := walker{s: s, feed: feed, prefix: prefix}
	if s.opts.FollowSymlinks {
		w.seen = map[fileID]bool{}
		if id, ok := idOf(info); ok {
			w.seen[id] = true
		}
	}
	return w.dir(ctx, root, "")
}

// maxDepth bounds directory nesting, so a symlink loop the OS cannot
// identify still ends.
const maxDepth = 256

type walker struct {
	s      *Source
	feed   scanner.Feed
	prefix string
	seen   map[fileID]bool // directories entered, when following symlinks
}

func (w *walker) display(rel string) string {
	switch {
	case w.prefix == "":
		return rel
	case rel == "":
		return w.prefix
	default:
		return path.Join(w.prefix, rel)
	}
}

// dir walks one directory; rel is its slash path below the root.
func (w *walker) dir(ctx context.Context, abs, rel string) error {
	entries, err := os.ReadDir(abs)
	if err != nil {
		// ReadDir returns what it could read along with the error.
		w.feed.Skip(scanner.Skipped{Path: w.displayDir(rel), Reason: reason(err), Kind: scanner.KindError})
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		childRel := e.Name()
		if rel != "" {
			childRel = rel + "/" + e.Name()
		}
		if err := w.entry(ctx, e, filepath.Join(abs, e.Name()), childRel); err != nil {
			return err
		}
	}
	return nil
}

// entry handles one directory entry: it sends a regular file, walks a
// directory, or records why the entry is left out.
func (w *walker) entry(ctx context.Context, e fs.DirEntry, abs, rel string) error {
	display := w.display(rel)
	mode := e.Type()
	var info fs.FileInfo // of the symlink's target, when followed
	if mode&fs.ModeSymlink != 0 {
		if !w.s.opts.FollowSymlinks {
			w.feed.Skip(scanner.ExcludedAt(display, "symlink not followed (use --follow-symlinks)"))
			return w.s.sendName(ctx, w.feed, display)
		}
		target, err := os.Stat(abs)
		if err != nil {
			w.feed.Skip(scanner.ExcludedAt(display, "broken symlink: "+reason(err)))
			return w.s.sendName(ctx, w.feed, display)
		}
		info, mode = target, target.Mode().Type()
	}
	if w.s.opts.Filter != nil && !w.s.opts.Filter(rel, mode.IsDir()) {
		return nil
	}
	if why := w.s.excluded(display, mode.IsDir()); why != "" {
		w.feed.Skip(scanner.ExcludedAt(display, why))
		return nil
	}
	// The name is read whatever the entry turns out to be (a file over
	// the size limit, a FIFO, a directory not entered): it is in the
	// listing, and reading it costs nothing. Only what the user left out
	// by path, or the audit's filter, is not looked at at all.
	if err := w.s.sendName(ctx, w.feed, display); err != nil {
		return err
	}
	switch {
	case mode.IsDir():
		return w.subdir(ctx, e.Name(), abs, rel)
	case mode.IsRegular():
		if why := w.sizeExcluded(e, info); why != "" {
			w.feed.Skip(scanner.ExcludedAt(display, why))
			return nil
		}
		return w.s.send(ctx, w.feed, abs, display, -1)
	}
	w.feed.Skip(scanner.ExcludedAt(display, kindOf(mode)+" skipped (not a regular file)"))
	return nil
}

// subdir walks into a directory met while walking, unless it is git's
// object storage, a directory already walked (a symlink loop), or too deep.
func (w *walker) subdir(ctx context.Context, name, abs, rel string) error {
	display := w.display(rel)
	if name == "objects" && isGitDir(path.Dir(rel)) {
		w.feed.Skip(scanner.ExcludedAt(display, "git object storage: scanned by `xaiscan git`"))
		return nil
	}
	if w.seen != nil {
		if info, err := os.Stat(abs); err == nil {
			if id, ok := idOf(info); ok {
				if w.seen[id] {
					w.feed.Skip(scanner.ExcludedAt(display, "directory already scanned (symlink loop)"))
					return nil
				}
				w.seen[id] = true
			}
		}
	}
	if strings.Count(rel, "/") >= maxDepth {
		w.feed.Skip(scanner.ErrorAt(display, fmt.Sprintf("deeper than %d directories (symlink loop?)", maxDepth)))
		return nil
	}
	return w.dir(ctx, abs, rel)
}

// sizeExcluded applies the size limit to a regular file met while
// walking: only then is the file stat'ed (info is its symlink's target's,
// when one was followed). A file that cannot be stat'ed is sent: opening
// it reports the problem.
func (w *walker) sizeExcluded(e fs.DirEntry, info fs.FileInfo) string {
	if w.s.opts.MaxFileSize <= 0 {
		return ""
	}
	if info == nil {
		var err error
		if info, err = e.Info(); err != nil {
			return ""
		}
	}
	return w.s.tooLarge(info.Size())
}

func (w *walker) displayDir(rel string) string {
	if d := w.display(rel); d != "" {
		return d
	}
	return "."
}

// isGitDir reports whether rel (a slash path) is a .git directory.
func isGitDir(rel string) bool {
	return rel == ".git" || strings.HasSuffix(rel, "/.git")
}

func (s *Source) send(ctx context.Context, feed scanner.Feed, abs, display string, size int64) error {
	return feed.Send(ctx, scanner.Item{
		Path:   display,
		Source: s.opts.Source,
		Size:   size,
		Counts: scanner.CountFile,
		Open:   func() (io.ReadCloser, error) { return openFile(abs) },
	})
}

// sendName sends the last element of display to be scanned for a key in
// the name, when it may hold one.
func (s *Source) sendName(ctx context.Context, feed scanner.Feed, display string) error {
	it, ok := names.Item(display, names.Base(display), s.opts.Source, "", scanner.Finding{})
	if !ok {
		return nil
	}
	return feed.Send(ctx, it)
}

func kindOf(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "named pipe"
	case mode&fs.ModeSocket != 0:
		return "socket"
	case mode&fs.ModeCharDevice != 0:
		return "character device"
	case mode&fs.ModeDevice != 0:
		return "device"
	default:
		return fmt.Sprintf("special file (%v)", mode)
	}
}

// reason turns a path error into a one-line reason without repeating the
// path (the skip record names it).
func reason(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// isDirPath reports whether p names a directory (following symlinks, as
// a named root is followed).
func isDirPath(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
