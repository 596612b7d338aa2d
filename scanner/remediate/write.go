package remediate

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/xaiscan/xaiscan/scanner/safetext"
)

// ReplacementSuffix ends every replacement: "xai-...AbCd-REDACTED" says
// what was there (the form the xAI console shows) and that it was purged,
// and is no key, so a scan of the rewritten history finds nothing.
const ReplacementSuffix = "-REDACTED"

// WriteReplaceText writes the git filter-repo replacement file: one
// literal "KEY==>REPLACEMENT" line per key (filter-repo's --replace-text
// syntax; with --replace-message the same file rewrites commit and tag
// messages). It holds the full keys: the caller writes it with mode 0600.
// It returns how many lines it wrote.
func WriteReplaceText(w io.Writer, p Plan) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	for _, k := range p.Keys {
		if k.key == "" {
			continue
		}
		fmt.Fprintf(bw, "%s==>%s%s\n", k.key, k.Secret, ReplacementSuffix)
		n++
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("replacement file: %w", err)
	}
	return n, nil
}

// WriteJSON writes the plan as one JSON object. Every string went through
// the output-safety layer: key-shaped text redacted, the rest exact.
func WriteJSON(w io.Writer, p Plan) error {
	pol := safetext.Policy{}
	data, err := json.MarshalIndent(cleanPlan(p, pol.Exact), "", "  ")
	if err != nil {
		return fmt.Errorf("remediation plan: %w", err)
	}
	if _, err := w.Write(append(safetext.EscapeJSON(data), '\n')); err != nil {
		return fmt.Errorf("remediation plan: %w", err)
	}
	return nil
}

// WriteText writes the plan for people: per key, its exposure and the
// first three steps; then the purge of history, numbered on.
func WriteText(w io.Writer, p Plan) error {
	bw := bufio.NewWriter(w)
	p = cleanPlan(p, safetext.Policy{}.Text)
	if len(p.Keys) == 0 {
		fmt.Fprintln(bw, "No xAI keys found: nothing to remediate.")
		return flush(bw)
	}
	for _, k := range p.Keys {
		writeKey(bw, k)
	}
	fmt.Fprintf(bw, "Then, for the repository (after every key above is disabled):\n")
	for i, s := range p.Purge {
		writeStep(bw, 4+i, s)
	}
	return flush(bw)
}

func writeKey(w *bufio.Writer, k Key) {
	fmt.Fprintf(w, "%s %s", k.Rule, k.Secret)
	if k.Verification != "" {
		fmt.Fprintf(w, "  %s", strings.ToUpper(k.Verification))
	}
	fmt.Fprintf(w, "  (%d location(s))\n", len(k.Locations))
	switch {
	case len(k.Refs) == 0:
		fmt.Fprintln(w, "  exposed by: no ref (unreachable objects, the working tree or the index)")
	case k.Pushed:
		fmt.Fprintf(w, "  PUSHED. exposed by: %s\n", strings.Join(k.Refs, ", "))
	default:
		fmt.Fprintf(w, "  exposed by: %s\n", strings.Join(k.Refs, ", "))
	}
	for i, s := range k.Steps {
		writeStep(w, 1+i, s)
	}
	fmt.Fprintln(w)
}

func writeStep(w *bufio.Writer, n int, s Step) {
	fmt.Fprintf(w, "  %d. %s\n", n, s.Text)
	for _, c := range s.Commands {
		fmt.Fprintf(w, "       %s\n", c)
	}
}

func flush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("remediation plan: %w", err)
	}
	return nil
}

// cleanPlan returns a copy of p with every string passed through clean.
func cleanPlan(p Plan, clean func(string) string) Plan {
	out := Plan{Keys: make([]Key, len(p.Keys)), Purge: cleanSteps(p.Purge, clean)}
	for i, k := range p.Keys {
		c := Key{Rule: clean(k.Rule), Secret: clean(k.Secret), Fingerprint: clean(k.Fingerprint),
			Verification: clean(k.Verification), Refs: cleanList(k.Refs, clean), Pushed: k.Pushed,
			Steps: cleanSteps(k.Steps, clean)}
		for _, l := range k.Locations {
			l.Source, l.Path, l.Commit, l.Object = clean(l.Source), clean(l.Path), clean(l.Commit), clean(l.Object)
			l.Tag, l.Part, l.Encoding, l.Refs = clean(l.Tag), clean(l.Part), clean(l.Encoding), cleanList(l.Refs, clean)
			c.Locations = append(c.Locations, l)
		}
		out.Keys[i] = c
	}
	return out
}

func cleanSteps(ss []Step, clean func(string) string) []Step {
	out := make([]Step, len(ss))
	for i, s := range ss {
		out[i] = Step{Action: clean(s.Action), Text: clean(s.Text), Commands: cleanList(s.Commands, clean)}
	}
	return out
}

func cleanList(l []string, clean func(string) string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = clean(s)
	}
	return out
}
