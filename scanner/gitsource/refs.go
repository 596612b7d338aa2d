package gitsource

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// ref is a ref that names an object: its name as the report shows it and
// the object id.
type ref struct {
	name string
	hash plumbing.Hash
}

// refSet is every ref of a repository, read directly from packed-refs and
// the loose ref files (go-git's iteration stops at the first unreadable
// ref, and its error was easy to lose: every ref after it went missing).
type refSet struct {
	// tips are the refs that name an object: branches, tags,
	// remote-tracking refs, notes, stash and its reflog entries, per-
	// worktree refs, and every worktree's detached HEAD.
	tips []ref
	// probs are refs that could not be read or make no sense; each means
	// the set of reachable objects is not fully known.
	probs []problem
	// packedUnread is set when packed-refs exists and could not be read:
	// then no missing ref can be told from a lost one.
	packedUnread bool
	// reflog lists the entries of every reflog but the stash's (which
	// are tips), as NAME@{n}, newest first: objects they hold survive gc
	// until the reflog expires, though no ref reaches them. An entry
	// naming an object gc already dropped is normal, not damage.
	reflog []ref
}

// readRefs reads the refs of the repository at loc.
func readRefs(loc Location) refSet {
	var rs refSet
	byName := map[string]plumbing.Hash{}
	rs.readPackedRefs(loc.CommonDir, byName)
	for _, root := range refRoots(loc) {
		rs.readLooseRefs(loc.CommonDir, root, byName)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		rs.tips = append(rs.tips, ref{n, byName[n]})
	}
	rs.readHeads(loc, byName)
	rs.readStashLog(loc.CommonDir, byName["refs/stash"])
	rs.readReflogs(loc)
	return rs
}

// readReflogs reads logs/HEAD and logs/refs/** of the common directory
// and of a linked worktree's own git directory. Unreadable reflogs are
// left out: they only add exposure, never hide a scanned object.
func (rs *refSet) readReflogs(loc Location) {
	dirs := []string{loc.CommonDir}
	if loc.GitDir != loc.CommonDir {
		dirs = append(dirs, loc.GitDir)
	}
	for _, dir := range dirs {
		logs := filepath.Join(dir, "logs")
		_ = filepath.WalkDir(logs, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			rel, _ := filepath.Rel(logs, p)
			name := filepath.ToSlash(rel)
			if name == "refs/stash" {
				return nil
			}
			rs.reflog = append(rs.reflog, reflogEntries(p, name)...)
			return nil
		})
	}
}

// reflogEntries reads one reflog file: "<old> <new> <who> <when>\t<msg>"
// lines, oldest first; entry n counts from the newest, as git's @{n}.
func reflogEntries(file, name string) []ref {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var out []ref
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) < 2 {
			continue
		}
		if h, ok := parseHex(f[1]); ok && !h.IsZero() {
			out = append(out, ref{fmt.Sprintf("%s@{%d}", name, len(lines)-1-i), h})
		}
	}
	return out
}

// refRoots lists the directories that hold loose refs: the shared refs/,
// and each linked worktree's own (refs/bisect, refs/worktree ...).
func refRoots(loc Location) []string {
	roots := []string{filepath.Join(loc.CommonDir, "refs")}
	wts, _ := filepath.Glob(filepath.Join(loc.CommonDir, "worktrees", "*", "refs"))
	roots = append(roots, wts...)
	if own := filepath.Join(loc.GitDir, "refs"); loc.GitDir != loc.CommonDir && !containsString(roots, own) {
		roots = append(roots, own)
	}
	return roots
}

// refName is how a ref file is named in the report: its path relative to
// the common directory ("refs/heads/main", "worktrees/wt/refs/bisect/bad").
func refName(commonDir, path string) string {
	if rel, err := filepath.Rel(commonDir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(path)
}

// readPackedRefs reads packed-refs: "<id> <name>" lines, "^<id>" peeled
// lines and a "# pack-refs" header. A missing file is no packed refs.
func (rs *refSet) readPackedRefs(commonDir string, byName map[string]plumbing.Hash) {
	data, err := os.ReadFile(filepath.Join(commonDir, "packed-refs"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		rs.packedUnread = true
		rs.probs = append(rs.probs, problem{path: "packed-refs", reason: fmt.Sprintf("cannot read the packed refs: %v; the refs it holds are unknown", unwrapPath(err))})
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == '#' || line[0] == '^' {
			continue
		}
		hex, name, ok := strings.Cut(line, " ")
		h, okHex := parseHex(hex)
		if !ok || !okHex || !strings.HasPrefix(name, "refs/") {
			rs.probs = append(rs.probs, problem{path: "packed-refs", reason: fmt.Sprintf("line %d is not a packed ref (want '<object id> refs/...')", n)})
			continue
		}
		byName[name] = h
	}
	if err := sc.Err(); err != nil {
		rs.probs = append(rs.probs, problem{path: "packed-refs", reason: fmt.Sprintf("cannot read the packed refs: %v", err)})
	}
}

// readLooseRefs reads every ref file under root; a loose ref overrides a
// packed one of the same name, as in git.
func (rs *refSet) readLooseRefs(commonDir, root string, byName map[string]plumbing.Hash) {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !(p == root && errors.Is(err, os.ErrNotExist)) {
				rs.probs = append(rs.probs, problem{path: refName(commonDir, p), reason: fmt.Sprintf("cannot read refs: %v", unwrapPath(err))})
			}
			return nil
		}
		if d.IsDir() || strings.HasSuffix(p, ".lock") {
			return nil
		}
		name := refName(commonDir, p)
		data, err := os.ReadFile(p)
		if err != nil {
			rs.probs = append(rs.probs, problem{path: name, reason: fmt.Sprintf("cannot read the ref: %v", unwrapPath(err))})
			return nil
		}
		h, target, err := parseRefFile(data)
		if t, ok := symlinkRef(p); ok {
			h, target, err = plumbing.ZeroHash, t, nil
		}
		switch {
		case err != nil:
			rs.probs = append(rs.probs, problem{path: name, reason: err.Error()})
		case target == "":
			byName[name] = h
		}
		// A symbolic ref (refs/remotes/origin/HEAD) names another ref,
		// which is read on its own; one naming a deleted ref is
		// dangling, which git ignores too.
		return nil
	})
}

// parseRefFile reads a ref file: an object id, or "ref: NAME".
func parseRefFile(data []byte) (plumbing.Hash, string, error) {
	s := strings.TrimSpace(string(data))
	if t, ok := strings.CutPrefix(s, "ref:"); ok {
		t = strings.TrimSpace(t)
		if t == "" || strings.ContainsAny(t, " \n") {
			return plumbing.ZeroHash, "", errors.New("not a ref: a symbolic ref without a valid target")
		}
		return plumbing.ZeroHash, t, nil
	}
	if h, ok := parseHex(s); ok {
		return h, "", nil
	}
	if s == "" {
		return plumbing.ZeroHash, "", errors.New("not a ref: the file is empty (a crash while it was written?)")
	}
	return plumbing.ZeroHash, "", errors.New("not a ref: want an object id or 'ref: NAME'")
}

// readHeads reads HEAD and every linked worktree's HEAD. A detached HEAD
// is a tip. A HEAD naming a branch that does not exist is an unborn branch
// (a fresh repository, git checkout --orphan), which is fine, unless that
// branch's reflog says it existed: then the ref was lost.
func (rs *refSet) readHeads(loc Location, byName map[string]plumbing.Hash) {
	files := []string{filepath.Join(loc.GitDir, "HEAD")}
	if loc.CommonDir != loc.GitDir {
		files = append(files, filepath.Join(loc.CommonDir, "HEAD"))
	}
	wts, _ := filepath.Glob(filepath.Join(loc.CommonDir, "worktrees", "*", "HEAD"))
	for _, f := range wts {
		if !containsString(files, f) {
			files = append(files, f)
		}
	}
	for _, f := range files {
		name := refName(loc.CommonDir, f)
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) && f != files[0] {
			continue // a worktree being removed
		}
		if err != nil {
			rs.probs = append(rs.probs, problem{path: name, reason: fmt.Sprintf("cannot read HEAD: %v", unwrapPath(err))})
			continue
		}
		h, target, err := parseRefFile(data)
		if t, ok := symlinkRef(f); ok {
			h, target, err = plumbing.ZeroHash, t, nil
		}
		switch {
		case err != nil:
			rs.probs = append(rs.probs, problem{path: name, reason: err.Error()})
		case target == "":
			rs.tips = append(rs.tips, ref{name, h})
		default:
			rs.checkUnborn(loc, filepath.Dir(f), name, target, byName)
		}
	}
}

// symlinkRef reads a HEAD that is a symbolic link to "refs/...", the form
// git used before "ref: " files and still reads: it names that branch (it
// is not a detached HEAD at the commit the link's target holds).
func symlinkRef(path string) (string, bool) {
	st, err := os.Lstat(path)
	if err != nil || st.Mode()&os.ModeSymlink == 0 {
		return "", false
	}
	t, err := os.Readlink(path)
	if err != nil {
		return "", false
	}
	t = filepath.ToSlash(t)
	return t, strings.HasPrefix(t, "refs/")
}

// checkUnborn records a HEAD whose branch is missing although the branch's
// reflog shows it pointed at a commit: packed-refs or the ref file was
// damaged or deleted, and the branch's history may be unreachable.
func (rs *refSet) checkUnborn(loc Location, headDir, name, target string, byName map[string]plumbing.Hash) {
	if _, ok := byName[target]; ok || rs.packedUnread {
		return
	}
	if _, ok := byName[refName(loc.CommonDir, filepath.Join(headDir, filepath.FromSlash(target)))]; ok {
		return
	}
	if !strings.HasPrefix(target, "refs/") {
		rs.probs = append(rs.probs, problem{path: name, reason: fmt.Sprintf("names %q, which is not a ref", target)})
		return
	}
	for _, dir := range []string{loc.CommonDir, headDir} {
		if h, ok := lastReflogEntry(filepath.Join(dir, "logs", filepath.FromSlash(target))); ok {
			rs.probs = append(rs.probs, problem{path: name, reason: fmt.Sprintf("names %s, which does not exist, though its reflog records it at %s: the ref was lost (packed-refs or the ref file damaged or deleted?)", target, h)})
			return
		}
	}
}

// lastReflogEntry returns the object the last entry of a reflog moved the
// ref to, if that is not a deletion.
func lastReflogEntry(path string) (plumbing.Hash, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return plumbing.ZeroHash, false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) < 2 {
		return plumbing.ZeroHash, false
	}
	h, ok := parseHex(f[1])
	return h, ok && !h.IsZero()
}

// readStashLog adds the stash reflog's entries: stash@{1} and older are
// stashes as much as refs/stash is. stash@{0} is refs/stash itself
// (stashTip) and is left out when it names the same commit, so exposure
// does not list one stash twice.
func (rs *refSet) readStashLog(commonDir string, stashTip plumbing.Hash) {
	data, err := os.ReadFile(filepath.Join(commonDir, "logs", "refs", "stash"))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			rs.probs = append(rs.probs, problem{path: "logs/refs/stash", reason: fmt.Sprintf("cannot read the stash list: %v", unwrapPath(err))})
		}
		return
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n := len(lines) - 1 - i
		if h, ok := parseHex(f[1]); ok && !h.IsZero() && (n > 0 || h != stashTip) {
			rs.tips = append(rs.tips, ref{fmt.Sprintf("stash@{%d}", n), h})
		}
	}
}

// unwrapPath drops the path an *fs.PathError repeats, since the entry
// already names it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
