package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/githook"
	"github.com/xaiscan/xaiscan/scanner/gitsource"
	"github.com/xaiscan/xaiscan/scanner/known"
	"github.com/xaiscan/xaiscan/scanner/staged"
)

func init() {
	commandNotes["git"] = `Reads every distinct blob in the object store once, plus every commit and
annotated tag message, including objects no ref reaches (reported with
"reachable": false). Each key is reported once per path, at the commit that
introduced it there, with author and date, and whether it is still at HEAD.
--range A..B reads only what the commits in B and not in A introduced.

` + fleetNote
	commandNotes["staged"] = `Reads the index (what 'git add' staged), never the working tree, and reports
keys the next commit would add. Keys already committed at the same path are
not reported. Exit 1 blocks the commit.

With files after -- (the pre-commit framework's hook passes them; with
--all-files, every tracked file), it reads the staged content of each named
file instead and reports every key in it, committed before or not: the
commit contains it. A named file the index lacks is read from the working
tree; a deleted one (in HEAD only) is listed as excluded; a name found
nowhere is an error.`
	commandNotes["pre-push"] = `Reads git's pre-push standard input ("<local ref> <local sha> <remote ref>
<remote sha>" lines) or the pre-commit framework's PRE_COMMIT_* variables and
scans the commits the push would publish. Exit 1 blocks the push.

Run by hand it never waits for input: from a terminal it compares HEAD with
its upstream (@{u}..HEAD), or exits 2 when there is none; under pre-commit's
push stage without --from-ref/--to-ref it compares with the upstream, else
with what no remote-tracking ref reaches, else scans HEAD's whole history,
and a note says which.`
	commandNotes["install-hook"] = `Installs a hook that runs 'xaiscan staged' (or, with --pre-push, 'xaiscan
pre-push') into the hooks directory git uses (core.hooksPath honoured). An
existing hook is kept and chained: it runs first. Installing twice changes
nothing.`
}

// runAudit is the bare `xaiscan [PATH]`: when PATH is a directory inside
// a git repository (at its top or below), that repository's whole history
// plus the working-tree files git would commit; any other path's files.
func (a *app) runAudit(ctx context.Context, args []string) int {
	sf, pos, code, done := a.parseScan("audit", kindAudit, args, 0, 1, "takes one PATH (use 'xaiscan dir' for several)", nil)
	if done {
		return code
	}
	path := firstOr(pos, ".")
	fi, err := os.Stat(path)
	if err != nil {
		return a.fail(fmt.Errorf("audit: %w", err))
	}
	loc, err := gitsource.Discover(path, a.getenv)
	if !fi.IsDir() || errors.Is(err, gitsource.ErrNotRepository) {
		if sf.rangeSpec != "" || sf.branch != "" {
			return a.fail(usagef("--range and --branch need a git repository; %s is not in one", path))
		}
		src := files.New([]string{path}, sf.walkOptions(configRoot([]string{path})))
		return a.execute(ctx, sf, plan{root: configRoot([]string{path}), sources: []scanner.Source{src}, progressNoun: "files"})
	}
	if err != nil {
		return a.fail(err)
	}
	sources := []scanner.Source{insideNote(loc, path)}
	history, err := a.historySource(loc, sf)
	switch {
	case err == nil:
		sources = append(sources, history)
	case isUsage(err) || sf.rangeSpec != "" || sf.branch != "":
		return a.fail(err)
	default:
		// The history cannot be read at all (an unsupported object
		// format): that is an error, and the working tree is still read.
		var ue *gitsource.UnsupportedError
		reason := oneLine(err)
		if !errors.As(err, &ue) {
			reason = "history not scanned: " + reason
		}
		sources = append(sources, errorSource(displayRoot(loc.Root()), reason))
	}
	if wt := loc.WorkTree; wt != "" && sf.rangeSpec == "" && sf.branch == "" {
		// The working tree holds uncommitted work the history lacks; with
		// --range or --branch the user asked about commits only.
		sources = append(sources, worktreeSource(loc, sf), submoduleNotes(wt))
	}
	return a.execute(ctx, sf, plan{root: loc.Root(), sources: sources, progressNoun: "objects", dedupeWorktree: true})
}

// worktreeSource reads the files git would commit in loc's work tree. If
// the index cannot be read, every file is read, ignored ones included:
// leaving out what the ignore rules match would also leave out tracked
// files that match them.
func worktreeSource(loc gitsource.Location, sf *scanFlags) scanner.Source {
	wt := loc.WorkTree
	o := sf.walkOptions(wt)
	filter, err := gitsource.WorktreeFilterAt(loc, wt)
	if err != nil {
		o.Filter = func(rel string, isDir bool) bool { return rel != ".git" }
		o.FilterNote = "working tree: the index could not be read (" + oneLine(err) + "), so every file was read, git-ignored ones included"
	} else {
		o.Filter = func(rel string, isDir bool) bool { return rel != ".git" && filter(rel, isDir) }
		o.FilterNote = "working tree: read the files git would commit (tracked, or untracked and not ignored); git-ignored files were left out"
	}
	return files.New([]string{wt}, o)
}

// insideNote says which repository an audit or history scan read when the
// path given lies below its root, so a scan from a subdirectory is never
// mistaken for a scan of that subdirectory alone.
func insideNote(loc gitsource.Location, path string) scanner.Source {
	return scanner.SourceFunc(func(ctx context.Context, feed scanner.Feed) error {
		if loc.Inside() {
			feed.Note(fmt.Sprintf("audited the repository at %s (%s is inside it); paths are relative to its root", displayRoot(loc.Root()), filepath.ToSlash(path)))
		}
		return nil
	})
}

// errorSource is a source that only records one coverage error.
func errorSource(path, reason string) scanner.Source {
	return scanner.SourceFunc(func(ctx context.Context, feed scanner.Feed) error {
		feed.Skip(scanner.ErrorAt(path, reason))
		return nil
	})
}

// runGit is `xaiscan git [REPO...]`: history only, of the repository REPO
// (default .) is in, found from a subdirectory as git finds it. Several
// REPOs, URLs or lists make a fleet audit (fleet.go).
func (a *app) runGit(ctx context.Context, args []string) int {
	var ff fleetFlags
	sf, pos, code, done := a.parseScan("git", kindGit, args, 0, -1, "takes REPOs", ff.register)
	if done {
		return code
	}
	if ff.wanted(pos) {
		return a.runFleet(ctx, sf, &ff, pos)
	}
	repo := firstOr(pos, ".")
	loc, err := gitsource.Discover(repo, a.getenv)
	if err != nil {
		return a.fail(err)
	}
	src, err := a.historySource(loc, sf)
	var ue *gitsource.UnsupportedError
	if errors.As(err, &ue) {
		return a.fail(fmt.Errorf("%s: %w", displayRoot(loc.Root()), err))
	}
	if err != nil {
		return a.fail(err)
	}
	return a.execute(ctx, sf, plan{root: loc.Root(), sources: []scanner.Source{insideNote(loc, repo), src}, progressNoun: "objects"})
}

// executeHistory runs a history scan. Config files are looked up in the
// work tree's root, or in the repository itself when it is bare.
func (a *app) executeHistory(ctx context.Context, sf *scanFlags, repo string, src scanner.Source) int {
	root := repo
	if loc, err := gitsource.Discover(repo, a.getenv); err == nil {
		root = loc.Root()
	}
	return a.execute(ctx, sf, plan{root: root, sources: []scanner.Source{src}, progressNoun: "objects"})
}

// historySource opens the history scan with --range or --branch. A
// revision that does not resolve is a usage error, found before any work.
func (a *app) historySource(loc gitsource.Location, sf *scanFlags) (*gitsource.Source, error) {
	o := gitsource.Options{AcceptShallow: sf.acceptShallow}
	switch {
	case sf.rangeSpec != "":
		inc, exc, err := gitsource.ParseRange(sf.rangeSpec)
		if err != nil {
			return nil, usagef("--range: %v", err)
		}
		o.Include, o.Exclude = inc, exc
	case sf.branch != "":
		o.Include = []string{sf.branch}
	}
	src, err := gitsource.NewAt(loc, o)
	var re *gitsource.RevisionError
	if errors.As(err, &re) {
		flag := "--branch"
		if sf.rangeSpec != "" {
			flag = "--range"
		}
		return nil, usagef("%s: %v", flag, re)
	}
	return src, err
}

// isUsage reports whether err is a usage error.
func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// runStaged is `xaiscan staged [REPO] [-- FILE...]`: what the next commit
// adds, or, with files after --, every key in the staged content of those
// files (the pre-commit framework's hook, which passes file names).
func (a *app) runStaged(ctx context.Context, args []string) int {
	var fset *pflag.FlagSet
	sf, pos, code, done := a.parseScan("staged", kindStaged, args, 0, -1, "", func(fs *pflag.FlagSet) { fset = fs })
	if done {
		return code
	}
	repoArgs, files := pos, []string(nil)
	if dash := fset.ArgsLenAtDash(); dash >= 0 {
		repoArgs, files = pos[:dash], pos[dash:]
	}
	if len(repoArgs) > 1 {
		return a.fail(usagef("staged: takes one REPO; name the files to check after --"))
	}
	src, err := staged.New(firstOr(repoArgs, "."))
	if err != nil {
		return a.fail(err)
	}
	if len(files) > 0 {
		sf.verbose = true // pre-commit shows a passing hook's output only when asked (--verbose)
		cwd, err := os.Getwd()
		if err != nil {
			return a.fail(fmt.Errorf("staged: %w", err))
		}
		if src.Paths, err = staged.RepoPaths(src.Root(), cwd, files); err != nil {
			return a.fail(usagef("staged: %v", err))
		}
		// So the source's notes count only what the report will show
		// (execute reports a bad config or baseline itself).
		if k, err := loadKnown(src.Root(), sf.config, sf.baseline); err == nil && k.f != nil {
			src.Known = k.f.Suppresses
		}
	}
	// Keys already committed are recognised with the same decoders the
	// scan uses, so an encoded key already in HEAD is not "new" either.
	src.Decoding = sf.engineOptions()
	return a.execute(ctx, sf, plan{root: src.Root(), sources: []scanner.Source{src}, progressNoun: "files"})
}

// runPrePush is `xaiscan pre-push [REMOTE [URL]]`, run by git's pre-push
// hook with the push described on stdin, or by pre-commit with the push in
// its PRE_COMMIT_* variables. Run by hand (pre-commit's push stage without
// a range, or a terminal on stdin) it compares HEAD with its upstream, and
// says what it compared with.
func (a *app) runPrePush(ctx context.Context, args []string) int {
	var repo string
	sf, pos, code, done := a.parseScan("pre-push", kindPrePush, args, 0, 2, "takes at most REMOTE and URL", func(fs *pflag.FlagSet) {
		fs.StringVar(&repo, "repo", ".", "the repository being pushed from")
	})
	if done {
		return code
	}
	p, err := githook.PlanPush(githook.Request{
		Repo: repo, Args: pos, Stdin: a.stdin,
		StdinIsTerminal: stdinIsTerminal(a.stdin), Getenv: a.getenv,
	})
	if errors.Is(err, githook.ErrNoUpstream) {
		return a.fail(usagef("pre-push: standard input is a terminal and there is %v. "+
			"Usage: git's pre-push hook runs 'xaiscan pre-push REMOTE URL' with the pushed refs on standard input; "+
			"by hand, give HEAD an upstream (git branch --set-upstream-to) or scan a range (xaiscan git --range origin/main..HEAD)", err))
	}
	if err != nil {
		return a.fail(fmt.Errorf("pre-push: %w", err))
	}
	if len(p.Include) == 0 {
		// Nothing new is published. Still write a (clean) report, with
		// the reason, for scripts and for whoever reads the hook output.
		res := scanner.Result{Coverage: scanner.Coverage{Skipped: []scanner.Skipped{}, Notes: p.Notes}}
		return a.finish(ctx, sf, &actor{flags: &sf.act}, res)
	}
	src, err := gitsource.New(repo, gitsource.Options{Include: p.Include, Exclude: p.Exclude})
	if err != nil {
		return a.fail(err)
	}
	return a.executeHistory(ctx, sf, repo, notedSource{Source: src, notes: p.Notes})
}

// stdinIsTerminal reports whether r is a terminal: then nobody is going to
// type git's list of pushed refs, and waiting for it would look like a hang.
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && isTerminal(f)
}

// notedSource is a source that also records notes: facts a reader needs
// to trust the result, such as what a pre-push check compared with.
type notedSource struct {
	scanner.Source
	notes []string
}

// Items records the notes, then runs the source.
func (n notedSource) Items(ctx context.Context, feed scanner.Feed) error {
	for _, note := range n.notes {
		feed.Note(note)
	}
	return n.Source.Items(ctx, feed)
}

// Finish runs the source's Finish, if it has one.
func (n notedSource) Finish(ctx context.Context, raw []scanner.Finding, feed scanner.Feed) ([]scanner.Finding, error) {
	if f, ok := n.Source.(scanner.Finisher); ok {
		return f.Finish(ctx, raw, feed)
	}
	return raw, nil
}

// runInstallHook is `xaiscan install-hook [--pre-push] [REPO]`.
func (a *app) runInstallHook(_ context.Context, args []string) int {
	fs := a.newFlagSet("install-hook")
	prePush := fs.Bool("pre-push", false, "install the pre-push hook instead of the pre-commit hook")
	if helped, err := a.parse(fs, "install-hook", args); helped || err != nil {
		return a.failOr(err)
	}
	if fs.NArg() > 1 {
		return a.fail(usagef("install-hook takes one REPO"))
	}
	repo := "."
	if fs.NArg() == 1 {
		repo = fs.Arg(0)
	}
	kind := githook.PreCommit
	if *prePush {
		kind = githook.PrePush
	}
	self, err := os.Executable()
	if err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
	} else {
		self = ""
	}
	path, err := githook.Install(repo, kind, self)
	if err != nil {
		return a.fail(fmt.Errorf("install-hook: %w", err))
	}
	fmt.Fprintf(a.stdout, "installed %s hook: %s\n", kind, filepath.ToSlash(path))
	if chained := githook.ChainedPath(path); fileExists(chained) {
		fmt.Fprintf(a.stdout, "the existing hook was kept and runs first: %s\n", filepath.ToSlash(chained))
	}
	return exitClean
}

// knownKeys filters findings already known: baseline, .xaiscanignore and
// .xaiscan.toml, the same way in every mode.
type knownKeys struct{ f *known.Filter }

func loadKnown(root, config, baseline string) (knownKeys, error) {
	o := known.Options{Root: root, ConfigPath: config}
	if baseline != "" {
		o.BaselinePaths = []string{baseline}
	}
	f, err := known.Load(o)
	if err != nil {
		return knownKeys{}, err
	}
	return knownKeys{f: f}, nil
}

// apply removes known findings and says how many were suppressed, so a
// clean result is never a silent one.
func (k knownKeys) apply(fs []scanner.Finding, cov scanner.Coverage) ([]scanner.Finding, scanner.Coverage) {
	if k.f == nil || k.f.Empty() {
		return fs, cov
	}
	kept, n := k.f.Apply(fs)
	if n > 0 {
		cov.Notes = append(cov.Notes, fmt.Sprintf("%d known finding(s) suppressed by the baseline, .xaiscanignore or .xaiscan.toml", n))
	}
	cov.Notes = append(cov.Notes, k.f.Notes()...)
	return kept, cov
}

func statDir(p string) (bool, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// submoduleNotes is a source that only records, for each submodule listed
// in .gitmodules, that it was not audited: a submodule is a repository of
// its own, with its own history, and nothing should be left out silently.
func submoduleNotes(workTree string) scanner.Source {
	return scanner.SourceFunc(func(ctx context.Context, feed scanner.Feed) error {
		data, err := os.ReadFile(filepath.Join(workTree, ".gitmodules"))
		if err != nil {
			return nil
		}
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if ok && strings.TrimSpace(k) == "path" {
				p := strings.TrimSpace(v)
				feed.Skip(scanner.Skipped{Path: p, Reason: "git submodule: a repository of its own, not audited here (run xaiscan on it)", Kind: scanner.KindExcluded})
			}
		}
		return nil
	})
}
