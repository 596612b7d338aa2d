// Package report writes scan results as human text, JSON (the report
// contract of DESIGN §4) and SARIF 2.1.0, and reads JSON reports back for
// baselines and `xaiscan verify`.
//
// Every writer shows keys in their redacted form ("xai-..." and the last
// four characters) unless Options.ShowSecrets is set. Redaction is not only
// applied to Finding.Secret: every free-form string that reaches the output
// (paths, reasons, notes, authors, verification details) is scrubbed of
// key-shaped text too, because a key can hide in a file name or a commit
// author as easily as in a file's content.
//
// Writers are single-threaded, never modify the Result they are given, and
// produce byte-for-byte deterministic output for a given Result and Options.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

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
}

// Formats lists the output formats Write accepts, in the order the CLI
// documents them.
var Formats = []string{"text", "json", "sarif"}

// Write renders res to w in the named format: "text", "json" or "sarif".
func Write(w io.Writer, format string, res scanner.Result, o Options) error {
	switch format {
	case "text":
		return WriteText(w, res, o)
	case "json":
		return WriteJSON(w, res, o)
	case "sarif":
		return WriteSARIF(w, res, o)
	default:
		return fmt.Errorf("report: unknown format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
}

// redactor decides how keys and free-form strings appear in an output. It
// is built once per write from the findings, whose full keys it knows.
type redactor struct {
	show bool
	// keys are the full keys of the findings being written, so that an
	// exact occurrence is redacted even where the rules' boundary checks
	// would not see it (a key glued to a word character in a path).
	keys []string
}

func newRedactor(res scanner.Result, o Options) *redactor {
	r := &redactor{show: o.ShowSecrets}
	if r.show {
		return r
	}
	seen := map[string]bool{}
	for _, f := range res.Findings {
		for _, k := range []string{f.Key, f.Secret} {
			if isFullKey(k) && !seen[k] {
				seen[k] = true
				r.keys = append(r.keys, k)
			}
		}
	}
	return r
}

// secret returns what a finding's "secret" field shows: the full key with
// ShowSecrets (when the finding carries it), the redacted form otherwise.
func (r *redactor) secret(f scanner.Finding) string {
	if r.show {
		if f.Key != "" {
			return f.Key
		}
		return f.Secret
	}
	if f.Key != "" {
		return rules.Redact(f.Key)
	}
	return r.str(f.Secret)
}

// str scrubs a free-form string: with ShowSecrets it is returned as is;
// otherwise every known key, and anything else the rules recognise as a
// key, is replaced by its redacted form.
func (r *redactor) str(s string) string {
	if r.show || !strings.Contains(s, rules.Prefix) {
		return s
	}
	for _, k := range r.keys {
		s = strings.ReplaceAll(s, k, rules.Redact(k))
	}
	ms := rules.FindAll([]byte(s))
	if len(ms) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range ms {
		b.WriteString(s[last:m.Start])
		b.WriteString(rules.Redact(s[m.Start:m.End]))
		last = m.End
	}
	b.WriteString(s[last:])
	return b.String()
}

// value scrubs the strings inside a decoded JSON value (verification
// details), copying maps and slices so the caller's Result is untouched.
func (r *redactor) value(v any) any {
	if r.show {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.str(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.str(k)] = r.value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.value(e)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, e := range x {
			out[r.str(k)] = r.str(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = r.str(e)
		}
		return out
	default:
		return v
	}
}

// finding returns a copy of f ready to serialise: Secret set per the
// redaction rules, free-form fields scrubbed, and the fingerprint filled in
// from the key if the producer left it empty.
func (r *redactor) finding(f scanner.Finding) scanner.Finding {
	out := f
	out.Secret = r.secret(f)
	if out.Fingerprint == "" && f.Key != "" {
		out.Fingerprint = rules.Fingerprint([]byte(f.Key))
	}
	out.Path = r.str(f.Path)
	out.Author = r.str(f.Author)
	out.Email = r.str(f.Email)
	out.Date = r.str(f.Date)
	out.Commit = r.str(f.Commit)
	out.Encoding = r.str(f.Encoding)
	if f.VerificationDetail != nil {
		out.VerificationDetail, _ = r.value(f.VerificationDetail).(map[string]any)
	}
	// The copy is for writing; it does not need the key, so it does not
	// carry it where a careless field could leak it.
	out.Key = ""
	return out
}

// coverage returns a scrubbed copy of c whose Skipped is never nil, so it
// serialises as [] rather than null.
func (r *redactor) coverage(c scanner.Coverage) scanner.Coverage {
	out := c
	out.Skipped = make([]scanner.Skipped, len(c.Skipped))
	for i, s := range c.Skipped {
		out.Skipped[i] = scanner.Skipped{Path: r.str(s.Path), Reason: r.str(s.Reason), Kind: s.Kind}
	}
	if c.Notes != nil {
		out.Notes = make([]string, len(c.Notes))
		for i, n := range c.Notes {
			out.Notes[i] = r.str(n)
		}
	}
	return out
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

// skipSummaries condenses the deliberate skips (Error false) into one line
// per reason, "Skipped 3 paths: symlink not followed (…)", in reason order;
// read errors are listed one by one elsewhere.
func skipSummaries(skipped []scanner.Skipped, r *redactor) []string {
	counts := map[string]int{}
	for _, s := range skipped {
		if !s.IsError() {
			counts[r.str(s.Reason)]++
		}
	}
	reasons := make([]string, 0, len(counts))
	for reason := range counts {
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	out := make([]string, 0, len(reasons))
	for _, reason := range reasons {
		label := reason
		if label == "" {
			label = "no reason given"
		}
		out = append(out, fmt.Sprintf("Skipped %s: %s", plural(counts[reason], "path", "paths"), label))
	}
	return out
}
