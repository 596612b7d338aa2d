package remediate

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// purgeSteps are the repository-wide steps after every key is revoked:
// rewrite, force-push, expire, and the host's part.
func purgeSteps(keys []Key, in Input) []Step {
	if len(keys) == 0 {
		return nil
	}
	var refs []string
	for _, k := range keys {
		refs = union(refs, k.Refs)
	}
	steps := []Step{rewriteStep(keys, in.ReplaceText)}
	if s, ok := forcePushStep(refs, in.Remotes); ok {
		steps = append(steps, s)
	}
	steps = append(steps, expireStep(refs))
	return append(steps, hostSteps(refs, in.Remotes)...)
}

// rewriteStep rewrites every blob, commit message and tag message with
// git filter-repo, and says what --replace-text cannot reach.
func rewriteStep(keys []Key, file string) Step {
	if file == "" {
		file = "FILE"
	}
	s := Step{Action: "rewrite",
		Text:     "Rewrite history so no commit, tag or message holds the keys (git filter-repo; Debian/Ubuntu: apt-get install git-filter-repo). Work in a fresh mirror clone, and tell everyone with a clone to re-clone afterwards.",
		Commands: []string{fmt.Sprintf("git filter-repo --force --replace-text %s --replace-message %s", file, file)}}
	if file == "FILE" {
		s.Text += " Write FILE with --replace-text FILE."
	}
	var extra []string
	for _, k := range keys {
		for _, l := range k.Locations {
			switch {
			case l.Part == "author":
				extra = appendNew(extra, fmt.Sprintf("%s is in an author, committer or tagger name (%s): replace it with git filter-repo --mailmap or --name-callback", k.Secret, where(l)))
			case l.Encoding != "" || strings.Contains(l.Path, "!"):
				extra = appendNew(extra, fmt.Sprintf("%s is inside encoded or compressed content at %s: --replace-text cannot see it; remove the file from history: git filter-repo --force --invert-paths --path %s", k.Secret, l.Path, shellQuote(outerPath(l.Path))))
			}
		}
	}
	if len(extra) > 0 {
		s.Text += " Also: " + strings.Join(extra, "; ") + "."
	}
	return s
}

func where(l Location) string {
	switch {
	case l.Tag != "":
		return "tag " + l.Tag
	case l.Commit != "":
		return "commit " + l.Commit
	}
	return "object " + l.Object
}

func outerPath(p string) string {
	if i := strings.IndexByte(p, '!'); i >= 0 {
		return p[:i]
	}
	return p
}

// forcePushStep lists the exact pushes that replace the exposed branches
// and tags on each remote. git filter-repo removes the origin remote to
// prevent an accidental push of the old history, so it is added back
// first.
func forcePushStep(refs []string, remotes []Remote) (Step, bool) {
	branches, tags := map[string][]string{}, []string{}
	for _, r := range refs {
		if rest, ok := strings.CutPrefix(r, "refs/remotes/"); ok {
			if name, b, ok := strings.Cut(rest, "/"); ok {
				branches[name] = appendNew(branches[name], b)
			}
		}
		if t, ok := strings.CutPrefix(r, "refs/tags/"); ok {
			tags = appendNew(tags, t)
		}
	}
	if len(remotes) == 0 {
		return Step{Action: "force-push", Text: "No remote is configured: nothing was pushed from this clone. Any other clone or fork holds the keys until it is rewritten or deleted."}, true
	}
	s := Step{Action: "force-push", Text: "Force-push the rewritten refs that expose the keys (branches seen on the remote, and tags, which may have been pushed):"}
	for _, rm := range remotes {
		s.Commands = append(s.Commands, fmt.Sprintf("git remote add %s %s   # if git filter-repo removed it", shellQuote(rm.Name), shellQuote(withoutPassword(rm.URL))))
		bs := branches[rm.Name]
		sort.Strings(bs)
		for _, b := range bs {
			s.Commands = append(s.Commands, fmt.Sprintf("git push --force %s %s", shellQuote(rm.Name), shellQuote("refs/heads/"+b+":refs/heads/"+b)))
		}
		for _, t := range tags {
			s.Commands = append(s.Commands, fmt.Sprintf("git push --force %s %s", shellQuote(rm.Name), shellQuote("refs/tags/"+t)))
		}
	}
	return s, true
}

// expireStep drops what the local repository still holds: reflogs, the
// stash, and unreachable objects.
func expireStep(refs []string) Step {
	s := Step{Action: "expire", Text: "Drop the old objects from this repository: reflog entries and unreachable objects still hold the keys."}
	for _, r := range refs {
		if r == "refs/stash" || strings.HasPrefix(r, "stash@{") {
			s.Text += " The stash holds a key: drop it (git stash list; git stash drop stash@{N}) or clear it."
			s.Commands = append(s.Commands, "git stash clear")
			break
		}
	}
	s.Commands = append(s.Commands, "git reflog expire --expire=now --all && git gc --prune=now --aggressive")
	return s
}

// hostSteps name what only the hosting service can purge.
func hostSteps(refs []string, remotes []Remote) []Step {
	var out []Step
	github, gitlab := false, false
	for _, rm := range remotes {
		u := strings.ToLower(rm.URL)
		github = github || strings.Contains(u, "github")
		gitlab = gitlab || strings.Contains(u, "gitlab")
	}
	pulls := refsUnder(refs, "refs/pull/")
	mrs := refsUnder(refs, "refs/merge-requests/")
	if github || len(pulls) > 0 {
		t := "GitHub keeps pull-request refs (refs/pull/*), forks and cached views (commit pages, diffs) that a force-push does not remove; ask GitHub Support to purge them (docs: 'Removing sensitive data from a repository')."
		if len(pulls) > 0 {
			t += fmt.Sprintf(" Pull-request refs exposing the keys: %s.", limitList(pulls, 20))
		}
		out = append(out, Step{Action: "host", Text: t})
	}
	if gitlab || len(mrs) > 0 {
		t := "GitLab keeps merge-request refs (refs/merge-requests/*), forks and cached diffs; remove the blobs with the project's repository cleanup (Settings > Repository) and ask GitLab Support (or the instance administrator) to purge the rest."
		if len(mrs) > 0 {
			t += fmt.Sprintf(" Merge-request refs exposing the keys: %s.", limitList(mrs, 20))
		}
		out = append(out, Step{Action: "host", Text: t})
	}
	if len(remotes) > 0 && !github && !gitlab {
		out = append(out, Step{Action: "host", Text: "The hosting service may keep copies (forks, pull or merge-request refs, caches, backups) that a force-push does not remove; ask its administrators to purge them."})
	}
	return out
}

func refsUnder(refs []string, prefix string) []string {
	var out []string
	for _, r := range refs {
		if strings.HasPrefix(r, prefix) {
			out = append(out, r)
		}
	}
	return out
}

func limitList(l []string, n int) string {
	if len(l) <= n {
		return strings.Join(l, ", ")
	}
	return strings.Join(l[:n], ", ") + fmt.Sprintf(" and %d more", len(l)-n)
}

func appendNew(l []string, s string) []string {
	if contains(l, s) {
		return l
	}
	return append(l, s)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// withoutPassword drops the password (or token) from a remote URL such as
// https://user:TOKEN@host/repo.git, keeping the user name: the plan is
// printed and saved, and git asks its credential helpers when the remote is
// used again. A URL that does not parse keeps nothing before its last '@'.
func withoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
			return u.String()
		}
		return raw
	}
	if err != nil && strings.Contains(raw, "://") {
		scheme, rest, _ := strings.Cut(raw, "://")
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			return scheme + "://" + rest[at+1:]
		}
	}
	return raw
}
