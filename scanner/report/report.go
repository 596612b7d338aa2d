// Package report writes scan results as human text, JSON (the report
// contract of DESIGN §4), SARIF 2.1.0, GitLab's secret detection report
// and a Markdown summary (for a CI job's summary page), and reads JSON
// reports back for baselines and `xaiscan verify`.
//
// Every writer shows keys in their redacted form ("xai-..." and the last
// four characters) unless Options.ShowSecrets is set. Writers never format
// untrusted text themselves: before a Result is rendered, every free-form
// string in it (paths, reasons, notes, authors, e-mails, verification
// details) goes through the output-safety layer, package safetext — for
// text, key-shaped runs redacted and control characters escaped; for JSON
// and SARIF, key-shaped runs redacted and the text otherwise exact, with
// names that are not UTF-8 kept recoverable (path_bytes).
//
// Writers are single-threaded, never modify the Result they are given, and
// produce byte-for-byte deterministic output for a given Result and Options
// (the GitLab report's times come from Options; zero ones mean now).
package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// ToolName is the tool's name as it appears in JSON and SARIF reports.
const ToolName = "xaiscan"

// InformationURI is the project's home page, written into SARIF's
// tool.driver.informationUri.
const InformationURI = "https://github.com/xaiscan/xaiscan"

// Options controls how a Result is rendered.
type Options struct {
	// ShowSecrets writes full keys (from Finding.Key) instead of the
	// redacted form. It is the only way a full key reaches any output.
	ShowSecrets bool
	// Color enables ANSI colour in text output. It is never inferred from
	// the terminal or the environment here, so output is deterministic; the
	// CLI decides (terminal, --no-color, NO_COLOR) and sets it.
	Color bool
	// Version is the xaiscan version written into JSON and SARIF reports.
	Version string
	// Quiet trims text output to what needs action: findings, read errors
	// and an interrupted scan. The coverage summary, deliberate skips,
	// notes and the "No xAI keys found." line are left out. JSON and SARIF
	// ignore it: machine-readable reports are always complete.
	Quiet bool
	// Hook is set when the text report is a git hook's: HookCommit or
	// HookPush. A clean, complete scan then prints nothing at all (a hook
	// is silent on success), and keys found are announced as a blocked
	// commit or push, each with what to do about it. Other formats ignore
	// it.
	Hook string
	// Verbose, with Hook, prints the summary of a clean scan as well.
	Verbose bool
	// Started and Finished are when the scan ran, for the reports that
	// record it (GitLab's scan.start_time and end_time). Zero means now.
	Started, Finished time.Time
}

// Hook kinds for Options.Hook.
const (
	HookCommit = "commit"
	HookPush   = "push"
)

// Formats lists the output formats Write accepts, in the order the CLI
// documents them.
var Formats = []string{"text", "json", "sarif", "gitlab", "markdown"}

// formatAliases are other names ParseFormat accepts.
var formatAliases = map[string]string{
	"summary": "markdown", // GitHub's job summary (GITHUB_STEP_SUMMARY)
	"md":      "markdown",
}

// ParseFormat returns the format a name given by a user means, ignoring
// case ("JSON" is "json") and resolving aliases ("summary" is
// "markdown"), and whether it is one.
func ParseFormat(name string) (string, bool) {
	f := strings.ToLower(strings.TrimSpace(name))
	if a, ok := formatAliases[f]; ok {
		f = a
	}
	return f, slices.Contains(Formats, f)
}

// Write renders res to w in the named format (one of Formats).
func Write(w io.Writer, format string, res scanner.Result, o Options) error {
	switch format {
	case "text":
		return WriteText(w, res, o)
	case "json":
		return WriteJSON(w, res, o)
	case "sarif":
		return WriteSARIF(w, res, o)
	case "gitlab":
		return WriteGitLab(w, res, o)
	case "markdown":
		return WriteMarkdown(w, res, o)
	default:
		return fmt.Errorf("report: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
}

// isFullKey reports whether s is exactly one key and nothing else.
func isFullKey(s string) bool {
	// MatchAt trusts its caller that a prefix starts at the offset, and
	// slices past it, so the prefix and the length are checked first.
	if !strings.HasPrefix(s, rules.Prefix) || len(s) < len(rules.Prefix)+rules.BodyLen || len(s) > rules.MaxKeyLen {
		return false
	}
	m, ok := rules.MatchAt([]byte(s), 0)
	return ok && m.Start == 0 && m.End == len(s)
}

// keyLen is the length of a finding's key as written in the source: the
// full key's length when known, otherwise the length the rule implies.
func keyLen(f scanner.Finding) int {
	if f.Key != "" {
		return len(f.Key)
	}
	if f.Rule == rules.ManagementKey {
		return len(rules.ManagementPrefix) + rules.BodyLen
	}
	return len(rules.Prefix) + rules.BodyLen
}

// ruleIndex returns the index of a rule id in rules.All, or -1.
func ruleIndex(id string) int {
	for i, r := range rules.All {
		if r.ID == id {
			return i
		}
	}
	return -1
}

// ruleName is the human name of a rule id, or the id itself when unknown.
func ruleName(id string) string {
	if i := ruleIndex(id); i >= 0 {
		return rules.All[i].Name
	}
	if id == "" {
		return "xAI key"
	}
	return id
}

// skipSummaries condenses the entries that do not make a scan partial
// (notes and exclusions) into one line per kind and reason, naming the
// first few paths, in kind then reason order: "Excluded 3 paths (vendor,
// a.log, b.log): excluded by --exclude ...", "Read despite damage: x.gz:
// truncated gzip stream ...". Errors are listed one by one elsewhere.
func skipSummaries(skipped []shownSkip) []string {
	type group struct{ kind, reason string }
	paths := map[group][]string{}
	for _, s := range skipped {
		if !s.IsError() {
			g := group{s.Kind, s.Reason}
			paths[g] = append(paths[g], s.Path)
		}
	}
	groups := make([]group, 0, len(paths))
	for g := range paths {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].kind != groups[j].kind {
			return groups[i].kind < groups[j].kind // excluded before note
		}
		return groups[i].reason < groups[j].reason
	})
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		label := g.reason
		if label == "" {
			label = "no reason given"
		}
		verb := "Excluded"
		if g.kind == scanner.KindNote {
			verb = "Read despite damage:"
		}
		out = append(out, fmt.Sprintf("%s %s: %s", verb, pathList(paths[g]), label))
	}
	return out
}

// summaryPaths is how many paths a summary line names before "and N more".
const summaryPaths = 3

// pathList names one path, or counts several and names the first few.
func pathList(ps []string) string {
	if len(ps) == 1 {
		return ps[0]
	}
	shown := ps[:min(len(ps), summaryPaths)]
	list := strings.Join(shown, ", ")
	if more := len(ps) - len(shown); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%d paths (%s)", len(ps), list)
}
