package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/report"
	"github.com/xaiscan/xaiscan/scanner/revoke"
)

func init() {
	commandNotes["merge"] = `Reads the JSON reports of the shards of one fleet audit ('xaiscan git
--shard K/N -f json') and writes one report, as a single run over the whole
list would have: findings sorted, coverage counts summed, coverage entries
and notes joined (identical ones once). Exit 1 if there is any finding, 2 if
any shard's scan was partial or interrupted, as for the shards themselves.
Keys stay redacted unless the reports hold full keys (written with
--show-secrets) and --show-secrets is given again.`
}

// runMerge is `xaiscan merge REPORT.json...`.
func (a *app) runMerge(ctx context.Context, args []string) int {
	fs := a.newFlagSet("merge")
	var sf scanFlags
	registerOutputFlags(fs, &sf)
	if helped, err := a.parse(fs, "merge", args); helped || err != nil {
		return a.failOr(err)
	}
	if fs.NArg() == 0 {
		return a.fail(usagef("merge: name the JSON reports to merge"))
	}
	// merge acts on nothing; the acting flags keep their defaults.
	sf.act.hookTimeout = revoke.DefaultHookTimeout
	if err := sf.validate(fs); err != nil {
		return a.fail(err)
	}
	res, err := mergeReports(fs.Args())
	if err != nil {
		return a.fail(err)
	}
	return a.finish(ctx, &sf, &actor{flags: &sf.act}, res)
}

// mergeReports reads the reports and joins them into one result.
func mergeReports(names []string) (scanner.Result, error) {
	seen := map[string]bool{}
	owner := map[string]string{} // repository -> the report whose findings hold it
	var results []scanner.Result
	for _, name := range names {
		abs, err := filepath.Abs(name)
		if err != nil {
			return scanner.Result{}, fmt.Errorf("merge: %w", err)
		}
		if seen[abs] {
			return scanner.Result{}, usagef("merge: %s is named twice; its findings would count twice", name)
		}
		seen[abs] = true
		f, err := os.Open(name)
		if err != nil {
			return scanner.Result{}, fmt.Errorf("merge: %w", err)
		}
		rep, err := report.ReadJSON(f)
		f.Close()
		if err != nil {
			return scanner.Result{}, fmt.Errorf("merge: %s: %w", name, err)
		}
		r := rep.Result()
		if err := claimRepositories(owner, name, r.Findings); err != nil {
			return scanner.Result{}, err
		}
		results = append(results, r)
	}
	res := scanner.Merge(results...)
	// Every shard reports what concerns all of them (an organisation that
	// could not be listed): once is enough.
	res.Coverage.Skipped = slices.Compact(res.Coverage.Skipped)
	slices.Sort(res.Coverage.Notes)
	res.Coverage.Notes = slices.Compact(res.Coverage.Notes)
	return res, nil
}

// claimRepositories records the repositories of one report's findings and
// refuses a repository already found in another report: the shards of one
// audit never share a repository, so an overlap means the same shard twice
// (under another name) or shards of different splits, and merging would
// count its findings twice.
func claimRepositories(owner map[string]string, name string, findings []scanner.Finding) error {
	mine := map[string]bool{}
	for _, f := range findings {
		if f.Repository == "" || mine[f.Repository] {
			continue
		}
		if other, ok := owner[f.Repository]; ok {
			return usagef("merge: %s and %s both hold findings of %s: the same shard twice, or shards of different --shard K/N splits; its findings would count twice",
				other, name, f.Repository)
		}
		mine[f.Repository] = true
		owner[f.Repository] = name
	}
	return nil
}
