package report

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/fatih/color"

	"github.com/xaiscan/xaiscan/scanner"
)

// palette holds the colours of text output. Every colour is switched on or
// off explicitly, so neither the global color.NoColor nor terminal detection
// can change what a test or a pipe sees.
type palette struct {
	header, key, live, dead, unknown, warn, errc, dim *color.Color
}

func newPalette(on bool) palette {
	mk := func(attrs ...color.Attribute) *color.Color {
		c := color.New(attrs...)
		if on {
			c.EnableColor()
		} else {
			c.DisableColor()
		}
		return c
	}
	return palette{
		header:  mk(color.Bold),
		key:     mk(color.Bold, color.FgCyan),
		live:    mk(color.Bold, color.FgRed),
		dead:    mk(color.Faint),
		unknown: mk(color.FgYellow),
		warn:    mk(color.FgYellow),
		errc:    mk(color.FgRed),
		dim:     mk(color.Faint),
	}
}

// keyGroup is one distinct key and the findings that carry it.
type keyGroup struct {
	id       string
	findings []shownFinding
}

// groupByKey groups findings by fingerprint, ordering groups by their first
// appearance in the (already sorted) findings.
func groupByKey(fs []shownFinding) []*keyGroup {
	var groups []*keyGroup
	index := map[string]*keyGroup{}
	for _, f := range fs {
		id := f.Fingerprint
		if id == "" {
			// Without a fingerprint the rule and the key (or its redacted
			// form) are the best identity left.
			id = f.Rule + "\x00" + f.Key + "\x00" + f.Secret
		}
		g, ok := index[id]
		if !ok {
			g = &keyGroup{id: id}
			index[id] = g
			groups = append(groups, g)
		}
		g.findings = append(g.findings, f)
	}
	return groups
}

// WriteText writes res for people: findings grouped by key (one header per
// distinct key with its fingerprint, then each location indented), followed
// by a summary of coverage, read errors, deliberate skips and notes. With
// Options.Hook it is a git hook's report (see hook.go). Every name, author
// and message is shown escaped (safetext.Escape): nothing in the output
// can act on the terminal or start a line of its own.
func WriteText(w io.Writer, res scanner.Result, o Options) error {
	bw := bufio.NewWriter(w)
	t := textWriter{w: bw, p: newPalette(o.Color), o: o}
	sr := textCleaner(o).result(res)
	hook := o.Hook != ""
	if hook && !o.Verbose && sr.clean() {
		return nil // a hook is silent on success
	}
	blocked := hook && len(sr.findings) > 0
	if blocked {
		t.blockedHeadline(sr.findings)
	}
	t.findings(sr.findings)
	if blocked {
		t.remedy(sr.findings)
	}
	t.summary(sr)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write text: %w", err)
	}
	return nil
}

// textWriter renders a shownResult: its strings are already safe, so the
// writer adds only its own layout and colours.
type textWriter struct {
	w *bufio.Writer
	p palette
	o Options
}

func (t *textWriter) printf(format string, a ...any) {
	// bufio.Writer keeps the first error and Flush returns it, so write
	// errors are checked once, in WriteText.
	fmt.Fprintf(t.w, format, a...)
}

func (t *textWriter) findings(fs []shownFinding) {
	for i, g := range groupByKey(fs) {
		if i > 0 {
			t.printf("\n")
		}
		first := g.findings[0]
		t.printf("%s %s", t.p.header.Sprint(ruleName(first.Rule)), t.p.key.Sprint(first.Secret))
		if first.Fingerprint != "" {
			// What .xaiscanignore, baselines and --revoke-hook name it by.
			t.printf("  %s", t.p.dim.Sprint("fingerprint "+first.Fingerprint))
		}
		if v, detail := verificationOf(g.findings); v != "" {
			t.printf("  %s", t.verification(v))
			if s := t.detail(detail); s != "" {
				t.printf(" (%s)", s)
			}
		}
		t.printf("\n")
		for _, f := range g.findings {
			t.printf("    %s\n", t.location(f))
		}
	}
}

// verificationOf returns the first verification state (and its detail)
// among a key's findings; the verifier checks each key once, so they agree.
func verificationOf(fs []shownFinding) (string, map[string]any) {
	for _, f := range fs {
		if f.Verification != "" {
			return f.Verification, f.VerificationDetail
		}
	}
	return "", nil
}

func (t *textWriter) verification(v string) string {
	switch v {
	case "live":
		return t.p.live.Sprint("LIVE")
	case "dead":
		return t.p.dead.Sprint("dead")
	case "unknown":
		return t.p.unknown.Sprint("unknown")
	default:
		return t.p.unknown.Sprint(v)
	}
}

// detailOrder lists the verification details worth reading first; any
// other details follow in alphabetical order.
var detailOrder = []string{"name", "acls", "team_id", "api_key_id", "reason", "error", "status"}

// detailSkip are details that repeat what the header already shows.
var detailSkip = map[string]bool{"redacted_api_key": true}

// detail summarises a verification detail map as "name: x; acls: a, b".
// Empty values and false flags are left out: they say nothing.
func (t *textWriter) detail(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	var keys []string
	done := map[string]bool{}
	for _, k := range detailOrder {
		if _, ok := d[k]; ok {
			keys = append(keys, k)
			done[k] = true
		}
	}
	var rest []string
	for k := range d {
		if !done[k] && !detailSkip[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	keys = append(keys, rest...)
	var parts []string
	for _, k := range keys {
		s := detailValue(d[k])
		if s == "" {
			continue
		}
		parts = append(parts, k+": "+s)
	}
	return strings.Join(parts, "; ")
}

func detailValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if !x {
			return ""
		}
		return "true"
	case string:
		return x
	case []string:
		return strings.Join(x, ", ")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			if s := detailValue(e); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	default:
		return fmt.Sprint(x)
	}
}

// location renders one finding's place: its repository (in
// multi-repository scans), path:line:column, then its encoding and git
// attribution when present.
func (t *textWriter) location(f shownFinding) string {
	var b strings.Builder
	if f.Repository != "" {
		// A key found in several repositories is one group: each
		// location names its repository.
		b.WriteString(f.Repository + "  ")
	}
	switch {
	case f.Path != "":
		b.WriteString(f.Path)
	case f.Source == scanner.SourceGit && objectLabel(f.Tag, f.Part, f.Commit, f.Object) != "":
		b.WriteString(objectLabel(f.Tag, f.Part, f.Commit, f.Object))
	case f.Commit != "":
		b.WriteString("(commit message)")
	case f.Source == scanner.SourceStdin:
		b.WriteString("(stdin)")
	default:
		b.WriteString("(unknown)")
	}
	fmt.Fprintf(&b, ":%d:%d", f.Line, f.Column)
	if f.Encoding != "" {
		fmt.Fprintf(&b, " [%s]", f.Encoding)
	}
	if f.Part == "name" {
		// The key is in the path shown, not in the content.
		b.WriteString("  (in the name)")
	}
	if f.Source == scanner.SourceStaged && f.Commit == "" {
		b.WriteString("  (staged)")
	}
	if f.Commit != "" {
		b.WriteString("  ")
		b.WriteString(t.p.dim.Sprint("commit " + shortCommit(f.Commit)))
	}
	if f.Author != "" || f.Email != "" {
		b.WriteString("  ")
		b.WriteString(f.Author)
		if f.Email != "" {
			if f.Author != "" {
				b.WriteString(" ")
			}
			b.WriteString("<" + f.Email + ">")
		}
	}
	if f.Date != "" {
		b.WriteString("  ")
		b.WriteString(shortDate(f.Date))
	}
	if f.Reachable != nil && !*f.Reachable {
		b.WriteString("  ")
		if onlyReflog(f.Refs) {
			b.WriteString(t.p.warn.Sprint("(only in the reflog)"))
		} else {
			b.WriteString(t.p.warn.Sprint("(unreachable)"))
		}
	}
	if f.AtHead != nil {
		b.WriteString("  ")
		if *f.AtHead {
			b.WriteString(t.p.warn.Sprint("still at HEAD"))
		} else {
			b.WriteString(t.p.dim.Sprint("removed since"))
		}
	}
	if e := exposureLine(f.Refs); e != "" {
		b.WriteString("\n        exposed: " + e)
	}
	if f.Attribution != "" {
		b.WriteString("\n        attribution " + f.Attribution)
	}
	return b.String()
}

// shortCommit abbreviates a commit id the way git log does.
func shortCommit(c string) string {
	const n = 7
	if len(c) > n {
		return c[:n]
	}
	return c
}

// shortDate shows an RFC 3339 date as its calendar day in the committer's
// zone; anything else is shown as given.
func shortDate(d string) string {
	if t, err := time.Parse(time.RFC3339, d); err == nil {
		return t.Format("2006-01-02")
	}
	return d
}

// maxListedErrors bounds how many unreadable paths the text report lists
// one by one: a tree of fuzz corpora can hold hundreds of broken archives,
// and a screenful says as much as all of them.
const maxListedErrors = 50

func (t *textWriter) summary(res shownResult) {
	// Lines are collected first so the blank line that separates them from
	// the findings is printed only when a summary follows (quiet output of
	// a complete scan has none).
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	cov := res.coverage
	if !t.o.Quiet {
		switch {
		case len(res.findings) == 0:
			add("No xAI keys found.")
		case t.o.Hook != "":
			// The headline has counted them.
		default:
			keys := len(groupByKey(res.findings))
			add("%s in %s.", plural(keys, "key", "keys"), plural(len(res.findings), "location", "locations"))
		}
		add("Scanned %s.", scannedSummary(cov))
	}
	if res.interrupted {
		add("%s", t.p.warn.Sprint("Scan interrupted: the results are incomplete."))
	}
	var errs []shownSkip
	for _, s := range res.skipped {
		if s.IsError() {
			errs = append(errs, s)
		}
	}
	if len(errs) > 0 {
		add("%s", t.p.errc.Sprintf("Could not read %s; the scan is partial:", plural(len(errs), "path", "paths")))
		for i, s := range errs {
			if i == maxListedErrors && len(errs) > maxListedErrors+1 {
				add("    ... and %d more (the JSON and SARIF reports list them all)", len(errs)-i)
				break
			}
			if s.Path == "" {
				add("    %s", s.Reason)
			} else {
				add("    %s: %s", s.Path, s.Reason)
			}
		}
	}
	if !t.o.Quiet {
		out = append(out, skipSummaries(res.skipped)...)
		for _, n := range cov.Notes {
			add("Note: %s", n)
		}
	}
	if len(out) == 0 {
		return
	}
	if len(res.findings) > 0 {
		t.printf("\n")
	}
	for _, l := range out {
		t.printf("%s\n", l)
	}
}

// scannedSummary is "12 files, 340 blobs, 56 commits, 1.2 MiB": counters
// that are zero are left out, the byte count always shown.
func scannedSummary(c scanner.Coverage) string {
	var parts []string
	if c.Files > 0 {
		parts = append(parts, plural(c.Files, "file", "files"))
	}
	if c.Blobs > 0 {
		parts = append(parts, plural(c.Blobs, "blob", "blobs"))
	}
	if c.Commits > 0 {
		parts = append(parts, plural(c.Commits, "commit", "commits"))
	}
	parts = append(parts, humanBytes(c.Bytes))
	return strings.Join(parts, ", ")
}

func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// humanBytes formats a byte count with binary units: 512 B, 1.5 KiB, 3.2 GiB.
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	const units = "KMGTPE"
	v := float64(n) / 1024
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}
