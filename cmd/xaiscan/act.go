package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
	"github.com/xaiscan/xaiscan/scanner/report"
	"github.com/xaiscan/xaiscan/scanner/revoke"
	"github.com/xaiscan/xaiscan/scanner/verify"
)

// actFlags are the flags that act on findings (DESIGN §5).
type actFlags struct {
	verify      bool
	revokeHook  string
	revoke      bool
	dryRun      bool
	auditLog    string
	hookTimeout time.Duration
}

// register adds the acting flags. The standalone revoke command always
// revokes, so it has no --revoke flag.
func (af *actFlags) register(fs *pflag.FlagSet, standaloneRevoke bool) {
	fs.BoolVar(&af.verify, "verify", false, "check whether each key is live (one request per key to the xAI API)")
	fs.StringVar(&af.revokeHook, "revoke-hook", "", "run `CMD` (via the shell) once per key after the report; the key arrives as JSON on its stdin")
	if !standaloneRevoke {
		fs.BoolVar(&af.revoke, "revoke", false, "revoke each key with the xAI Management API (needs XAI_MANAGEMENT_API_KEY)")
	}
	fs.BoolVar(&af.dryRun, "dry-run", false, "with --revoke: show what would be revoked, revoke nothing")
	fs.StringVar(&af.auditLog, "audit-log", "", "append the audit trail of verifications and revocations (JSON lines) to `FILE`; - for stderr")
	fs.DurationVar(&af.hookTimeout, "hook-timeout", revoke.DefaultHookTimeout, "time limit for one run of the revoke hook")
}

func (af *actFlags) validate() error {
	if af.dryRun && !af.revoke {
		return usagef("--dry-run only applies to --revoke")
	}
	if af.hookTimeout <= 0 {
		return usagef("--hook-timeout must be positive")
	}
	return nil
}

func (af *actFlags) any() bool { return af.verify || af.revoke || af.revokeHook != "" }

// actor carries the verifier, hook and revoker of one run.
type actor struct {
	flags    *actFlags
	log      *audit.Log
	verifier *verify.Verifier
	revoker  *revoke.Revoker
}

// newActor prepares the acting steps before any scanning, so a missing or
// rejected management key fails in a second, not after a long audit.
func (a *app) newActor(ctx context.Context, af *actFlags) (*actor, error) {
	ac := &actor{flags: af}
	if !af.any() {
		return ac, nil
	}
	cfg := verify.ConfigFromEnv()
	cfg.UserAgent = "xaiscan/" + currentBuild().reportVersion()
	// The trail is kept only where asked for: on stderr it would bury the
	// report and the failures among JSON lines nobody keeps.
	switch af.auditLog {
	case "":
	case "-":
		ac.log = audit.New(a.stderr, nil)
	default:
		log, err := audit.Open(af.auditLog, nil)
		if err != nil {
			return nil, fmt.Errorf("opening audit log: %w", err)
		}
		ac.log = log
	}
	cfg.Audit = ac.log
	if af.verify {
		v, err := verify.New(cfg)
		if err != nil {
			ac.close(a)
			return nil, fmt.Errorf("--verify: %w", err)
		}
		ac.verifier = v
	}
	if af.revoke {
		r, err := revoke.NewRevoker(cfg, a.getenv(revoke.EnvMgmtKey), af.dryRun)
		if err != nil {
			ac.close(a)
			return nil, err
		}
		r.Out = a.stderr
		r.UseVerifier(ac.verifier)
		if err := r.Preflight(ctx); err != nil {
			ac.close(a)
			return nil, fmt.Errorf("--revoke: %w", err)
		}
		ac.revoker = r
	}
	return ac, nil
}

// verify classifies every finding's key, if --verify was given.
func (ac *actor) verify(ctx context.Context, findings []scanner.Finding) {
	if ac.verifier != nil && len(findings) > 0 {
		// The only error is cancellation; the findings then stay unknown
		// and the interrupted scan exits 2 anyway.
		_ = ac.verifier.Verify(ctx, findings)
	}
}

// act runs the revoke hook and the revoker after the report is written.
// It prints failures and reports whether any step failed. An interrupted
// run (Ctrl-C) counts as failed: the keys it did not verify, hand to the
// hook or revoke are listed, and the exit code is 2. Nothing here writes
// to stdout: a closed stdout (`| head`) cannot stop a key being handed
// over.
func (ac *actor) act(ctx context.Context, a *app, findings []scanner.Finding) bool {
	var hookFails, revokeFails []revoke.Failure
	if ac.flags.revokeHook != "" && len(findings) > 0 {
		h := &revoke.Hook{Command: ac.flags.revokeHook, Timeout: ac.flags.hookTimeout, Output: a.stderr, Audit: ac.log}
		hookFails = h.Run(ctx, findings)
	}
	if ac.revoker != nil && len(findings) > 0 {
		revokeFails = ac.revoker.Revoke(ctx, findings)
	}
	fails := append(slices.Clip(hookFails), revokeFails...)
	if len(fails) > 0 {
		for i := range fails {
			// A reason can quote a server's answer: keep it on its line.
			fails[i].Reason = a.policy().Text(fails[i].Reason)
		}
		_ = revoke.WriteFailures(a.stderr, fails)
	}
	if ctx.Err() != nil && ac.flags.any() {
		ac.reportInterrupted(a, findings, hookFails, revokeFails)
		return true
	}
	return len(fails) > 0
}

// reportInterrupted says, on one line, what an interruption left undone.
func (ac *actor) reportInterrupted(a *app, findings []scanner.Finding, hookFails, revokeFails []revoke.Failure) {
	var parts []string
	if n := notVerified(findings); n > 0 {
		parts = append(parts, fmt.Sprintf("%d key(s) not verified", n))
	}
	if n := revoke.CountInterrupted(hookFails); n > 0 {
		parts = append(parts, fmt.Sprintf("%d key(s) not handled by the revoke hook", n))
	}
	if n := revoke.CountInterrupted(revokeFails); n > 0 {
		parts = append(parts, fmt.Sprintf("%d key(s) not revoked", n))
	}
	if len(parts) == 0 {
		a.warnf("interrupted")
		return
	}
	a.warnf("interrupted: %s", strings.Join(parts, ", "))
}

// notVerified counts the distinct keys whose verification an interruption
// cut short.
func notVerified(findings []scanner.Finding) int {
	seen := map[string]bool{}
	for _, f := range findings {
		if r, _ := f.VerificationDetail["reason"].(string); r == verify.ReasonInterrupted {
			seen[f.Fingerprint] = true
		}
	}
	return len(seen)
}

func (ac *actor) close(a *app) {
	if ac.log == nil {
		return
	}
	if err := ac.log.Close(); err != nil {
		a.warnf("audit log: %v", err)
	}
	ac.log = nil
}

// readSavedFindings loads the findings of `xaiscan verify|revoke ARG`: a
// JSON report file, or "-" for standard input holding either a JSON report
// or plain text with keys in it.
func (a *app) readSavedFindings(arg string) ([]scanner.Finding, error) {
	var data []byte
	var err error
	name := arg
	if arg == "-" {
		name = "standard input"
		data, err = io.ReadAll(io.LimitReader(a.stdin, 256<<20))
	} else {
		data, err = os.ReadFile(arg)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		rep, err := report.ReadJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		missing := 0
		for _, f := range rep.Findings {
			if f.Key == "" {
				missing++
			}
		}
		if missing > 0 {
			a.warnf("%s: %d finding(s) carry only redacted keys; rescan with --show-secrets to act on them", name, missing)
		}
		return rep.Findings, nil
	}
	if arg != "-" {
		return nil, fmt.Errorf("reading %s: not an xaiscan JSON report", name)
	}
	fs, err := revoke.KeysFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return fs, nil
}

// runVerify is `xaiscan verify REPORT.json|-`: classify saved keys and
// write the report again with the verdicts. Exit 1 if any key is live, 2
// if any could not be decided (and none is live), 0 if all are dead.
func (a *app) runVerify(ctx context.Context, args []string) int {
	fs := a.newFlagSet("verify")
	var sf scanFlags
	registerOutputFlags(fs, &sf)
	fs.StringVar(&sf.act.revokeHook, "revoke-hook", "", "run `CMD` once per live key, as in a scan")
	fs.StringVar(&sf.act.auditLog, "audit-log", "", "append the audit trail (JSON lines) to `FILE`; - for stderr")
	fs.DurationVar(&sf.act.hookTimeout, "hook-timeout", revoke.DefaultHookTimeout, "time limit for one run of the revoke hook")
	if helped, err := a.parse(fs, "verify", args); helped || err != nil {
		return a.failOr(err)
	}
	if fs.NArg() != 1 {
		return a.fail(usagef("verify: want one REPORT.json or - (got %d arguments)", fs.NArg()))
	}
	if err := sf.validate(fs); err != nil {
		return a.fail(err)
	}
	sf.act.verify = true
	findings, err := a.readSavedFindings(fs.Arg(0))
	if err != nil {
		return a.fail(err)
	}
	actor, err := a.newActor(ctx, &sf.act)
	if err != nil {
		return a.fail(err)
	}
	defer actor.close(a)
	res := scanner.Result{Findings: findings, Coverage: scanner.Coverage{Skipped: []scanner.Skipped{}}}
	actor.verify(ctx, res.Findings)
	res.Interrupted = ctx.Err() != nil
	// A report that could not be delivered has been reported; the hook
	// still gets every live key, and the exit code is 2.
	reported := a.writeReport(&sf, res) == nil
	failed := actor.act(ctx, a, res.Findings) || !reported
	code := exitClean
	for _, f := range res.Findings {
		switch f.Verification {
		case verify.Live:
			code = exitFindings
		case verify.Unknown:
			if code == exitClean {
				code = exitError
			}
		}
	}
	if failed {
		code = exitError
	}
	return code
}

// runRevoke is `xaiscan revoke REPORT.json|-`: revoke saved keys with the
// built-in revoker (or hand them to --revoke-hook instead).
func (a *app) runRevoke(ctx context.Context, args []string) int {
	fs := a.newFlagSet("revoke")
	var sf scanFlags
	registerOutputFlags(fs, &sf)
	sf.act.register(fs, true)
	if helped, err := a.parse(fs, "revoke", args); helped || err != nil {
		return a.failOr(err)
	}
	if fs.NArg() != 1 {
		return a.fail(usagef("revoke: want one REPORT.json or - (got %d arguments)", fs.NArg()))
	}
	// Without a hook, revoking is the point of this command.
	sf.act.revoke = sf.act.revokeHook == ""
	if err := sf.validate(fs); err != nil {
		return a.fail(err)
	}
	findings, err := a.readSavedFindings(fs.Arg(0))
	if err != nil {
		return a.fail(err)
	}
	// A verdict saved in the report may be stale (or edited): never let it
	// keep a key from being revoked. --verify asks afresh.
	for i := range findings {
		findings[i].Verification = ""
		findings[i].VerificationDetail = nil
	}
	actor, err := a.newActor(ctx, &sf.act)
	if err != nil {
		return a.fail(err)
	}
	defer actor.close(a)
	actor.verify(ctx, findings)
	if failed := actor.act(ctx, a, findings); failed {
		return exitError
	}
	return exitClean
}

// registerOutputFlags adds the report flags the standalone commands share
// with scans.
func registerOutputFlags(fs *pflag.FlagSet, sf *scanFlags) {
	sf.workers = 1
	registerFormat(fs, &sf.format)
	registerOutput(fs, &sf.outputs)
	fs.BoolVar(&sf.showSecrets, "show-secrets", false, "print full keys instead of the redacted form")
	fs.BoolVar(&sf.noColor, "no-color", false, "no colour in text output (also NO_COLOR)")
	fs.BoolVarP(&sf.quiet, "quiet", "q", false, "print findings and errors only")
}

// failOr returns 0 after --help, or the usage error's code.
func (a *app) failOr(err error) int {
	if err == nil {
		return exitClean
	}
	return a.fail(err)
}
