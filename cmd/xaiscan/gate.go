package main

import (
	"fmt"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/verify"
)

// --fail-on values.
const (
	failOnAny  = "any"  // any key found exits 1 (the default)
	failOnLive = "live" // only live keys, and keys that could not be checked
)

// validateFailOn checks --fail-on. "live" needs to know which keys are
// live, so it turns --verify on.
func (sf *scanFlags) validateFailOn() error {
	switch sf.failOn {
	case "", failOnAny:
		sf.failOn = failOnAny
	case failOnLive:
		sf.act.verify = true
	default:
		return usagef("--fail-on must be %s or %s, not %q", failOnAny, failOnLive, sf.failOn)
	}
	return nil
}

// findingsCode is the exit code the findings alone call for: 1 when a
// finding fails the gate, else 0. With --fail-on live a key fails unless
// xAI said it is dead: a live key, and one that could not be checked
// (unknown, or not checked at all because the run was cut short), fail.
// Exit 2 (partial scan, failed hook, ...) is decided by the caller and
// wins.
func (a *app) findingsCode(sf *scanFlags, fs []scanner.Finding) int {
	if len(fs) == 0 {
		return exitClean
	}
	if sf.failOn != failOnLive {
		return exitFindings
	}
	dead := map[string]bool{}
	for _, f := range fs {
		if f.Verification != verify.Dead {
			return exitFindings
		}
		dead[f.Fingerprint] = true
	}
	if !sf.quiet {
		a.warnf("%d key(s) found, all dead (revoked, disabled or blocked): exit 0 with --fail-on live", len(dead))
	}
	return exitClean
}

// coverageNotes are the notes that keep suppressions from being silent:
// how many keys allow markers hid, and, in a scan of everything, the
// ignore and baseline entries that matched nothing. res.Findings are the
// findings before the known keys are filtered out.
func (sf *scanFlags) coverageNotes(k knownKeys, res scanner.Result) []string {
	var notes []string
	if n := res.Coverage.AllowMarked; n > 0 {
		notes = append(notes, fmt.Sprintf("%d key(s) not reported: an allow marker (%s) is on their line; --no-allow-markers reports them",
			n, strings.Join(rules.AllowMarkers[:2], ", ")+", ..."))
	}
	if sf.scansEverything() && k.f != nil {
		notes = append(notes, k.f.Unmatched(res.Findings)...)
	}
	return notes
}

// scansEverything reports whether the scan reads all that ignore and
// baseline entries can be about, so that an entry matching nothing is
// stale: a directory, a whole history or an audit; not a range, a branch,
// a staged change, a push or standard input.
func (sf *scanFlags) scansEverything() bool {
	switch sf.kind {
	case kindAudit, kindDir, kindGit:
		return sf.rangeSpec == "" && sf.branch == ""
	}
	return false
}
