package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/safetext"
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
	Tool        Tool          `json:"tool"`
	Findings    []jsonFinding `json:"findings"`
	Coverage    jsonCoverage  `json:"coverage"`
	Interrupted bool          `json:"interrupted,omitempty"`
}

// jsonFinding is a finding as written: the contract's fields plus
// path_bytes, the raw name in base64 when it is not UTF-8.
type jsonFinding struct {
	scanner.Finding
	PathBytes string `json:"path_bytes,omitempty"`
}

// jsonCoverage is the coverage section as written; its skipped entries
// carry path_bytes like findings.
type jsonCoverage struct {
	scanner.Coverage
	Skipped []jsonSkipped `json:"skipped"`
}

// jsonSkipped is scanner.Skipped's report form (path, reason, kind and the
// derived error flag) plus path_bytes.
type jsonSkipped struct {
	Path      string `json:"path"`
	PathBytes string `json:"path_bytes,omitempty"`
	Reason    string `json:"reason"`
	Kind      string `json:"kind"`
	Error     bool   `json:"error"`
}

// pathBytes is the path_bytes of a raw (already redacted) name: its bytes
// in standard base64 when they are not valid UTF-8, else empty. JSON
// strings hold only Unicode, so "path" shows such a name with \xNN for each
// byte that is not UTF-8 — readable, but ambiguous with a name that holds
// those four characters; path_bytes is the name itself.
func pathBytes(raw string) string {
	if utf8.ValidString(raw) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(raw))
}

// WriteJSON writes res as one JSON object (DESIGN §4), indented by two
// spaces and followed by a newline. "findings" and "coverage.skipped" are
// always arrays, "secret" is redacted unless o.ShowSecrets (and so is any
// key-shaped text in a name, a reason or a verifier's answer), and
// "interrupted": true appears only for a cancelled scan. Strings hold the
// exact text; a name that is not UTF-8 also gets "path_bytes".
func WriteJSON(w io.Writer, res scanner.Result, o Options) error {
	sr := exactCleaner(o).result(res)
	doc := jsonReport{
		Tool:        Tool{Name: ToolName, Version: o.Version},
		Findings:    make([]jsonFinding, len(sr.findings)),
		Coverage:    jsonCoverage{Coverage: sr.coverage, Skipped: make([]jsonSkipped, len(sr.skipped))},
		Interrupted: sr.interrupted,
	}
	for i, f := range sr.findings {
		doc.Findings[i] = jsonFinding{Finding: f.Finding, PathBytes: pathBytes(f.rawPath)}
	}
	for i, s := range sr.skipped {
		doc.Coverage.Skipped[i] = jsonSkipped{
			Path: s.Path, PathBytes: pathBytes(s.rawPath), Reason: s.Reason, Kind: s.Kind, Error: s.IsError(),
		}
	}
	return encodeJSON(w, "json", doc)
}

// encodeJSON writes v indented, without HTML escaping (paths with & or <
// stay readable), and wraps errors with the format's name. DEL, C1 and
// bidirectional controls, which the encoder leaves raw, are written as \u
// escapes, so a report shown with cat cannot drive the terminal.
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
	if _, err := w.Write(safetext.EscapeJSON(buf.Bytes())); err != nil {
		return fmt.Errorf("report: write %s: %w", format, err)
	}
	return nil
}

// wireReport is what ReadJSON decodes; pointers tell a missing member from
// an empty one.
type wireReport struct {
	Tool        *Tool          `json:"tool"`
	Findings    *[]jsonFinding `json:"findings"`
	Coverage    *wireCoverage  `json:"coverage"`
	Interrupted bool           `json:"interrupted"`
}

// wireCoverage is what ReadJSON decodes for "coverage".
type wireCoverage struct {
	scanner.Coverage
	Skipped []wireSkipped `json:"skipped"`
}

// wireSkipped decodes a skipped entry in every form scanner.Skipped reads,
// plus path_bytes.
type wireSkipped struct {
	scanner.Skipped
	PathBytes string
}

// UnmarshalJSON decodes the entry with scanner.Skipped's own reader, then
// its path_bytes.
func (s *wireSkipped) UnmarshalJSON(data []byte) error {
	if err := json.Unmarshal(data, &s.Skipped); err != nil {
		return err
	}
	var extra struct {
		PathBytes string `json:"path_bytes"`
	}
	if err := json.Unmarshal(data, &extra); err != nil {
		return err
	}
	s.PathBytes = extra.PathBytes
	return nil
}

// rawPath returns the name path_bytes holds, or path when it is absent.
func rawPath(path, b64 string) (string, error) {
	if b64 == "" {
		return path, nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("path_bytes is not base64: %w", err)
	}
	return string(b), nil
}

// ReadJSON parses a JSON report written by WriteJSON. When a finding's
// "secret" is a full key (the report was written with --show-secrets), the
// key is moved to Finding.Key and Secret is set to its redacted form, as
// the scanner itself would have produced; otherwise Key stays empty. A
// fingerprint that does not match the full key is an error: baselines and
// verification trust both. A name written with "path_bytes" (it was not
// UTF-8) gets its exact bytes back. Everything read is untrusted text: the
// writers clean it again when the report is written anew.
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
	rep := Report{Interrupted: w.Interrupted}
	if w.Tool != nil {
		rep.Tool = *w.Tool
	}
	if rep.Findings, err = readFindings(*w.Findings); err != nil {
		return Report{}, err
	}
	if w.Coverage != nil {
		if rep.Coverage, err = readCoverage(*w.Coverage); err != nil {
			return Report{}, err
		}
	}
	return rep, nil
}

// readFindings turns decoded findings into scanner findings: the name
// path_bytes holds restored, and a full key in "secret" moved to Key.
func readFindings(in []jsonFinding) ([]scanner.Finding, error) {
	out := make([]scanner.Finding, len(in))
	for i, jf := range in {
		f := jf.Finding
		p, err := rawPath(f.Path, jf.PathBytes)
		if err != nil {
			return nil, fmt.Errorf("report: finding %d: %w", i+1, err)
		}
		f.Path = p
		f.Key = ""
		if isFullKey(f.Secret) {
			key := f.Secret
			fp := rules.Fingerprint([]byte(key))
			switch {
			case f.Fingerprint == "":
				f.Fingerprint = fp
			case f.Fingerprint != fp:
				// Name the finding by position and redacted key only.
				return nil, fmt.Errorf("report: finding %d (%s): fingerprint does not match its secret", i+1, rules.Redact(key))
			}
			f.Key = key
			f.Secret = rules.Redact(key)
		}
		out[i] = f
	}
	return out, nil
}

// readCoverage restores the names of skipped entries from path_bytes.
func readCoverage(in wireCoverage) (scanner.Coverage, error) {
	c := in.Coverage
	c.Skipped = nil
	if in.Skipped != nil {
		c.Skipped = make([]scanner.Skipped, len(in.Skipped))
	}
	for i, ws := range in.Skipped {
		s := ws.Skipped
		p, err := rawPath(s.Path, ws.PathBytes)
		if err != nil {
			return scanner.Coverage{}, fmt.Errorf("report: skipped entry %d: %w", i+1, err)
		}
		s.Path = p
		c.Skipped[i] = s
	}
	return c, nil
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
