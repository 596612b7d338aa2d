package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xaiscan/xaiscan/scanner"
)

// GitLab's secret detection report (gl-secret-detection-report.json),
// published as artifacts:reports:secret_detection.
const (
	// GitLabSchemaVersion is the version of GitLab's security report
	// schema the report follows; GitLab validates reports against the
	// version they declare.
	GitLabSchemaVersion = "15.2.1"
	// GitLabSchemaURL is the published schema of that version.
	GitLabSchemaURL = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v" +
		GitLabSchemaVersion + "/dist/secret-detection-report-format.json"
	// gitlabTime is the schema's time format: UTC, to the second, no zone.
	gitlabTime = "2006-01-02T15:04:05"
	// gitlabNoCommit is the commit GitLab's own analyzer reports for a
	// finding outside git history (the schema requires one).
	gitlabNoCommit = "0000000"
	// gitlabMaxMessages bounds scan.messages; the JSON report lists all.
	gitlabMaxMessages = 100
)

type glReport struct {
	Version         string   `json:"version"`
	Schema          string   `json:"schema"`
	Scan            glScan   `json:"scan"`
	Vulnerabilities []glVuln `json:"vulnerabilities"`
}

type glScan struct {
	Analyzer  glTool      `json:"analyzer"`
	Scanner   glTool      `json:"scanner"`
	Type      string      `json:"type"`
	StartTime string      `json:"start_time"`
	EndTime   string      `json:"end_time"`
	Status    string      `json:"status"`
	Messages  []glMessage `json:"messages,omitempty"`
}

type glTool struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	URL     string   `json:"url"`
	Version string   `json:"version"`
	Vendor  glVendor `json:"vendor"`
}

type glVendor struct {
	Name string `json:"name"`
}

type glMessage struct {
	Level string `json:"level"`
	Value string `json:"value"`
}

type glVuln struct {
	ID                   string                  `json:"id"`
	Category             string                  `json:"category"`
	Name                 string                  `json:"name"`
	Description          string                  `json:"description"`
	Severity             string                  `json:"severity"`
	Solution             string                  `json:"solution"`
	Identifiers          []glIdentifier          `json:"identifiers"`
	Location             glLocation              `json:"location"`
	RawSourceCodeExtract string                  `json:"raw_source_code_extract"`
	Details              map[string]glDetailText `json:"details,omitempty"`
}

type glIdentifier struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

type glLocation struct {
	File      string   `json:"file,omitempty"`
	StartLine int      `json:"start_line,omitempty"`
	EndLine   int      `json:"end_line,omitempty"`
	Commit    glCommit `json:"commit"`
}

type glCommit struct {
	SHA    string `json:"sha"`
	Author string `json:"author,omitempty"`
	Date   string `json:"date,omitempty"`
}

// glDetailText is a "text" entry of the schema's named list of details.
type glDetailText struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// WriteGitLab writes res as GitLab's secret detection report (schema
// GitLabSchemaVersion): one vulnerability per finding, with the file, line
// and commit that introduced the key, a primary identifier per rule and
// the key's fingerprint as a second identifier, so GitLab tracks one key
// across pipelines. The key itself is always redacted, even with
// ShowSecrets: GitLab shows raw_source_code_extract in its UI to everyone
// who can see the vulnerability report. The scan's status is "failure"
// when something could not be read or the scan was interrupted.
func WriteGitLab(w io.Writer, res scanner.Result, o Options) error {
	noSecrets := o
	noSecrets.ShowSecrets = false
	sr := exactCleaner(noSecrets).result(res)
	// The description is Markdown: it shows names escaped as in the text
	// report (no newline can end a code span there).
	shown := textCleaner(noSecrets).result(res)
	tool := glTool{ID: ToolName, Name: ToolName, URL: InformationURI, Version: gitlabVersion(o.Version), Vendor: glVendor{Name: ToolName}}
	doc := glReport{
		Version: GitLabSchemaVersion,
		Schema:  GitLabSchemaURL,
		Scan: glScan{
			Analyzer: tool, Scanner: tool, Type: "secret_detection",
			StartTime: gitlabTimeOf(o.Started), EndTime: gitlabTimeOf(o.Finished),
			Status: "success", Messages: gitlabMessages(sr),
		},
		Vulnerabilities: make([]glVuln, 0, len(sr.findings)),
	}
	if sr.coverage.Partial() || sr.interrupted {
		doc.Scan.Status = "failure"
	}
	for i, f := range sr.findings {
		doc.Vulnerabilities = append(doc.Vulnerabilities, gitlabVuln(f, shown.findings[i]))
	}
	return encodeJSON(w, "gitlab", doc)
}

func gitlabVersion(v string) string {
	if v == "" {
		return "unknown"
	}
	return v
}

func gitlabTimeOf(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(gitlabTime)
}

// gitlabMessages are the scan's messages: an interruption (fatal), paths
// that could not be read (warn), notes (info).
func gitlabMessages(r shownResult) []glMessage {
	var out []glMessage
	if r.interrupted {
		out = append(out, glMessage{Level: "fatal", Value: "Scan interrupted: the results are incomplete."})
	}
	errs := 0
	for _, s := range r.skipped {
		if !s.IsError() {
			continue
		}
		if errs++; errs > gitlabMaxMessages {
			continue
		}
		v := "Could not read: " + s.Reason
		if s.Path != "" {
			v = "Could not read " + s.Path + ": " + s.Reason
		}
		out = append(out, glMessage{Level: "warn", Value: v})
	}
	if errs > gitlabMaxMessages {
		out = append(out, glMessage{Level: "warn", Value: fmt.Sprintf("... and %d more paths that could not be read (the JSON report lists them all)", errs-gitlabMaxMessages)})
	}
	for _, line := range skipSummaries(r.skipped) {
		out = append(out, glMessage{Level: "info", Value: line})
	}
	for _, n := range r.coverage.Notes {
		out = append(out, glMessage{Level: "info", Value: n})
	}
	return out
}

// gitlabVuln is one finding: f cleaned for exact fields, shown escaped for
// the Markdown description.
func gitlabVuln(f, shown shownFinding) glVuln {
	v := glVuln{
		ID:          gitlabID(f),
		Category:    "secret_detection",
		Name:        "Leaked " + ruleName(f.Rule),
		Description: gitlabDescription(shown),
		Severity:    "Critical",
		Solution:    remediationText,
		Identifiers: []glIdentifier{
			{Type: "xaiscan_rule_id", Name: "xaiscan rule " + f.Rule, Value: f.Rule},
		},
		Location: glLocation{
			File:      f.Path,
			StartLine: f.Line,
			EndLine:   f.Line,
			Commit:    glCommit{SHA: gitlabNoCommit},
		},
		RawSourceCodeExtract: f.Secret,
		Details: map[string]glDetailText{
			"fingerprint": {Name: "Fingerprint", Type: "text", Value: f.Fingerprint},
		},
	}
	if f.Fingerprint != "" {
		v.Identifiers = append(v.Identifiers, glIdentifier{Type: "xaiscan_fingerprint", Name: "xaiscan fingerprint " + shortFingerprint(f.Fingerprint), Value: f.Fingerprint})
	} else {
		delete(v.Details, "fingerprint")
	}
	if f.Commit != "" {
		v.Location.Commit = glCommit{SHA: f.Commit, Author: authorOf(f), Date: f.Date}
	}
	if f.Path == "" && f.Commit != "" {
		v.Location.File = MessageURIPrefix + f.Commit
	}
	if f.Verification != "" {
		v.Details["verification"] = glDetailText{Name: "Verification", Type: "text", Value: f.Verification}
	}
	if f.Encoding != "" {
		v.Details["encoding"] = glDetailText{Name: "Encoding", Type: "text", Value: f.Encoding}
	}
	if len(v.Details) == 0 {
		v.Details = nil
	}
	return v
}

// gitlabDescription is a finding's description. GitLab renders it as
// Markdown: every name from the scanned content goes in a code span.
func gitlabDescription(f shownFinding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", ruleName(f.Rule), codeSpan(f.Secret))
	switch {
	case f.Path != "":
		fmt.Fprintf(&b, " in %s, line %d", codeSpan(f.Path), f.Line)
	case f.Commit != "":
		fmt.Fprintf(&b, " in the message of commit %s", codeSpan(f.Commit))
	}
	if f.Commit != "" && f.Path != "" {
		fmt.Fprintf(&b, ", added in commit %s", codeSpan(f.Commit))
	}
	if a := authorOf(f); a != "" {
		fmt.Fprintf(&b, " by %s", codeSpan(a))
	}
	if f.Date != "" {
		fmt.Fprintf(&b, " on %s", codeSpan(f.Date))
	}
	if f.Encoding != "" {
		fmt.Fprintf(&b, " (%s-encoded)", codeSpan(f.Encoding))
	}
	b.WriteString(".")
	switch f.Verification {
	case "live":
		b.WriteString(" **The key is live**: revoke it and rotate it now.")
	case "dead":
		b.WriteString(" xAI rejects the key (revoked, disabled or blocked); purge it from history.")
	case "unknown":
		b.WriteString(" Its status could not be verified: revoke it and rotate it.")
	}
	fmt.Fprintf(&b, "\n\nFingerprint (for `.xaiscanignore` and baselines): `%s`", f.Fingerprint)
	return b.String()
}

func authorOf(f shownFinding) string {
	switch {
	case f.Author != "" && f.Email != "":
		return f.Author + " <" + f.Email + ">"
	case f.Email != "":
		return "<" + f.Email + ">"
	}
	return f.Author
}

// gitlabID is a stable id for one finding, derived from the key's
// fingerprint and its location, laid out as a UUID (version 8, RFC 9562:
// custom, here SHA-256) as the schema recommends. The same finding gets
// the same id in every pipeline.
func gitlabID(f shownFinding) string {
	h := sha256.Sum256([]byte(strings.Join([]string{
		f.Fingerprint, f.Rule, f.Source, f.rawPath, strconv.Itoa(f.Line), strconv.Itoa(f.Column), f.Commit, f.Encoding,
	}, "\x00")))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// shortFingerprint is the first 12 hex digits of a fingerprint, the form
// xaiscan's messages use.
func shortFingerprint(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}
