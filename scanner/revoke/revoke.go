// Package revoke acts on leaked keys: it hands each one to a user's hook
// command (--revoke-hook) or deletes it through the xAI Management API
// (--revoke).
//
// Both work once per distinct key, leave keys verified dead alone, and
// report what they could not do as Failures, which the CLI turns into exit
// status 2. A full key only ever leaves the process on a hook's standard
// input or as the bearer token of a request to a configured xAI endpoint:
// never in a command line, an environment variable, an error, a log line or
// the audit trail.
package revoke

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
	"github.com/xaiscan/xaiscan/scanner/verify"
)

// Outcomes recorded in the audit trail for hooks and revocations.
const (
	OutcomeRevoked = "revoked" // the revoker deleted the key
	OutcomeHandled = "handled" // the hook exited 0
	OutcomeFailed  = "failed"  // see the Failure
	OutcomeSkipped = "skipped" // verified dead: left alone
	OutcomeDryRun  = "dry-run" // --dry-run: would have been revoked
)

// Failure is a key that a hook or the revoker could not handle. It never
// holds the full key.
type Failure struct {
	// Action is audit.ActionHook or audit.ActionRevoke.
	Action string
	// Fingerprint and Secret (the redacted key) say which key.
	Fingerprint string
	Secret      string
	Rule        string
	// Reason says what failed, scrubbed of key-shaped text.
	Reason string
	// ExitStatus is the hook's exit status; -1 if it did not exit on its
	// own (killed on timeout, or never started). Zero for the revoker.
	ExitStatus int
	// HTTPStatus is the status of the revoker's failing request, if any.
	HTTPStatus int
	// StderrTail is the last lines the hook wrote to stderr, scrubbed of
	// key-shaped text.
	StderrTail string
	// Interrupted is set when the key was not handled because the run was
	// cancelled (Ctrl-C): its hook was killed or never started, or its
	// revocation never happened or was cut short.
	Interrupted bool
}

// Error describes the failure on one line (without StderrTail).
func (f Failure) Error() string {
	what := "revoke"
	if f.Action == audit.ActionHook {
		what = "revoke hook"
	}
	if f.Interrupted {
		return fmt.Sprintf("%s: %s not handled (fingerprint %s): %s", what, f.Secret, shortFP(f.Fingerprint), f.Reason)
	}
	return fmt.Sprintf("%s failed for %s (fingerprint %s): %s", what, f.Secret, shortFP(f.Fingerprint), f.Reason)
}

// WriteFailures prints failures for a person: one line each, then the
// hook's stderr tail indented beneath it.
func WriteFailures(w io.Writer, failures []Failure) error {
	for _, f := range failures {
		if _, err := fmt.Fprintf(w, "xaiscan: %s\n", f.Error()); err != nil {
			return fmt.Errorf("writing failures: %w", err)
		}
		if f.StderrTail == "" {
			continue
		}
		for _, line := range strings.Split(strings.TrimRight(f.StderrTail, "\n"), "\n") {
			if _, err := fmt.Fprintf(w, "    | %s\n", line); err != nil {
				return fmt.Errorf("writing failures: %w", err)
			}
		}
	}
	return nil
}

// CountInterrupted returns how many of failures are keys left unhandled
// by an interruption.
func CountInterrupted(failures []Failure) int {
	n := 0
	for _, f := range failures {
		if f.Interrupted {
			n++
		}
	}
	return n
}

func shortFP(fp string) string {
	if len(fp) > 12 {
		return fp[:12]
	}
	return fp
}

// group is one distinct key and its findings.
type group struct {
	key         string // empty when the findings carry no full key
	fingerprint string
	secret      string // redacted
	rule        string
	first       scanner.Finding
	occurrences int
	dead        bool
}

// groupByKey returns the distinct keys of findings in order of first
// appearance. A key counts as dead when any of its findings was verified
// dead (the verifier sets the same state on all of them).
func groupByKey(findings []scanner.Finding) []*group {
	var out []*group
	byFP := map[string]*group{}
	for _, f := range findings {
		fp := f.Fingerprint
		if f.Key != "" {
			fp = rules.Fingerprint([]byte(f.Key))
		}
		g, ok := byFP[fp]
		if !ok {
			g = &group{fingerprint: fp, secret: f.Secret, rule: f.Rule, first: f}
			byFP[fp] = g
			out = append(out, g)
		}
		if g.key == "" && f.Key != "" {
			g.key, g.secret, g.rule = f.Key, rules.Redact(f.Key), ruleOf(f.Key)
		}
		g.occurrences++
		if f.Verification == verify.Dead {
			g.dead = true
		}
	}
	for _, g := range out {
		if g.key == "" {
			g.secret = audit.Scrub(g.secret)
		}
	}
	return out
}

// ruleOf names a key's rule from its shape, which is authoritative.
func ruleOf(key string) string {
	if strings.HasPrefix(key, rules.ManagementPrefix) {
		return rules.ManagementKey
	}
	return rules.APIKey
}

func (g *group) failure(action, reason string) Failure {
	return Failure{
		Action: action, Fingerprint: g.fingerprint, Secret: g.secret, Rule: g.rule,
		Reason: audit.Scrub(reason),
	}
}

func (g *group) entry(action, outcome, detail string) audit.Entry {
	return audit.Entry{
		Fingerprint: g.fingerprint, Secret: g.secret, Rule: g.rule,
		Action: action, Outcome: outcome, Detail: detail,
	}
}

// errNoKey is the reason for a key whose findings carry no full key.
const errNoKey = "the full key is not known: the report was written without --show-secrets"

// maxKeysInput bounds what KeysFromReader reads: keys pasted or piped by a
// person, not a scan target.
const maxKeysInput = 64 << 20

// KeysFromReader reads keys from r (one per line, or embedded in any
// text, as for `xaiscan revoke -`) and returns one finding per occurrence,
// with Key set, Source "stdin" and the line and column where it was found.
func KeysFromReader(r io.Reader) ([]scanner.Finding, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeysInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading keys: %w", err)
	}
	if len(data) > maxKeysInput {
		return nil, fmt.Errorf("reading keys: more than %d MiB of input", maxKeysInput>>20)
	}
	var out []scanner.Finding
	line, lineStart, pos := 1, 0, 0
	rules.Find(data, func(m rules.Match) {
		nl := bytes.Count(data[pos:m.Start], []byte{'\n'})
		if nl > 0 {
			line += nl
			lineStart = bytes.LastIndexByte(data[:m.Start], '\n') + 1
		}
		pos = m.Start
		key := string(data[m.Start:m.End])
		out = append(out, scanner.Finding{
			Rule: m.Rule, Source: scanner.SourceStdin, Line: line, Column: m.Start - lineStart + 1,
			Secret: rules.Redact(key), Fingerprint: rules.Fingerprint([]byte(key)),
			Entropy: m.Entropy, Key: key,
		})
	})
	return out, nil
}
