package main

import (
	"context"
	"fmt"
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
--range A..B reads only what the commits in B and not in A introduced.`
	commandNotes["staged"] = `Reads the index (what 'git add' staged), never the working tree, and reports
keys the next commit would add. Keys already committed at the same path are
not reported. Exit 1 blocks the commit.`
	commandNotes["pre-push"] = `Reads git's pre-push standard input ("<local ref> <local sha> <remote ref>
<remote sha>" lines) or the pre-commit framework's PRE_COMMIT_* variables and
scans the commits the push would publish. Exit 1 blocks the push.`
	commandNotes["install-hook"] = `Installs a hook that runs 'xaiscan staged' (or, with --pre-push, 'xaiscan
pre-push') into the hooks directory git uses (core.hooksPath honoured). An
existing hook is kept and chained: it runs first. Installing twice changes
nothing.`
}

// runAudit is the bare `xaiscan [PATH]`: a repository's history plus the
// working-tree files git would commit; any other path's files.
func (a *app) runAudit(ctx context.Context, args []string) int {
	sf, pos, code, done := a.parseScan("audit", kindAudit, args, 0, 1, "takes one PATH (use 'xaiscan dir' for several)", nil)
	if done {
		return code
	}
	path := firstOr(pos, ".")
	if _, err := os.Stat(path); err != nil {
		return a.fail(fmt.Errorf("audit: %w", err))
	}
	if !gitsource.IsRepository(path) {
		if sf.rangeSpec != "" || sf.branch != "" {
			return a.fail(usagef("--range and --branch need a git repository; %s is not one", path))
		}
		src := files.New([]string{path}, sf.walkOptions(configRoot([]string{path})))
		return a.execute(ctx, sf, plan{root: configRoot([]string{path}), sources: []scanner.Source{src}, progressNoun: "files"})
	}
	history, err := a.historySource(path, sf)
	if err != nil {
		return a.fail(err)
	}
	sources := []scanner.Source{history}
	root := path
	if wt := workTreeOf(path); wt != "" && sf.rangeSpec == "" && sf.branch == "" {
		// The working tree holds uncommitted work the history lacks; with
		// --range or --branch the user asked about commits only.
		filter, err := gitsource.WorktreeFilter(wt)
		if err != nil {
			return a.fail(err)
		}
		wo := sf.walkOptions(wt)
		wo.Filter = func(rel string, isDir bool) bool {
			return rel != ".git" && filter(rel, isDir)
		}
		wo.FilterNote = "working tree: read the files git would commit (tracked, or untracked and not ignored); git-ignored files were left out"
		sources = append(sources, files.New([]string{wt}, wo))
		root = wt
		sources = append(sources, submoduleNotes(wt))
	}
	return a.execute(ctx, sf, plan{root: root, sources: sources, progressNoun: "objects", dedupeWorktree: true})
}

// runGit is `xaiscan git [REPO]`: history only.
func (a *app) runGit(ctx context.Context, args []string) int {
	sf, pos, code, done := a.parseScan("git", kindGit, args, 0, 1, "takes one REPO", nil)
	if done {
		return code
	}
	repo := firstOr(pos, ".")
	src, err := a.historySource(repo, sf)
	if err != nil {
		return a.fail(err)
	}
	return a.executeHistory(ctx, sf, repo, src)
}

// executeHistory runs a history scan. Config files are looked up in the
// work tree's root, or in the repository itself when it is bare.
func (a *app) executeHistory(ctx context.Context, sf *scanFlags, repo string, src scanner.Source) int {
	root := repo
	if wt := workTreeOf(repo); wt != "" {
		root = wt
	}
	return a.execute(ctx, sf, plan{root: root, sources: []scanner.Source{src}, progressNoun: "objects"})
}

// historySource opens the history scan with --range or --branch.
func (a *app) historySource(repo string, sf *scanFlags) (*gitsource.Source, error) {
	var o gitsource.Options
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
	return gitsource.New(repo, o)
}

// runStaged is `xaiscan staged [REPO]`.
func (a *app) runStaged(ctx context.Context, args []string) int {
	sf, pos, code, done := a.parseScan("staged", kindStaged, args, 0, 1, "takes one REPO", nil)
	if done {
		return code
	}
	repo := firstOr(pos, ".")
	src, err := staged.New(repo)
	if err != nil {
		return a.fail(err)
	}
	// Keys already committed are recognised with the same detectors the
	// scan uses, so an encoded key already in HEAD is not "new" either.
	src.Detectors = sf.engineOptions().Detectors
	return a.execute(ctx, sf, plan{root: src.Root(), sources: []scanner.Source{src}, progressNoun: "files"})
}

// runPrePush is `xaiscan pre-push [REMOTE [URL]]`, run by git's pre-push
// hook with the push described on stdin.
func (a *app) runPrePush(ctx context.Context, args []string) int {
	var repo string
	sf, pos, code, done := a.parseScan("pre-push", kindPrePush, args, 0, 2, "takes at most REMOTE and URL", func(fs *pflag.FlagSet) {
		fs.StringVar(&repo, "repo", ".", "the repository being pushed from")
	})
	if done {
		return code
	}
	updates, remote, err := githook.ReadPush(a.stdin, pos, a.getenv)
	if err != nil {
		return a.fail(fmt.Errorf("pre-push: %w", err))
	}
	include, exclude, err := githook.PushRevisions(repo, remote, updates)
	if err != nil {
		return a.fail(fmt.Errorf("pre-push: %w", err))
	}
	if len(include) == 0 {
		// Only deletions, or refs the remote already has: nothing new is
		// published. Still write a (clean) report for scripts.
		return a.finish(ctx, sf, &actor{flags: &sf.act}, scanner.Result{Coverage: scanner.Coverage{Skipped: []scanner.Skipped{}}})
	}
	src, err := gitsource.New(repo, gitsource.Options{Include: include, Exclude: exclude})
	if err != nil {
		return a.fail(err)
	}
	return a.executeHistory(ctx, sf, repo, src)
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

// workTreeOf returns the work-tree root of the repository containing
// path, or "" for a bare repository.
func workTreeOf(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for dir := abs; ; {
		if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
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
