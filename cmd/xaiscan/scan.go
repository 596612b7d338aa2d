package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/archive"
	"github.com/xaiscan/xaiscan/scanner/decode"
	"github.com/xaiscan/xaiscan/scanner/report"
)

// kind says which flag groups a scanning command accepts.
type kind int

const (
	kindAudit kind = iota
	kindDir
	kindGit
	kindStaged
	kindPrePush
	kindStdin
)

// scanFlags are the flags shared by the scanning commands (DESIGN §2).
type scanFlags struct {
	format, output string
	showSecrets    bool
	noColor, quiet bool
	baseline       string
	config         string
	workers        int
	noDecode       bool
	noArchives     bool
	archiveDepth   int
	followSymlinks bool
	rangeSpec      string
	branch         string
	stdinName      string
	noProgress     bool
	act            actFlags
	maxDecoded     sizeValue
	maxFileSize    sizeValue
	exclude        globList
}

func (sf *scanFlags) register(fs *pflag.FlagSet, k kind) {
	fs.StringVarP(&sf.format, "format", "f", "text", "report format: text, json or sarif")
	fs.StringVarP(&sf.output, "output", "o", "", "write the report to `FILE` (created with mode 0600) instead of stdout")
	fs.BoolVar(&sf.showSecrets, "show-secrets", false, "print full keys instead of the redacted xai-...LAST4 form")
	fs.BoolVar(&sf.noColor, "no-color", false, "no colour in text output (also NO_COLOR)")
	fs.BoolVarP(&sf.quiet, "quiet", "q", false, "print findings and errors only")
	fs.StringVar(&sf.baseline, "baseline", "", "JSON report `FILE` of known keys not to report again")
	fs.StringVar(&sf.config, "config", "", "config `FILE` (default .xaiscan.toml in the scanned root, if present)")
	fs.IntVarP(&sf.workers, "workers", "j", runtime.NumCPU(), "number of files or objects scanned in parallel")
	fs.BoolVar(&sf.noDecode, "no-decode", false, "do not look for base64- and UTF-16-encoded keys")
	fs.BoolVar(&sf.noArchives, "no-archives", false, "do not open .gz, .zip, .tar and .tar.gz files")
	fs.IntVar(&sf.archiveDepth, "archive-depth", archive.DefaultMaxDepth, "how deep to open archives nested in archives (at most 8)")
	switch k {
	case kindAudit, kindDir:
		fs.BoolVar(&sf.followSymlinks, "follow-symlinks", false, "follow symbolic links met while walking directories")
	}
	switch k {
	case kindAudit, kindGit:
		fs.StringVar(&sf.rangeSpec, "range", "", "history: only what commits in `A..B` introduced (B reachable, A not)")
		fs.StringVar(&sf.branch, "branch", "", "history: only commits reachable from `REF`")
	}
	if k == kindStdin {
		fs.StringVar(&sf.stdinName, "stdin-name", "-", "`PATH` to show in reports for standard input")
	}
	fs.BoolVar(&sf.noProgress, "no-progress", false, "no progress line on a terminal")
	sf.maxDecoded = scanner.DefaultMaxDecodedBytes
	fs.Var(&sf.maxDecoded, "max-decoded-bytes", "budget of bytes decoded from one file or object, all nested archives included")
	fs.Var(&sf.exclude, "exclude", "do not read paths matching `GLOB` (gitignore-like, ** for any depth; repeatable); in history, drop findings there")
	if k == kindAudit || k == kindDir {
		fs.Var(&sf.maxFileSize, "max-file-size", "do not read files larger than `SIZE` (e.g. 100MiB; default: no limit)")
	}
	sf.act.register(fs, false)
}

// parseScan parses the flags and arguments of a scanning command of kind
// k and validates them. It accepts between min and max positional
// arguments (max < 0: any number); wrongArgs explains the rule in the
// usage error. extra, if set, registers command-specific flags. With
// done set the command must return code (help was shown, or the
// invocation was wrong).
func (a *app) parseScan(name string, k kind, args []string, min, max int, wrongArgs string, extra func(*pflag.FlagSet)) (sf *scanFlags, pos []string, code int, done bool) {
	fs := a.newFlagSet(name)
	sf = &scanFlags{}
	sf.register(fs, k)
	if extra != nil {
		extra(fs)
	}
	if helped, err := a.parse(fs, name, args); helped || err != nil {
		return nil, nil, a.failOr(err), true
	}
	if n := fs.NArg(); n < min || (max >= 0 && n > max) {
		return nil, nil, a.fail(usagef("%s: %s", name, wrongArgs)), true
	}
	if err := sf.validate(fs); err != nil {
		return nil, nil, a.fail(err), true
	}
	return sf, fs.Args(), 0, false
}

// firstOr returns the first positional argument, or def.
func firstOr(pos []string, def string) string {
	if len(pos) > 0 {
		return pos[0]
	}
	return def
}

// validate checks flag values before any work starts.
func (sf *scanFlags) validate(fs *pflag.FlagSet) error {
	if !slices.Contains(report.Formats, sf.format) {
		return usagef("unknown format %q (want text, json or sarif)", sf.format)
	}
	if sf.workers < 1 {
		return usagef("--workers must be at least 1, not %d", sf.workers)
	}
	if sf.archiveDepth < 0 || sf.archiveDepth > scanner.MaxNesting {
		return usagef("--archive-depth must be between 0 and %d", scanner.MaxNesting)
	}
	if sf.rangeSpec != "" && sf.branch != "" {
		return usagef("--range and --branch cannot be used together")
	}
	return sf.act.validate()
}

// engineOptions turns the flags into engine options.
func (sf *scanFlags) engineOptions() scanner.Options {
	dets := []scanner.Detector{scanner.Plain{}}
	if !sf.noDecode {
		dets = append(dets, decode.Detectors()...)
	}
	o := scanner.Options{Workers: sf.workers, Detectors: dets, MaxDecodedBytes: int64(sf.maxDecoded)}
	if len(sf.exclude) > 0 {
		o.Exclude = sf.exclude.match
	}
	if !sf.noArchives && sf.archiveDepth > 0 {
		o.Expander = archive.New(archive.Options{MaxDepth: sf.archiveDepth})
	}
	return o
}

// plan is what a scanning command hands to execute: the sources to run
// one after the other and the root that config files are looked up in.
type plan struct {
	root    string
	sources []scanner.Source
	// progressNoun names the items in progress output ("files", "objects").
	progressNoun string
	// history and working tree together: a working-tree finding that the
	// history already reports, unchanged and still at HEAD, is the same
	// leak; report it once.
	dedupeWorktree bool
}

// execute is the pipeline every scanning command shares: prepare the
// acting steps (so a bad management key fails before a long scan), load
// known keys, scan, filter, verify, write the report, then run hooks and
// the revoker. It returns the exit code.
func (a *app) execute(ctx context.Context, sf *scanFlags, p plan) int {
	actor, err := a.newActor(ctx, &sf.act)
	if err != nil {
		return a.fail(err)
	}
	defer actor.close(a)

	known, err := loadKnown(p.root, sf.config, sf.baseline)
	if err != nil {
		return a.fail(err)
	}

	opts := sf.engineOptions()
	progress := a.progress(sf, p.progressNoun)
	opts.Progress = progress
	eng := scanner.New(opts)
	var results []scanner.Result
	for _, src := range p.sources {
		res, err := eng.Run(ctx, src)
		if err != nil {
			// The source stopped early; report what was read and mark the
			// scan partial rather than dropping the findings.
			res.Coverage.Skipped = append(res.Coverage.Skipped,
				scanner.Skipped{Path: displayRoot(p.root), Reason: oneLine(err), Kind: scanner.KindError})
		}
		results = append(results, res)
		if res.Interrupted {
			break
		}
	}
	res := scanner.Merge(results...)
	if p.dedupeWorktree {
		res.Findings = dropShadowed(res.Findings)
	}
	res.Findings, res.Coverage = known.apply(res.Findings, res.Coverage)

	return a.finish(ctx, sf, actor, res)
}

// finish verifies, writes the report, acts on the findings and computes
// the exit code. The standalone verify and revoke commands share it.
func (a *app) finish(ctx context.Context, sf *scanFlags, actor *actor, res scanner.Result) int {
	actor.verify(ctx, res.Findings)
	if err := a.writeReport(sf, res); err != nil {
		return a.fail(err)
	}
	failed := actor.act(ctx, a, res.Findings)

	code := exitClean
	if len(res.Findings) > 0 {
		code = exitFindings
	}
	if res.Interrupted {
		a.warnf("interrupted: the scan is incomplete")
		code = exitError
	}
	if res.Coverage.Partial() {
		code = exitError
	}
	if failed {
		code = exitError
	}
	return code
}

// writeReport writes the report to stdout or --output. Read errors are
// also printed to stderr, one line each, unless the text report on the
// terminal already shows them.
func (a *app) writeReport(sf *scanFlags, res scanner.Result) error {
	var w io.Writer = a.stdout
	var f *os.File
	if sf.output != "" && sf.output != "-" {
		var err error
		f, err = os.OpenFile(sf.output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
		// An existing file keeps its mode on open: a report that may hold
		// secrets must not stay world-readable.
		if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
			f.Close()
			return fmt.Errorf("writing report: %w", err)
		}
		w = f
	}
	ro := report.Options{
		ShowSecrets: sf.showSecrets,
		Color:       f == nil && sf.format == "text" && a.colorAllowed(sf) && isTerminal(a.stdout),
		Version:     version,
		Quiet:       sf.quiet,
	}
	err := report.Write(w, sf.format, res, ro)
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s report: %w", sf.format, err)
	}
	if f != nil || sf.format != "text" {
		shown := 0
		for _, s := range res.Coverage.Skipped {
			if !s.IsError() {
				continue
			}
			if shown == maxErrorLines {
				a.warnf("... and more paths that could not be read (see the report's coverage.skipped)")
				break
			}
			a.warnf("%s: %s", s.Path, s.Reason)
			shown++
		}
		if n := len(res.Findings); n > 0 && !sf.quiet && f != nil {
			a.warnf("%d finding(s) written to %s", n, sf.output)
		}
	}
	return nil
}

// maxErrorLines bounds the unreadable paths echoed to stderr; the report
// itself lists them all.
const maxErrorLines = 20

func (a *app) colorAllowed(sf *scanFlags) bool {
	return !sf.noColor && a.getenv("NO_COLOR") == ""
}

// progress returns a progress printer for a terminal stderr, or nil. It
// stays silent for the first second so quick scans (pre-commit) print
// nothing extra.
func (a *app) progress(sf *scanFlags, noun string) func(scanner.Progress) {
	if sf.quiet || sf.noProgress || !isTerminal(a.stderr) {
		return nil
	}
	if noun == "" {
		noun = "items"
	}
	shown := false
	return func(p scanner.Progress) {
		if p.Final {
			if shown {
				fmt.Fprint(a.stderr, "\r\033[K")
			}
			return
		}
		if p.Elapsed < time.Second {
			return
		}
		shown = true
		mbps := float64(p.Bytes) / 1e6 / p.Elapsed.Seconds()
		if p.Expected > 0 {
			fmt.Fprintf(a.stderr, "\r\033[Kscanning: %d/%d %s, %.0f MB, %.0f MB/s", p.Done, p.Expected, noun, float64(p.Bytes)/1e6, mbps)
		} else {
			fmt.Fprintf(a.stderr, "\r\033[Kscanning: %d %s, %.0f MB, %.0f MB/s", p.Done, noun, float64(p.Bytes)/1e6, mbps)
		}
	}
}

func displayRoot(root string) string {
	if root == "" {
		return "."
	}
	return filepath.ToSlash(root)
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// dropShadowed removes working-tree findings that repeat a history finding
// of the same key at the same path and position that is still at HEAD:
// the file is simply the checked-out commit.
func dropShadowed(fs []scanner.Finding) []scanner.Finding {
	type spot struct {
		fp, path     string
		line, column int
	}
	atHead := map[spot]bool{}
	for _, f := range fs {
		if f.Source == scanner.SourceGit && f.AtHead != nil && *f.AtHead {
			atHead[spot{f.Fingerprint, f.Path, f.Line, f.Column}] = true
		}
	}
	if len(atHead) == 0 {
		return fs
	}
	kept := fs[:0:0]
	for _, f := range fs {
		if f.Source == scanner.SourceFile && atHead[spot{f.Fingerprint, f.Path, f.Line, f.Column}] {
			continue
		}
		kept = append(kept, f)
	}
	return kept
}
