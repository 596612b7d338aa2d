package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/archive"
	"github.com/xaiscan/xaiscan/scanner/decode"
	"github.com/xaiscan/xaiscan/scanner/gitfile"
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
	format         string
	outputs        []string // -o values (see outputs.go)
	showSecrets    bool
	noColor, quiet bool
	baseline       string
	config         string
	workers        int
	noDecode       bool
	noArchives     bool
	maxDepth       int
	archiveDepth   int
	followSymlinks bool
	rangeSpec      string
	branch         string
	acceptShallow  bool
	stdinName      string
	noProgress     bool
	act            actFlags
	maxDecoded     sizeValue
	maxFileSize    sizeValue
	exclude        globList
	// failOn is --fail-on: "any" key fails (exit 1), or only "live" ones
	// (live or unknown after --verify).
	failOn string
	// noAllowMarkers is --no-allow-markers.
	noAllowMarkers bool
	// verbose is -v for the hooks: print the summary of a clean scan.
	verbose bool

	// kind is the command's kind, set by parseScan.
	kind kind
	// outs are the report destinations, parsed by validate; their files
	// are opened (temporary files created) before the scan, so an
	// unwritable path fails at once.
	outs []output
	// started is when the scan began, for the reports that record it.
	started time.Time
}

func (sf *scanFlags) register(fs *pflag.FlagSet, k kind) {
	registerFormat(fs, &sf.format)
	registerOutput(fs, &sf.outputs)
	fs.BoolVar(&sf.showSecrets, "show-secrets", false, "print full keys instead of the redacted xai-...LAST4 form")
	fs.BoolVar(&sf.noColor, "no-color", false, "no colour in text output (also NO_COLOR)")
	fs.BoolVarP(&sf.quiet, "quiet", "q", false, "print findings and errors only")
	fs.StringVar(&sf.baseline, "baseline", "", "JSON report `FILE` of known keys not to report again")
	fs.StringVar(&sf.baseline, "baseline-path", "", "gitleaks-style alias of --baseline")
	_ = fs.MarkHidden("baseline-path")
	fs.StringVar(&sf.config, "config", "", "config `FILE` (default .xaiscan.toml in the scanned root, if present)")
	fs.IntVarP(&sf.workers, "workers", "j", runtime.NumCPU(), "number of files or objects scanned in parallel")
	fs.BoolVar(&sf.noDecode, "no-decode", false, "do not decode encoded text (base64, UTF-16, escapes, quoted-printable, PDF streams)")
	fs.BoolVar(&sf.noArchives, "no-archives", false, "do not open archives and compressed files (gzip, bzip2, xz, zstd, zlib, zip, tar, 7z, git packs)")
	fs.IntVar(&sf.archiveDepth, "archive-depth", archive.DefaultMaxDepth, "how deep to open archives nested in archives (at most 8)")
	fs.IntVar(&sf.maxDepth, "max-depth", scanner.MaxNesting, "how many decodings may be stacked: base64 of a gzip of a tar is 3 (at most 8)")
	fs.BoolVar(&sf.noAllowMarkers, "no-allow-markers", false, "report keys on lines with an allow marker (xaiscan:allow, gitleaks:allow, ...) too")
	switch k {
	case kindAudit, kindDir:
		fs.BoolVar(&sf.followSymlinks, "follow-symlinks", false, "follow symbolic links met while walking directories")
	}
	switch k {
	case kindAudit, kindGit:
		fs.StringVar(&sf.rangeSpec, "range", "", "history: only what commits in `A..B` introduced (B reachable, A not)")
		fs.StringVar(&sf.branch, "branch", "", "history: only commits reachable from `REF`")
		fs.BoolVar(&sf.acceptShallow, "accept-shallow", false, "history: accept a shallow clone's missing history (a note, not an error)")
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
	if k == kindStaged || k == kindPrePush {
		fs.BoolVarP(&sf.verbose, "verbose", "v", false, "also print the summary when no key is found (hooks are silent then)")
	}
	sf.act.register(fs, false)
	fs.StringVar(&sf.failOn, "fail-on", failOnAny, "exit 1 on `any|live` keys: any key found, or only live or unchecked ones (live implies --verify)")
}

// parseScan parses the flags and arguments of a scanning command of kind
// k and validates them. It accepts between min and max positional
// arguments (max < 0: any number); wrongArgs explains the rule in the
// usage error. extra, if set, registers command-specific flags. With
// done set the command must return code (help was shown, or the
// invocation was wrong).
func (a *app) parseScan(name string, k kind, args []string, min, max int, wrongArgs string, extra func(*pflag.FlagSet)) (sf *scanFlags, pos []string, code int, done bool) {
	fs := a.newFlagSet(name)
	sf = &scanFlags{kind: k}
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
	f, ok := report.ParseFormat(sf.format)
	if !ok {
		return usagef("unknown format %q (want %s)", sf.format, strings.Join(report.Formats, ", "))
	}
	sf.format = f
	outs, err := parseOutputs(sf.outputs, sf.format)
	if err != nil {
		return err
	}
	sf.outs = outs
	if err := sf.validateFailOn(); err != nil {
		return err
	}
	if sf.workers < 1 {
		return usagef("--workers must be at least 1, not %d", sf.workers)
	}
	if sf.archiveDepth < 0 || sf.archiveDepth > scanner.MaxNesting {
		return usagef("--archive-depth must be between 0 and %d", scanner.MaxNesting)
	}
	if sf.maxDepth < 0 || sf.maxDepth > scanner.MaxNesting {
		return usagef("--max-depth must be between 1 and %d", scanner.MaxNesting)
	}
	if sf.rangeSpec != "" && sf.branch != "" {
		return usagef("--range and --branch cannot be used together")
	}
	return sf.act.validate()
}

// engineOptions turns the flags into engine options.
func (sf *scanFlags) engineOptions() scanner.Options {
	o := scanner.Options{Workers: sf.workers, MaxDecodedBytes: int64(sf.maxDecoded),
		MaxDepth: sf.maxDepth, IgnoreAllowMarkers: sf.noAllowMarkers}
	if len(sf.exclude) > 0 {
		o.Exclude = sf.exclude.match
	}
	if !sf.noArchives && sf.archiveDepth > 0 {
		o.Decoders = append(o.Decoders, archive.New(archive.Options{MaxDepth: sf.archiveDepth}), &gitfile.Decoder{})
		if !sf.noDecode {
			// PDF streams are compressed text: a decoding and a container.
			o.Decoders = append(o.Decoders, archive.PDF{})
		}
	}
	if !sf.noDecode {
		o.Decoders = append(o.Decoders, decode.Decoders()...)
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
	sf.started = time.Now()
	if err := sf.openOutputs(); err != nil {
		return a.fail(err)
	}
	// Removes the temporary files of reports not written.
	defer sf.abortOutputs()
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
	notes := sf.coverageNotes(known, res)
	res.Findings, res.Coverage = known.apply(res.Findings, res.Coverage)
	res.Coverage.Notes = append(res.Coverage.Notes, notes...)

	return a.finish(ctx, sf, actor, res)
}

// finish verifies, writes the report, acts on the findings and computes
// the exit code. The standalone verify and revoke commands share it. A
// report that could not be delivered (stdout closed, -o failing late)
// does not stop the acting: the hook and the revoker still get every key,
// and the exit code is 2.
func (a *app) finish(ctx context.Context, sf *scanFlags, actor *actor, res scanner.Result) int {
	actor.verify(ctx, res.Findings)
	// Ctrl-C during --verify: the report says the run was cut short.
	res.Interrupted = res.Interrupted || ctx.Err() != nil
	reported := a.writeReport(sf, res) == nil
	failed := actor.act(ctx, a, res.Findings)

	code := a.findingsCode(sf, res.Findings)
	if res.Interrupted {
		a.warnf("interrupted: the scan is incomplete")
		code = exitError
	}
	if res.Coverage.Partial() || failed || !reported {
		code = exitError
	}
	return code
}

// writeReport writes every report (see outputs.go): the files first,
// then standard output. Read errors are also printed to stderr, one line
// each, unless the text report on standard output already shows them.
// When a report cannot be delivered it says so on stderr, makes sure the
// findings still reach the terminal (see deliverFallback) and returns the
// error: the caller exits 2.
func (a *app) writeReport(sf *scanFlags, res scanner.Result) error {
	if sf.outs == nil {
		// The standalone commands, and callers that did not validate.
		sf.outs = []output{{format: sf.format, path: stdoutPath}}
	}
	if err := sf.openOutputs(); err != nil {
		a.say(err.Error())
		a.deliverFallback(res, sf, a.stdout)
		return err
	}
	finished := time.Now()
	var firstErr error
	failedFile, echoed := false, false
	for _, stdout := range []bool{false, true} {
		for _, o := range sf.outs {
			if o.stdout() != stdout {
				continue
			}
			if err := a.deliver(sf, o, res, a.reportOptions(sf, o, finished)); err != nil {
				firstErr = cmpOr(firstErr, err)
				failedFile = failedFile || !o.stdout()
				// A closed stdout has listed the read errors already.
				echoed = echoed || errors.Is(err, syscall.EPIPE)
			}
		}
	}
	if failedFile && !sf.textOnStdout() {
		a.deliverFallback(res, sf, sf.fallbackStream(a))
	}
	if !sf.textOnStdout() && !echoed {
		a.echoErrors(res)
		if n := len(res.Findings); n > 0 && !sf.quiet && !hasStdout(sf.outs) && firstErr == nil {
			a.warnf("%d finding(s) written to %s", n, strings.Join(sf.filePaths(), ", "))
		}
	}
	return firstErr
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// reportOptions are the writer's options for one output.
func (a *app) reportOptions(sf *scanFlags, o output, finished time.Time) report.Options {
	ro := report.Options{
		ShowSecrets: sf.showSecrets,
		Color:       o.stdout() && o.format == "text" && a.colorAllowed(sf) && isTerminal(a.stdout),
		Version:     currentBuild().reportVersion(),
		Quiet:       sf.quiet,
		Verbose:     sf.verbose,
		Started:     sf.started,
		Finished:    finished,
	}
	switch sf.kind {
	case kindStaged:
		ro.Hook = report.HookCommit
	case kindPrePush:
		ro.Hook = report.HookPush
	}
	return ro
}

// deliver writes one report and, if that fails, says so. A report file
// that fails is left as it was (or, for a stream, may hold part of a
// report).
func (a *app) deliver(sf *scanFlags, o output, res scanner.Result, ro report.Options) error {
	if o.stdout() {
		err := report.Write(a.stdout, o.format, res, ro)
		if err == nil {
			return nil
		}
		if errors.Is(err, syscall.EPIPE) {
			// The reader went away on purpose (| head): stop printing.
			a.say(fmt.Sprintf("standard output was closed (broken pipe): the report is incomplete; %s found%s",
				summary(res), a.stillActing(sf)))
			// What could not be read must not go unsaid with it.
			a.echoErrors(res)
			return err
		}
		a.say(fmt.Sprintf("could not write the report to standard output: %v; it follows on standard error", err))
		a.deliverFallback(res, sf, a.stderr)
		return err
	}
	err := report.Write(o.file, o.format, res, ro)
	if err == nil {
		err = o.file.Commit()
	}
	o.file.Abort()
	if err != nil {
		err = fmt.Errorf("the report was not written (%w)", err)
		if !o.file.IsStream() {
			err = fmt.Errorf("%w; %s was left as it was", err, o.path)
		}
		msg := err.Error()
		switch {
		case sf.textOnStdout():
		case hasStdout(sf.outs):
			msg += "; the findings follow on standard error"
		default:
			msg += "; the findings follow on standard output"
		}
		a.say(msg)
	}
	return err
}

// fallbackStream is where the findings go when a report file fails:
// standard output, unless another report is printed there.
func (sf *scanFlags) fallbackStream(a *app) io.Writer {
	if hasStdout(sf.outs) {
		return a.stderr
	}
	return a.stdout
}

// deliverFallback writes the findings as text to w, or to stderr if w
// fails too, so that a report that could not be written does not lose
// them. Keys are redacted even with --show-secrets: the full keys were
// meant for the report file, and the terminal may be a CI log.
func (a *app) deliverFallback(res scanner.Result, sf *scanFlags, w io.Writer) {
	ro := report.Options{Version: currentBuild().reportVersion(), Quiet: sf.quiet}
	if err := report.Write(w, "text", res, ro); err != nil && w != a.stderr {
		a.say(fmt.Sprintf("standard output failed too (%v); the findings follow on standard error", err))
		_ = report.Write(a.stderr, "text", res, ro)
	}
}

// stillActing is the note that the hook and the revoker run all the same.
func (a *app) stillActing(sf *scanFlags) string {
	if sf.act.revokeHook != "" || sf.act.revoke {
		return "; every key is still handed to the revoke hook or revoker"
	}
	return ""
}

// summary is "3 keys in 5 locations".
func summary(res scanner.Result) string {
	keys := map[string]bool{}
	for _, f := range res.Findings {
		keys[f.Fingerprint] = true
	}
	return fmt.Sprintf("%d key(s) in %d location(s)", len(keys), len(res.Findings))
}

// echoErrors prints the read errors on stderr, one line each, up to
// maxErrorLines.
func (a *app) echoErrors(res scanner.Result) {
	shown := 0
	for _, s := range res.Coverage.Skipped {
		if !s.IsError() {
			continue
		}
		if shown == maxErrorLines {
			a.warnf("... and more paths that could not be read (see the report's coverage.skipped)")
			return
		}
		a.warnf("%s: %s", s.Path, s.Reason)
		shown++
	}
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
	term := a.term
	if term == nil {
		term = a.stderr
	}
	if sf.quiet || sf.noProgress || !isTerminal(term) {
		return nil
	}
	if noun == "" {
		noun = "items"
	}
	shown := false
	return func(p scanner.Progress) {
		if p.Final {
			if shown {
				fmt.Fprint(term, "\r\033[K")
			}
			return
		}
		if p.Elapsed < time.Second {
			return
		}
		shown = true
		mbps := float64(p.Bytes) / 1e6 / p.Elapsed.Seconds()
		var line string
		if p.Expected > 0 {
			line = fmt.Sprintf("scanning: %d/%d %s, %.0f MB, %.0f MB/s", p.Done, p.Expected, noun, float64(p.Bytes)/1e6, mbps)
		} else {
			line = fmt.Sprintf("scanning: %d %s, %.0f MB, %.0f MB/s", p.Done, noun, float64(p.Bytes)/1e6, mbps)
		}
		// The line goes to the raw terminal (it moves the cursor); only
		// the two control sequences are xaiscan's own.
		fmt.Fprint(term, "\r\033[K"+a.policy().Text(line))
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
// of the same key at the same path and position that is still at HEAD
// (the file is simply the checked-out commit), or a staged one (the file
// is what was staged).
func dropShadowed(fs []scanner.Finding) []scanner.Finding {
	type spot struct {
		fp, path, part string
		line, column   int
	}
	atHead := map[spot]bool{}
	for _, f := range fs {
		if f.Source == scanner.SourceGit && f.AtHead != nil && *f.AtHead || f.Source == scanner.SourceStaged {
			atHead[spot{f.Fingerprint, f.Path, f.Part, f.Line, f.Column}] = true
		}
	}
	if len(atHead) == 0 {
		return fs
	}
	kept := fs[:0:0]
	for _, f := range fs {
		if f.Source == scanner.SourceFile && atHead[spot{f.Fingerprint, f.Path, f.Part, f.Line, f.Column}] {
			continue
		}
		kept = append(kept, f)
	}
	return kept
}
