package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/xaiscan/xaiscan/scanner"
)

// Limits of the Markdown summary. GitHub caps a job summary at 1 MiB; the
// summary is an overview, the JSON and SARIF reports are complete.
const (
	mdMaxKeys      = 100
	mdMaxLocations = 10
	mdMaxErrors    = 50
)

// WriteMarkdown writes res as a short Markdown summary for a CI job's
// summary page (GitHub's GITHUB_STEP_SUMMARY): a headline, one table row
// per distinct key (redacted key, fingerprint, verification, locations),
// what was scanned, what could not be read, and notes. Every name from the
// scanned content is shown escaped (as in the text report) inside a code
// span, so it cannot add links, images, HTML, mentions or table cells.
// Keys are always redacted, even with ShowSecrets: a job summary is shown
// to everyone who can see the workflow run.
func WriteMarkdown(w io.Writer, res scanner.Result, o Options) error {
	bw := bufio.NewWriter(w)
	o.ShowSecrets = false
	sr := textCleaner(o).result(res)
	m := mdWriter{w: bw}
	m.headline(sr)
	m.keys(sr.findings)
	m.coverage(sr)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("report: write markdown: %w", err)
	}
	return nil
}

type mdWriter struct{ w *bufio.Writer }

func (m mdWriter) printf(format string, a ...any) { fmt.Fprintf(m.w, format, a...) }

func (m mdWriter) headline(r shownResult) {
	switch keys := len(groupByKey(r.findings)); {
	case keys > 0:
		m.printf("### :rotating_light: xaiscan: %s in %s\n\n", plural(keys, "xAI key", "xAI keys"), plural(len(r.findings), "location", "locations"))
	case !r.clean():
		m.printf("### :warning: xaiscan: no xAI keys found, but the scan is incomplete\n\n")
	default:
		m.printf("### :white_check_mark: xaiscan: no xAI keys found\n\n")
	}
}

func (m mdWriter) keys(fs []shownFinding) {
	groups := groupByKey(fs)
	if len(groups) == 0 {
		return
	}
	m.printf("| key | fingerprint | status | where |\n|---|---|---|---|\n")
	for i, g := range groups {
		if i == mdMaxKeys {
			m.printf("\n… and %d more keys (the JSON and SARIF reports list them all).\n", len(groups)-i)
			break
		}
		first := g.findings[0]
		status, _ := verificationOf(g.findings)
		if status == "" {
			status = "not verified"
		}
		var where []string
		for j, f := range g.findings {
			if j == mdMaxLocations {
				where = append(where, fmt.Sprintf("… and %d more", len(g.findings)-j))
				break
			}
			where = append(where, mdLocation(f))
		}
		m.printf("| %s %s | %s | %s | %s |\n", mdCell(ruleName(first.Rule)), cellCode(first.Secret),
			cellCode(first.Fingerprint), mdCell(status), strings.Join(where, "<br>"))
	}
	m.printf("\nRevoke each key in the [xAI console](https://console.x.ai) (or with `xaiscan … --verify --revoke`), " +
		"rotate it, then remove it from the history.\n\n")
}

// mdLocation is one location: the path, line and column in a code span,
// and the commit that introduced it.
func mdLocation(f shownFinding) string {
	p := f.Path
	switch {
	case p != "":
	case f.Commit != "":
		p = "(commit message)"
	case f.Source == scanner.SourceStdin:
		p = "(stdin)"
	default:
		p = "(unknown)"
	}
	s := cellCode(fmt.Sprintf("%s:%d:%d", p, f.Line, f.Column))
	if f.Commit != "" {
		s += " in " + cellCode(shortCommit(f.Commit))
	}
	if f.AtHead != nil && *f.AtHead {
		s += " (still at HEAD)"
	}
	return s
}

func (m mdWriter) coverage(r shownResult) {
	m.printf("Scanned %s.\n", scannedSummary(r.coverage))
	if r.interrupted {
		m.printf("\n**The scan was interrupted: the results are incomplete.**\n")
	}
	var errs []shownSkip
	for _, s := range r.skipped {
		if s.IsError() {
			errs = append(errs, s)
		}
	}
	if len(errs) > 0 {
		m.printf("\n**Could not read %s; the scan is partial:**\n\n", plural(len(errs), "path", "paths"))
		for i, s := range errs {
			if i == mdMaxErrors {
				m.printf("- … and %d more (the JSON and SARIF reports list them all)\n", len(errs)-i)
				break
			}
			if s.Path == "" {
				m.printf("- %s\n", codeSpan(s.Reason))
			} else {
				m.printf("- %s: %s\n", codeSpan(s.Path), codeSpan(s.Reason))
			}
		}
	}
	for _, n := range r.coverage.Notes {
		m.printf("\n> Note: %s\n", codeSpan(n))
	}
}

// mdCell is xaiscan's own text in a table cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// cellCode is codeSpan for a table cell: "|" is escaped so the text stays
// in its cell (GitHub's tables honour the escape inside code spans).
func cellCode(s string) string { return codeSpan(strings.ReplaceAll(s, "|", `\|`)) }

// codeSpan puts already-escaped text in a Markdown code span that no
// backtick in it can close. Inside a code span Markdown renders nothing:
// no link, image, HTML or mention.
func codeSpan(s string) string {
	if s == "" {
		return "` `"
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	body := s
	if strings.HasPrefix(body, "`") || strings.HasSuffix(body, "`") {
		body = " " + body + " "
	}
	return fence + body + fence
}
