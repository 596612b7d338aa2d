package report

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The text report of a git hook (Options.Hook): a blocked commit or push
// says so on its first line, lists the keys as usual, then says what to do,
// key by key: unstage or rewrite, revoke if the key ever left the machine,
// or allow it knowingly with a ready-to-paste .xaiscanignore line. The one
// way around every hook (--no-verify) is named last, with its risk.

// clean reports whether a hook has nothing to say beyond counters: no key,
// not interrupted, nothing skipped (unread, or left out on purpose: a named
// file deleted, a submodule), and no note (what a user must know to trust
// the result: what a push was compared with, keys an ignore entry
// suppressed).
func (r shownResult) clean() bool {
	return len(r.findings) == 0 && !r.interrupted && len(r.coverage.Notes) == 0 && len(r.skipped) == 0
}

// blockedHeadline is the first line of a blocked commit or push.
func (t *textWriter) blockedHeadline(fs []shownFinding) {
	keys := plural(len(groupByKey(fs)), "xAI key", "xAI keys")
	locs := plural(len(fs), "location", "locations")
	what := "commit blocked: it would add " + keys + " (" + locs + ")"
	if t.o.Hook == HookPush {
		what = "push blocked: the commits it would publish add " + keys + " (" + locs + ")"
	}
	t.printf("%s\n\n", t.p.errc.Sprint("xaiscan: "+what+"."))
}

// remedy writes what to do about a blocked commit or push. Lines stay
// within 80 columns (the fingerprints excepted).
func (t *textWriter) remedy(fs []shownFinding) {
	t.printf("\nWhat to do:\n")
	if t.o.Hook == HookPush {
		t.printf("  1. Take the key out of the commits being pushed, then push again: edit the\n")
		t.printf("     file and rewrite the commits that added it:\n")
		t.printf("     %s\n", rewriteHint(fs))
	} else {
		t.printf("  1. Take the key out of the file (load it from the environment or a secret\n")
		if paths := stagedPaths(fs); len(paths) > 0 {
			t.printf("     manager), or unstage the file: git restore --staged %s\n", strings.Join(paths, " "))
		} else {
			t.printf("     manager), then stage the file again.\n")
		}
	}
	t.printf("  2. If the key was ever shared (pushed, pasted, logged), treat it as leaked:\n")
	t.printf("     revoke it in the xAI console (https://console.x.ai, API Keys) or with\n")
	t.printf("     'xaiscan %s --verify --revoke', and create a new one.\n", t.hookCommand())
	t.printf("  3. If it is not a live key (a test fixture, a revoked key), allow it in\n")
	t.printf("     .xaiscanignore (and commit that file) with the line:\n")
	for _, g := range groupByKey(fs) {
		if line := ignoreLine(g.findings); line != "" {
			t.printf("       %s\n", line)
		}
	}
	verb := "commit"
	if t.o.Hook == HookPush {
		verb = "push"
	}
	t.printf("  'git %s --no-verify' skips this check and every other hook: use it only\n", verb)
	t.printf("  if you know the key is not real.\n")
}

// hookCommand is the xaiscan command the hook runs.
func (t *textWriter) hookCommand() string {
	if t.o.Hook == HookPush {
		return "git"
	}
	return "staged"
}

// ignoreLine is the .xaiscanignore entry that allows one key: its
// fingerprint, scoped to the key's file when every location is in the same
// file and its name can be written as a pattern (anchored at the root, so
// it matches only that file); otherwise the fingerprint alone, which allows
// the key anywhere.
func ignoreLine(fs []shownFinding) string {
	fp := fs[0].Fingerprint
	if fp == "" {
		return ""
	}
	path := ""
	for _, f := range fs {
		p := f.rawPath
		if p != f.Path {
			return fp // escaped for the terminal: not the file's real name
		}
		if i := strings.IndexByte(p, '!'); i > 0 {
			p = p[:i] // an archive member: the pattern names the archive
		}
		if p == "" || (path != "" && p != path) || !plainPattern(p) {
			return fp
		}
		path = p
	}
	return fp + "  /" + path
}

// plainPattern reports whether a path can be written in an ignore file as
// itself: no glob metacharacters, no space (fields are separated by
// whitespace), no comment sign.
func plainPattern(p string) bool {
	return !strings.ContainsAny(p, "*?[]\\ \t#")
}

// shellSafe matches what needs no quoting in a POSIX shell.
var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./@%+=:,-]+$`)

// shellQuote quotes p for a POSIX shell when it needs it.
func shellQuote(p string) string {
	if shellSafe.MatchString(p) {
		return p
	}
	return "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
}

// stagedPaths lists, once each and quoted for the shell, the files that
// hold the keys of a blocked commit (archive members name the archive).
func stagedPaths(fs []shownFinding) []string {
	var out []string
	for _, f := range fs {
		p := f.Path
		if i := strings.IndexByte(p, '!'); i > 0 {
			p = p[:i]
		}
		if p == "" {
			continue
		}
		if q := "-- " + shellQuote(p); !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	// "--" once, before the first path.
	for i := 1; i < len(out); i++ {
		out[i] = strings.TrimPrefix(out[i], "-- ")
	}
	return out
}

// rewriteHint names how to rewrite the commits of a blocked push.
func rewriteHint(fs []shownFinding) string {
	var commits []string
	for _, f := range fs {
		if c := shortCommit(f.Commit); c != "" && !slices.Contains(commits, c) {
			commits = append(commits, c)
		}
	}
	switch len(commits) {
	case 0:
		return "git commit --amend (the last commit) or git rebase -i (older ones)"
	case 1:
		return fmt.Sprintf("commit %s: git commit --amend if it is the last one, else git rebase -i %s^", commits[0], commits[0])
	default:
		return fmt.Sprintf("commits %s: git rebase -i from before the oldest", strings.Join(commits, ", "))
	}
}
