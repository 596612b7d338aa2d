package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/fleet"
	"github.com/xaiscan/xaiscan/scanner/gitsource"
	"github.com/xaiscan/xaiscan/scanner/remote"
)

// fleetNote is the part of `xaiscan help git` about many repositories.
const fleetNote = `Several REPOs, URLs (https://, ssh://, git://, file://, git@host:path),
--repos, --github-org and --gitlab-group make one fleet audit with one
report: each URL is cloned with every ref (branches, tags, refs/pull/*)
into a temporary directory that is removed as soon as it is scanned (also
on Ctrl-C), the next clone overlapping the current scan. Each finding
carries its "repository". Forks listed by an API are skipped unless
--include-forks; archived repositories are audited. A repository that
cannot be cloned or read is an error for it (exit 2); the others are still
audited. --shard K/N audits every N-th repository of the sorted list from
the K-th (0-based); 'xaiscan merge' joins the shards' JSON reports.
Credentials: the URL's own, XAISCAN_GIT_TOKEN (any host), GITHUB_TOKEN
(GitHub hosts), GITLAB_TOKEN (GitLab hosts), then git's credential helpers
if git is installed; they are offered only when a server asks, only over
https (or to loopback), and never printed.`

// fleetFlags are the `xaiscan git` flags for many repositories.
type fleetFlags struct {
	lists        []string
	githubOrgs   []string
	gitlabGroups []string
	githubAPI    string
	gitlabAPI    string
	includeForks bool
	shardSpec    string
	shard        fleet.Shard
	ahead        int
	listRepos    bool
}

func (ff *fleetFlags) register(fs *pflag.FlagSet) {
	fs.StringArrayVar(&ff.lists, "repos", nil, "audit the repositories listed in `FILE` (one path or URL per line, # comments; - for stdin)")
	fs.StringArrayVar(&ff.githubOrgs, "github-org", nil, "audit every repository of GitHub organisation (or user) `ORG` (token: GITHUB_TOKEN)")
	fs.StringArrayVar(&ff.gitlabGroups, "gitlab-group", nil, "audit every project of GitLab `GROUP` and its subgroups (token: GITLAB_TOKEN)")
	fs.StringVar(&ff.githubAPI, "github-api", "", "GitHub API `URL` (default $GITHUB_API_URL or "+fleet.DefaultGitHubAPI+"; GitHub Enterprise: https://HOST/api/v3)")
	fs.StringVar(&ff.gitlabAPI, "gitlab-api", "", "GitLab API `URL` (default $CI_API_V4_URL or "+fleet.DefaultGitLabAPI+")")
	fs.BoolVar(&ff.includeForks, "include-forks", false, "also audit forks listed by --github-org and --gitlab-group")
	fs.StringVar(&ff.shardSpec, "shard", "", "audit only shard `K/N` (0-based K) of the sorted repository list: every N-th from the K-th")
	fs.IntVar(&ff.ahead, "clone-ahead", 2, "clone up to `N` repositories ahead of the one being scanned")
	fs.BoolVar(&ff.listRepos, "list-repos", false, "print the repositories (of the shard) one per line and exit, without auditing")
}

// wanted reports whether the invocation is a fleet audit rather than the
// history of one local repository.
func (ff *fleetFlags) wanted(pos []string) bool {
	if len(pos) > 1 || len(ff.lists)+len(ff.githubOrgs)+len(ff.gitlabGroups) > 0 || ff.shardSpec != "" || ff.listRepos {
		return true
	}
	return len(pos) == 1 && remote.IsURL(pos[0])
}

func (ff *fleetFlags) validate() error {
	if ff.shardSpec != "" {
		s, err := fleet.ParseShard(ff.shardSpec)
		if err != nil {
			return usagef("--shard: %v", err)
		}
		ff.shard = s
	}
	if ff.ahead < 1 {
		return usagef("--clone-ahead must be at least 1, not %d", ff.ahead)
	}
	return nil
}

// runFleet audits many repositories into one report.
func (a *app) runFleet(ctx context.Context, sf *scanFlags, ff *fleetFlags, pos []string) int {
	if err := ff.validate(); err != nil {
		return a.fail(err)
	}
	creds := &remote.Credentials{Getenv: a.getenv, Helper: true}
	repos, listErrs, err := a.gatherRepos(ctx, ff, pos, creds)
	if err != nil {
		return a.fail(err)
	}
	if len(repos) == 0 && len(listErrs) == 0 {
		return a.fail(fmt.Errorf("git: no repositories to audit (the lists given are empty)"))
	}
	all := fleet.Select(repos, fleet.Shard{})
	selected := fleet.Select(repos, ff.shard)
	if ff.listRepos {
		return a.listRepos(selected, listErrs)
	}
	if !sf.quiet && ff.shard.N > 1 {
		a.warnf("shard %s: auditing %d of %d repositories", ff.shard, len(selected), len(all))
	}
	return a.auditFleet(ctx, sf, ff, selected, listErrs, creds)
}

// auditFleet scans the selected repositories and finishes like any scan.
func (a *app) auditFleet(ctx context.Context, sf *scanFlags, ff *fleetFlags, repos []fleet.Repo, listErrs []scanner.Skipped, creds *remote.Credentials) int {
	actor, err := a.newActor(ctx, &sf.act)
	if err != nil {
		return a.fail(err)
	}
	defer actor.close(a)
	// Config and ignore files come from the current directory (or
	// --config): an audited repository does not get to silence itself.
	known, err := loadKnown(".", sf.config, sf.baseline)
	if err != nil {
		return a.fail(err)
	}
	opts := sf.engineOptions()
	opts.Progress = a.progress(sf, "objects")
	res := fleet.Audit(ctx, scanner.New(opts), repos, fleet.Options{
		Ahead: ff.ahead,
		Open: func(dir string) (scanner.Source, error) {
			loc, err := gitsource.Discover(dir, a.getenv)
			if err != nil {
				return nil, err
			}
			src, err := a.historySource(loc, sf)
			if err != nil {
				return nil, err
			}
			return src, nil
		},
		Clone: func(ctx context.Context, e remote.Endpoint, dir string) error {
			return remote.Clone(ctx, e, dir, remote.Options{Credentials: creds, Getenv: a.getenv})
		},
		Started: a.fleetProgress(sf),
	})
	res.Coverage.Skipped = append(res.Coverage.Skipped, listErrs...)
	res = scanner.Merge(res)
	res.Findings, res.Coverage = known.apply(res.Findings, res.Coverage)
	return a.finish(ctx, sf, actor, res)
}

// fleetProgress names each repository as its scan starts, on a terminal.
func (a *app) fleetProgress(sf *scanFlags) func(int, int, fleet.Repo) {
	if sf.quiet || sf.noProgress || !isTerminal(a.stderr) {
		return nil
	}
	return func(i, n int, r fleet.Repo) {
		fmt.Fprintf(a.stderr, "\r\033[Krepository %d/%d: %s\n", i+1, n, r.Label)
	}
}

// listRepos is --list-repos: the repositories to audit, one per line
// (without credentials), ready for --repos on other machines.
func (a *app) listRepos(repos []fleet.Repo, listErrs []scanner.Skipped) int {
	code := exitClean
	for _, r := range repos {
		switch {
		case r.Skip == nil:
			fmt.Fprintln(a.stdout, r.Label)
		case r.Skip.IsError():
			a.warnf("%s: %s", r.Skip.Path, r.Skip.Reason)
			code = exitError
		}
	}
	for _, s := range listErrs {
		a.warnf("%s: %s", s.Path, s.Reason)
		code = exitError
	}
	return code
}

// gatherRepos collects the repositories from the arguments, the list
// files and the hosting APIs. A list that cannot be read is a usage
// error; an API listing that fails is a coverage error of its own
// (returned in listErrs, reported by every shard), and the other sources
// are still audited.
func (a *app) gatherRepos(ctx context.Context, ff *fleetFlags, pos []string, creds *remote.Credentials) (repos []fleet.Repo, listErrs []scanner.Skipped, err error) {
	for _, p := range pos {
		r, err := fleet.ParseRepo(p)
		if err != nil {
			return nil, nil, usagef("git: %v", err)
		}
		repos = append(repos, r)
	}
	for _, name := range ff.lists {
		rs, err := a.readRepoList(name)
		if err != nil {
			return nil, nil, err
		}
		repos = append(repos, rs...)
	}
	gh, gl := a.hostAPIs(ff)
	creds.AddHost("github.com", "GITHUB_TOKEN", "x-access-token")
	creds.AddHost(apiHost(gh.Base), "GITHUB_TOKEN", "x-access-token")
	creds.AddHost("gitlab.com", "GITLAB_TOKEN", "oauth2")
	creds.AddHost(apiHost(gl.Base), "GITLAB_TOKEN", "oauth2")
	for _, org := range ff.githubOrgs {
		ls, err := fleet.GitHubRepos(ctx, gh, org)
		repos, listErrs = a.addListing(repos, listErrs, "github-org "+org, ls, err, ff, creds, "GITHUB_TOKEN", "x-access-token")
	}
	for _, group := range ff.gitlabGroups {
		ls, err := fleet.GitLabProjects(ctx, gl, group)
		repos, listErrs = a.addListing(repos, listErrs, "gitlab-group "+group, ls, err, ff, creds, "GITLAB_TOKEN", "oauth2")
	}
	return repos, listErrs, nil
}

// addListing adds an API's repositories, and makes the API's token apply
// to the hosts its clone URLs name.
func (a *app) addListing(repos []fleet.Repo, listErrs []scanner.Skipped, what string, ls []fleet.Listed, err error, ff *fleetFlags, creds *remote.Credentials, tokenEnv, user string) ([]fleet.Repo, []scanner.Skipped) {
	if err != nil {
		return repos, append(listErrs, scanner.ErrorAt(what, remote.RedactKeys(oneLine(err))))
	}
	for _, r := range fleet.FromListing(ls, ff.includeForks) {
		if r.Remote != nil {
			creds.AddHost(r.Remote.Host, tokenEnv, user)
		}
		repos = append(repos, r)
	}
	return repos, listErrs
}

// hostAPIs configures the GitHub and GitLab API clients from the flags
// and the environment.
func (a *app) hostAPIs(ff *fleetFlags) (gh, gl fleet.API) {
	gh = fleet.API{Base: firstSet(ff.githubAPI, a.getenv("GITHUB_API_URL"), fleet.DefaultGitHubAPI),
		Token: a.getenv("GITHUB_TOKEN"), TokenName: "GITHUB_TOKEN"}
	gl = fleet.API{Base: firstSet(ff.gitlabAPI, a.getenv("CI_API_V4_URL"), fleet.DefaultGitLabAPI),
		Token: a.getenv("GITLAB_TOKEN"), TokenName: "GITLAB_TOKEN"}
	return gh, gl
}

func firstSet(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func apiHost(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	return u.Host
}

// readRepoList reads one --repos list ("-" is standard input).
func (a *app) readRepoList(name string) ([]fleet.Repo, error) {
	var r io.Reader = a.stdin
	display := "standard input"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--repos: %w", err)
		}
		defer f.Close()
		r, display = f, name
	}
	repos, err := fleet.ReadList(display, r)
	if err != nil {
		return nil, fmt.Errorf("--repos: %w", err)
	}
	return repos, nil
}
