package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner/report"
)

// Several reports from one run (-o/--output, repeatable):
//
//	-o FILE           the -f report goes to FILE instead of standard output
//	-o FORMAT=FILE    a FORMAT report goes to FILE as well (any number)
//	-o FORMAT=-       the FORMAT report goes to standard output instead of -f's
//
// Standard output carries the -f report (default text) unless a plain
// -o FILE or a FORMAT=- output takes its place. Every file is written
// atomically (report.File) and opened before the scan, so a bad path fails
// at once. Two outputs cannot share a destination.

// stdoutPath names standard output as a destination.
const stdoutPath = "-"

// output is one report destination.
type output struct {
	format string // one of report.Formats
	path   string // stdoutPath for standard output
	// plain is set for -o FILE, whose format is -f's.
	plain bool
	// file is the report file, opened before the scan; nil for stdout.
	file *report.File
}

func (o output) stdout() bool { return o.path == stdoutPath }

// appendValue is a repeatable string flag. Unlike pflag's StringArray it
// always appends, so several flag names (the gitleaks-style aliases) can
// share one list.
type appendValue struct{ list *[]string }

func (v appendValue) Set(s string) error { *v.list = append(*v.list, s); return nil }
func (v appendValue) Type() string       { return "stringArray" }
func (v appendValue) String() string {
	if v.list == nil {
		return ""
	}
	return strings.Join(*v.list, ",")
}

// registerOutput adds -o/--output and its alias --report-path.
func registerOutput(fs *pflag.FlagSet, list *[]string) {
	fs.VarP(appendValue{list}, "output", "o",
		"write the report to `[FORMAT=]FILE` instead of stdout; with FORMAT=, a FORMAT report as well (repeatable; atomic, mode 0600)")
	fs.Var(appendValue{list}, "report-path", "gitleaks-style alias of --output")
	_ = fs.MarkHidden("report-path")
}

// parseOutputs turns the -o values into destinations; format is -f's
// (already canonical).
func parseOutputs(specs []string, format string) ([]output, error) {
	var outs []output
	plain := 0
	for _, spec := range specs {
		o, err := parseOutput(spec, format)
		if err != nil {
			return nil, err
		}
		if o.plain {
			if plain++; plain > 1 {
				return nil, usagef("-o FILE given twice; name each further report as FORMAT=FILE (-o json=report.json)")
			}
		}
		outs = append(outs, o)
	}
	if !hasStdout(outs) && plain == 0 {
		outs = append(outs, output{format: format, path: stdoutPath})
	}
	seen := map[string]bool{}
	for _, o := range outs {
		if seen[o.path] {
			what := o.path
			if o.stdout() {
				what = "standard output"
			}
			return nil, usagef("two reports would be written to %s", what)
		}
		seen[o.path] = true
	}
	return outs, nil
}

// parseOutput parses one -o value: FORMAT=FILE when the part before "=" is
// a format name, FILE otherwise. A word that is not a format before "=" is
// an error rather than a file name (jsn=report.json is a typo); a file
// whose name has "=" in it is written ./name=x.
func parseOutput(spec, format string) (output, error) {
	if spec == "" {
		return output{}, usagef("--output: empty FILE")
	}
	name, path, ok := strings.Cut(spec, "=")
	if !ok || !isWord(name) {
		return output{format: format, path: spec, plain: true}, nil
	}
	f, known := report.ParseFormat(name)
	if !known {
		return output{}, usagef("--output %s: unknown format %q (want %s; a file named with \"=\" is written ./%s)",
			spec, name, strings.Join(report.Formats, ", "), spec)
	}
	if path == "" {
		return output{}, usagef("--output %s: no FILE after %q", spec, name+"=")
	}
	return output{format: f, path: path}, nil
}

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func hasStdout(outs []output) bool {
	for _, o := range outs {
		if o.stdout() {
			return true
		}
	}
	return false
}

// openOutputs creates the report files (their temporary files), if not
// done yet, so that a bad path fails before the scan.
func (sf *scanFlags) openOutputs() error {
	for i := range sf.outs {
		o := &sf.outs[i]
		if o.stdout() || o.file != nil {
			continue
		}
		f, err := report.CreateFile(o.path)
		if err != nil {
			return fmt.Errorf("cannot write the report: %w", err)
		}
		o.file = f
	}
	return nil
}

// abortOutputs removes the temporary files of reports not written.
func (sf *scanFlags) abortOutputs() {
	for _, o := range sf.outs {
		o.file.Abort()
	}
}

// textOnStdout reports whether standard output gets the text report.
func (sf *scanFlags) textOnStdout() bool {
	for _, o := range sf.outs {
		if o.stdout() && o.format == "text" {
			return true
		}
	}
	return false
}

// filePaths lists the report files, for messages.
func (sf *scanFlags) filePaths() []string {
	var ps []string
	for _, o := range sf.outs {
		if !o.stdout() {
			ps = append(ps, o.path)
		}
	}
	return ps
}

// registerFormat adds -f/--format and its alias --report-format.
func registerFormat(fs *pflag.FlagSet, format *string) {
	fs.StringVarP(format, "format", "f", "text", "report `FORMAT`: "+strings.Join(report.Formats, ", ")+" (any case)")
	fs.StringVar(format, "report-format", "text", "gitleaks-style alias of --format")
	_ = fs.MarkHidden("report-format")
}
