package report

import (
	"fmt"
	"strings"
)

// refGroup is one kind of ref in the text report's exposure line, in the
// order an incident responder reads them: what is already pushed first.
type refGroup struct {
	label  string
	prefix string // the ref-name prefix the group takes, stripped for display
}

var refGroups = []refGroup{
	{"pushed", "refs/remotes/"},
	{"pull requests", "refs/pull/"},
	{"merge requests", "refs/merge-requests/"},
	{"tags", "refs/tags/"},
	{"branches", "refs/heads/"},
	{"stash", ""},
	{"notes", "refs/notes/"},
	{"detached HEAD", ""},
	{"other refs", ""},
	{"reflog", ""},
}

// maxRefsShown bounds the names listed per group: a key from a project's
// first year is reached by every pull-request ref since.
const maxRefsShown = 5

// exposureLine says in words where a finding's key is exposed:
// "pushed: origin/main; tags: v1.2; branches: main". Empty without refs.
func exposureLine(refs []string) string {
	if len(refs) == 0 {
		return ""
	}
	byGroup := make([][]string, len(refGroups))
	for _, r := range refs {
		i, name := refGroupOf(r)
		byGroup[i] = append(byGroup[i], name)
	}
	var parts []string
	for i, names := range byGroup {
		if len(names) == 0 {
			continue
		}
		shown := names
		more := ""
		if len(names) > maxRefsShown {
			shown = names[:maxRefsShown]
			more = fmt.Sprintf(" and %d more", len(names)-maxRefsShown)
		}
		parts = append(parts, refGroups[i].label+": "+strings.Join(shown, ", ")+more)
	}
	return strings.Join(parts, "; ")
}

// refGroupOf returns the group index of a ref name and how it is shown.
func refGroupOf(r string) (int, string) {
	if strings.Contains(r, "@{") && !strings.HasPrefix(r, "stash@{") {
		return groupIndex("reflog"), strings.TrimPrefix(r, "refs/heads/")
	}
	for i, g := range refGroups {
		if g.prefix != "" && strings.HasPrefix(r, g.prefix) {
			return i, strings.TrimPrefix(r, g.prefix)
		}
	}
	switch {
	case r == "refs/stash" || strings.HasPrefix(r, "stash@{"):
		return groupIndex("stash"), r
	case r == "HEAD" || strings.HasSuffix(r, "/HEAD"):
		return groupIndex("detached HEAD"), r
	}
	return groupIndex("other refs"), r
}

func groupIndex(label string) int {
	for i, g := range refGroups {
		if g.label == label {
			return i
		}
	}
	return len(refGroups) - 1
}

// onlyReflog is true when reflog entries are all that hold the object.
func onlyReflog(refs []string) bool {
	for _, r := range refs {
		if i, _ := refGroupOf(r); refGroups[i].label != "reflog" {
			return false
		}
	}
	return len(refs) > 0
}

// objectLabel is the place shown for a git finding without a path: the
// tag, the commit header, or the object id of a blob no tree names.
func objectLabel(tag, part, commit, object string) string {
	switch {
	case tag != "" && part == "message":
		return "(tag " + tag + " message)"
	case tag != "":
		return "(tag " + tag + " " + part + ")"
	case commit != "" && part == "author":
		return "(commit author)"
	case commit != "" && part == "header":
		return "(commit header)"
	case commit == "" && object != "":
		return "(object " + object + ")"
	}
	return ""
}
