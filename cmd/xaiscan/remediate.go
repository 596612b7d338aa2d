package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gitsource"
	"github.com/xaiscan/xaiscan/scanner/remediate"
	"github.com/xaiscan/xaiscan/scanner/report"
)

func init() {
	commandNotes["remediate"] = `Audits REPO (its whole history and the files git would commit) and writes
the response plan per distinct key: the refs that expose it (pushed ones
first), whether it is live (--verify), and the steps in order: disable or
delete the key in the xAI console (or --revoke), create a new key, update
the applications; then for the repository: rewrite history with git
filter-repo, force-push the listed refs, expire reflogs and gc, and what
only the hosting service can purge (pull-request refs, forks, caches).

--replace-text FILE writes the file for
  git filter-repo --force --replace-text FILE --replace-message FILE
one "KEY==>xai-...LAST4-REDACTED" line per key. It holds the full keys: it
is written atomically with mode 0600; delete it after the rewrite.`
}

// runRemediate is `xaiscan remediate [REPO]` (DESIGN §7).
func (a *app) runRemediate(ctx context.Context, args []string) int {
	var replaceText string
	sf, pos, code, done := a.parseScan("remediate", kindAudit, args, 0, 1, "takes one REPO", func(fs *pflag.FlagSet) {
		fs.StringVar(&replaceText, "replace-text", "", "write git filter-repo's replacement `FILE` (full keys; mode 0600)")
	})
	if done {
		return code
	}
	if sf.format == "sarif" {
		return a.fail(usagef("remediate: --format is text or json"))
	}
	if sf.rangeSpec != "" || sf.branch != "" {
		return a.fail(usagef("remediate: --range and --branch do not apply: a leak is purged from the whole history"))
	}
	repo := firstOr(pos, ".")
	loc, err := gitsource.Discover(repo, a.getenv)
	if err != nil {
		return a.fail(err)
	}
	history, err := a.historySource(loc, sf)
	if err != nil {
		return a.fail(err)
	}
	sources := []scanner.Source{insideNote(loc, repo), history}
	if loc.WorkTree != "" {
		sources = append(sources, worktreeSource(loc, sf), submoduleNotes(loc.WorkTree))
	}
	return a.remediate(ctx, sf, loc.Root(), sources, history.Remotes(), replaceText)
}

// remediate scans, verifies and revokes as asked, then writes the plan
// and, with --replace-text, the replacement file.
func (a *app) remediate(ctx context.Context, sf *scanFlags, root string, sources []scanner.Source, remotes []gitsource.Remote, replaceText string) int {
	actor, err := a.newActor(ctx, &sf.act)
	if err != nil {
		return a.fail(err)
	}
	defer actor.close(a)
	res, err := a.auditFor(ctx, sf, root, sources)
	if err != nil {
		return a.fail(err)
	}
	actor.verify(ctx, res.Findings)
	failed := false
	var revoked map[string]string
	if actor.revoker != nil || actor.flags.revokeHook != "" {
		failed = actor.act(ctx, a, res.Findings)
		revoked = revokedOutcomes(res.Findings, failed)
	}
	in := remediate.Input{Findings: res.Findings, Revoked: revoked, ReplaceText: replaceText}
	for _, r := range remotes {
		in.Remotes = append(in.Remotes, remediate.Remote{Name: r.Name, URL: r.URL})
	}
	p := remediate.Build(in)
	if replaceText != "" && len(p.Keys) > 0 {
		if err := a.writeReplaceText(replaceText, p); err != nil {
			return a.fail(err)
		}
	}
	if err := a.writePlan(sf, p); err != nil {
		return a.fail(err)
	}
	a.echoErrors(res)
	return remediateCode(ctx, res, failed)
}

// auditFor runs the audit's sources and filters like execute does
// (working-tree copies of history findings, config and baseline).
func (a *app) auditFor(ctx context.Context, sf *scanFlags, root string, sources []scanner.Source) (scanner.Result, error) {
	known, err := loadKnown(root, sf.config, sf.baseline)
	if err != nil {
		return scanner.Result{}, err
	}
	opts := sf.engineOptions()
	opts.Progress = a.progress(sf, "objects")
	eng := scanner.New(opts)
	var results []scanner.Result
	for _, src := range sources {
		res, err := eng.Run(ctx, src)
		if err != nil {
			res.Coverage.Skipped = append(res.Coverage.Skipped, scanner.ErrorAt(displayRoot(root), oneLine(err)))
		}
		results = append(results, res)
		if res.Interrupted {
			break
		}
	}
	res := scanner.Merge(results...)
	res.Findings = dropShadowed(res.Findings)
	res.Findings, res.Coverage = known.apply(res.Findings, res.Coverage)
	return res, nil
}

// revokedOutcomes is what --revoke (or the hook) did, per key, for the
// plan's first step; details are in the audit trail.
func revokedOutcomes(fs []scanner.Finding, failed bool) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		switch {
		case f.Verification == "dead":
		case failed:
			out[f.Fingerprint] = "not every key could be revoked (see the messages above)"
		default:
			out[f.Fingerprint] = "revoked"
		}
	}
	return out
}

// writeReplaceText writes the replacement file atomically, mode 0600,
// and says on stderr that it holds full keys.
func (a *app) writeReplaceText(path string, p remediate.Plan) error {
	f, err := report.CreateFile(path)
	if err != nil {
		return fmt.Errorf("--replace-text: %w", err)
	}
	n, err := remediate.WriteReplaceText(f, p)
	if err == nil {
		err = f.Commit()
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("--replace-text: %w", err)
	}
	a.warnf("wrote %d replacement line(s) to %s: it holds the FULL keys (mode 0600); delete it after the rewrite", n, path)
	return nil
}

// writePlan writes the plan to stdout or -o.
func (a *app) writePlan(sf *scanFlags, p remediate.Plan) error {
	format, dest := sf.format, ""
	if len(sf.outs) > 0 {
		// The plan is one document: the first -o names where it goes.
		format = sf.outs[0].format
		if !sf.outs[0].stdout() {
			dest = sf.outs[0].path
		}
	}
	write := remediate.WriteText
	if format == "json" {
		write = remediate.WriteJSON
	}
	if dest == "" {
		return write(a.stdout, p)
	}
	f, err := report.CreateFile(dest)
	if err != nil {
		return fmt.Errorf("cannot write the plan: %w", err)
	}
	if err := write(f, p); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// remediateCode is the exit code: as for a scan (DESIGN §3).
func remediateCode(ctx context.Context, res scanner.Result, failed bool) int {
	switch {
	case res.Coverage.Partial() || failed || res.Interrupted || errors.Is(ctx.Err(), context.Canceled):
		return exitError
	case len(res.Findings) > 0:
		return exitFindings
	}
	return exitClean
}
