package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// Tool identifies the program that wrote a report.
type Tool struct {
	// Name is "xaiscan" for reports this package writes.
	Name string `json:"name"`
	// Version is the writer's version, as given in Options.Version.
	Version string `json:"version"`
}

// Report is a JSON report read back by ReadJSON.
type Report struct {
	// Tool is the writer of the report.
	Tool Tool
	// Findings are the report's findings. Key is set only when the report
	// was written with --show-secrets (its "secret" field then holds the
	// full key); Secret is always the redacted form.
	Findings []scanner.Finding
	// Coverage is the report's coverage section.
	Coverage scanner.Coverage
	// Interrupted is whether the scan that wrote the report was cancelled.
	Interrupted bool
}

// Result returns the report as a scanner.Result, so it can be written again
// (after verification, for example) with the same writers.
func (r Report) Result() scanner.Result {
	return scanner.Result{Findings: r.Findings, Coverage: r.Coverage, Interrupted: r.Interrupted}
}

// jsonReport is the wire form of DESIGN §4. Field order here is the order
// of the output.
type jsonReport struct {
	Tool        Tool              `json:"tool"`
	Findings    []scanner.Finding `json:"findings"`
	Coverage    scanner.Coverage  `json:"coverage"`
	Interrupted bool              `json:"interrupted,omitempty"`
}

// WriteJSON writes res as one JSON object (DESIGN §4), indented by two
// spaces and followed by a newline. "findings" and "coverage.skipped" are
// always arrays, "secret" is redacted unless o.ShowSecrets, and
// "interrupted": true appears only for a cancelled scan.
func WriteJSON(w io.Writer, res scanner.Result, o Options) error {
	r := newRedactor(res, o)
	doc := jsonReport{
		Tool:        Tool{Name: ToolName, Version: o.Version},
		Findings:    make([]scanner.Finding, len(res.Findings)),
		Coverage:    r.coverage(res.Coverage),
		Interrupted: res.Interrupted,
	}
	for i, f := range res.Findings {
		doc.Findings[i] = r.finding(f)
	}
	return encodeJSON(w, "json", doc)
}

// encodeJSON writes v indented, without HTML escaping (paths with & or <
// stay readable), and wraps errors with the format's name.
func encodeJSON(w io.Writer, format string, v any) error {
	// Encode into memory first so a value that cannot be encoded leaves
	// nothing half-written in w.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("report: encode %s: %w", format, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: write %s: %w", format, err)
	}
	return nil
}

// wireReport is what ReadJSON decodes; pointers tell a missing member from
// an empty one.
type wireReport struct {
	Tool        *Tool              `json:"tool"`
	Findings    *[]scanner.Finding `json:"findings"`
	Coverage    *scanner.Coverage  `json:"coverage"`
	Interrupted bool               `json:"interrupted"`
}

// ReadJSON parses a JSON report written by WriteJSON. When a finding's
// "secret" is a full key (the report was written with --show-secrets), the
// key is moved to Finding.Key and Secret is set to its redacted form, as
// the scanner itself would have produced; otherwise Key stays empty. A
// fingerprint that does not match the full key is an error: baselines and
// verification trust both.
func ReadJSON(r io.Reader) (Report, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Report{}, fmt.Errorf("report: read: %w", err)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return Report{}, errors.New("report: empty input, want an xaiscan JSON report")
	}
	if !json.Valid(data) {
		// Unmarshal into an empty interface only to get a positioned
		// syntax error.
		var v any
		err := json.Unmarshal(data, &v)
		return Report{}, positioned(data, err)
	}
	if trimmed[0] != '{' {
		return Report{}, errors.New("not an xaiscan JSON report: top level is not an object")
	}
	var w wireReport
	if err := json.Unmarshal(data, &w); err != nil {
		return Report{}, positioned(data, err)
	}
	if w.Tool != nil && w.Tool.Name != "" && w.Tool.Name != ToolName {
		return Report{}, fmt.Errorf("not an xaiscan JSON report: written by %q", w.Tool.Name)
	}
	if w.Findings == nil {
		return Report{}, errors.New(`not an xaiscan JSON report: missing "findings"`)
	}
	rep := Report{Findings: *w.Findings, Interrupted: w.Interrupted}
	if w.Tool != nil {
		rep.Tool = *w.Tool
	}
	if w.Coverage != nil {
		rep.Coverage = *w.Coverage
	}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if !isFullKey(f.Secret) {
			f.Key = ""
			continue
		}
		key := f.Secret
		fp := rules.Fingerprint([]byte(key))
		switch {
		case f.Fingerprint == "":
			f.Fingerprint = fp
		case f.Fingerprint != fp:
			// Name the finding by position and redacted key only.
			return Report{}, fmt.Errorf("report: finding %d (%s): fingerprint does not match its secret", i+1, rules.Redact(key))
		}
		f.Key = key
		f.Secret = rules.Redact(key)
	}
	return rep, nil
}

// positioned turns a decoding error into "report: line N: ..." using the
// byte offset the json package reports.
func positioned(data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return fmt.Errorf("report: %w", err)
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	// Offset points just past the offending byte; count the lines before it.
	if off > 0 {
		off--
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	return fmt.Errorf("report: line %d: %w", line, err)
}
