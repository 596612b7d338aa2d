package githook

import (
	"errors"
	"fmt"
	"io"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
)

// Plan is what a pre-push check reads: the commits reachable from Include
// and not from Exclude. Notes say what was compared with, and why, so that
// a clean result is never a silent one; they belong in the report.
type Plan struct {
	Include []string
	Exclude []string
	Notes   []string
}

// Request is everything a pre-push invocation is told.
type Request struct {
	// Repo is the repository pushed from ("" means the current directory).
	Repo string
	// Args are the arguments after "xaiscan pre-push": git passes the
	// remote's name (or URL) and its URL.
	Args []string
	// Stdin is git's list of pushed refs.
	Stdin io.Reader
	// StdinIsTerminal is set when standard input is a terminal: nobody
	// is going to type git's list of refs, so it is not read.
	StdinIsTerminal bool
	// Getenv is normally os.Getenv.
	Getenv func(string) string
}

// ErrNoUpstream is returned (wrapped, with the reason) when a pre-push
// check run from a terminal has no upstream to compare HEAD with.
var ErrNoUpstream = errors.New("no upstream to compare HEAD with")

// PlanPush decides what a pre-push check must read, from the first of:
//
//   - the pre-commit framework's description of the push
//     (PRE_COMMIT_FROM_REF, PRE_COMMIT_TO_REF, PRE_COMMIT_LOCAL_BRANCH...);
//   - pre-commit running the push stage without describing a push
//     (PRE_COMMIT=1, as in "pre-commit run --hook-stage push"): HEAD
//     against its upstream (@{u}..HEAD); without one, HEAD's commits that
//     no remote-tracking ref reaches; without any remote-tracking ref,
//     HEAD's whole history, and a note that there was nothing to compare
//     with;
//   - a terminal on standard input (someone typed "xaiscan pre-push"):
//     HEAD against its upstream, else ErrNoUpstream — never a wait on
//     input that will not come;
//   - git's pre-push standard input, with the remote as the first
//     argument.
//
// An empty Include means the push publishes nothing; Notes then say why.
func PlanPush(r Request) (Plan, error) {
	getenv := r.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if ups, remote, ok := PushFromEnv(getenv); ok {
		return planUpdates(r.Repo, remote, ups)
	}
	if getenv("PRE_COMMIT") == "1" {
		return planFallback(r.Repo, "pre-commit described no push (the push stage was run by hand, without --from-ref and --to-ref)", true)
	}
	if r.StdinIsTerminal {
		return planFallback(r.Repo, "standard input is a terminal, not git's list of pushed refs", false)
	}
	stdin := r.Stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	ups, err := ParsePrePush(stdin)
	if err != nil {
		return Plan{}, err
	}
	remote := ""
	if len(r.Args) > 0 {
		remote = r.Args[0]
	}
	return planUpdates(r.Repo, remote, ups)
}

// planUpdates turns the refs a push updates into a plan.
func planUpdates(repo, remote string, ups []Update) (Plan, error) {
	include, exclude, err := PushRevisions(repo, remote, ups)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Include: include, Exclude: exclude}
	if len(include) == 0 {
		p.Notes = append(p.Notes, "the push publishes no new commits (no ref named, only deletions, or refs the remote already has): nothing to scan")
		return p, nil
	}
	for _, u := range ups {
		if u.LocalSHA == "" && u.LocalRef != "" {
			// pre-commit's "the push includes the root commit" case.
			p.Notes = append(p.Notes, fmt.Sprintf("pre-commit named no commit range for %s (the push includes its first commit): scanned what no remote-tracking ref of %s reaches", u.LocalRef, orUnknown(remote)))
		}
	}
	return p, nil
}

func orUnknown(remote string) string {
	if remote == "" {
		return "the remote"
	}
	return remote
}

// planFallback compares HEAD with what the remotes are known to have,
// when nobody described a push. why opens every note. wider allows the
// comparisons beyond the upstream (pre-commit's push stage); without it a
// missing upstream is ErrNoUpstream.
func planFallback(repoPath, why string, wider bool) (Plan, error) {
	repo, err := openRepo(repoPath)
	if err != nil {
		return Plan{}, err
	}
	head, err := repo.Head()
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		if !wider {
			return Plan{}, fmt.Errorf("%w: HEAD has no commits yet", ErrNoUpstream)
		}
		return Plan{Notes: []string{why + "; nothing to compare: HEAD has no commits yet, so nothing was scanned"}}, nil
	}
	if err != nil {
		return Plan{}, fmt.Errorf("resolve HEAD: %w", err)
	}
	tip := head.Hash().String()
	up, missing := Upstream(repo, head)
	if up != "" {
		return Plan{Include: []string{tip}, Exclude: []string{up},
			Notes: []string{fmt.Sprintf("%s; compared HEAD with its upstream %s (@{u}..HEAD)", why, plumbing.ReferenceName(up).Short())}}, nil
	}
	if !wider {
		return Plan{}, fmt.Errorf("%w: %s", ErrNoUpstream, missing)
	}
	tracking, err := allTrackingRefs(repo)
	if err != nil {
		return Plan{}, err
	}
	if len(tracking) > 0 {
		return Plan{Include: []string{tip}, Exclude: tracking,
			Notes: []string{fmt.Sprintf("%s; %s, so the commits of HEAD that no remote-tracking ref reaches were scanned", why, missing)}}, nil
	}
	return Plan{Include: []string{tip},
		Notes: []string{fmt.Sprintf("%s; nothing to compare with: %s and the repository has no remote-tracking refs, so all of HEAD's history was scanned", why, missing)}}, nil
}

// Upstream returns the full name of the ref that @{u} names for head (the
// remote-tracking ref of the branch's branch.<name>.merge, mapped through
// the remote's fetch refspecs, or the local branch when the remote is
// "."), read from the repository's configuration with go-git. When there
// is none, ref is "" and missing says why, as a clause ("branch main has
// no upstream").
func Upstream(repo *gogit.Repository, head *plumbing.Reference) (ref, missing string) {
	if !head.Name().IsBranch() {
		return "", "HEAD is detached (no branch, so no upstream)"
	}
	branch := head.Name().Short()
	cfg, err := repo.Config()
	if err != nil {
		return "", fmt.Sprintf("the repository's configuration could not be read (%v)", err)
	}
	b := cfg.Branches[branch]
	if b == nil || b.Remote == "" || b.Merge == "" {
		return "", fmt.Sprintf("branch %s has no upstream", branch)
	}
	name := b.Merge
	if b.Remote != "." {
		rc := cfg.Remotes[b.Remote]
		if rc == nil {
			return "", fmt.Sprintf("the upstream remote %q of branch %s is not configured", b.Remote, branch)
		}
		name = ""
		for _, rs := range rc.Fetch {
			if rs.Match(b.Merge) {
				name = rs.Dst(b.Merge)
				break
			}
		}
		if name == "" {
			return "", fmt.Sprintf("no fetch refspec of remote %s maps %s, the upstream of branch %s, to a remote-tracking ref", b.Remote, b.Merge.Short(), branch)
		}
	}
	if _, err := repo.Reference(name, true); err != nil {
		return "", fmt.Sprintf("the upstream %s of branch %s has not been fetched", name.Short(), branch)
	}
	return name.String(), ""
}

func openRepo(path string) (*gogit.Repository, error) {
	if path == "" {
		path = "."
	}
	repo, err := gogit.PlainOpenWithOptions(path, &gogit.PlainOpenOptions{DetectDotGit: true, EnableDotGitCommonDir: true})
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", path, err)
	}
	return repo, nil
}
