package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/spf13/pflag"

	"github.com/xaiscan/xaiscan/scanner/safetext"
)

// Exit codes (DESIGN §3).
const (
	exitClean    = 0 // everything read, nothing found
	exitFindings = 1 // at least one finding
	exitError    = 2 // usage error, partial scan, or a failed revoke hook
)

// app is one invocation of the CLI: its streams and environment. Commands
// are methods on it so tests can run them against buffers.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	// term is the stderr given to run, for what only xaiscan itself writes
	// there (the progress line, which moves the cursor) and for terminal
	// detection. run replaces stderr with errw, the output-safety layer's
	// line writer over it, so that nothing written to stderr by any
	// package (hook output, the audit trail, failures) can carry a control
	// character or a key.
	term io.Writer
	errw *safetext.Writer
}

// command is one subcommand.
type command struct {
	name    string
	args    string
	summary string
	run     func(a *app, ctx context.Context, args []string) int
}

// commands lists the subcommands in the order --help shows them. The bare
// `xaiscan [PATH]` runs "audit", which can also be named.
func commands() []command {
	return []command{
		{"audit", "[PATH]", "the bare 'xaiscan [PATH]' by name: PATH's files and, in a repository, its whole history", (*app).runAudit},
		{"dir", "PATH...", "scan files and directories only", (*app).runDir},
		{"git", "[REPO...]", "scan the whole git history: every commit, ref, tag, message and unreachable object", (*app).runGit},
		{"staged", "[REPO] [-- FILE...]", "scan what the next commit would add (for pre-commit hooks)", (*app).runStaged},
		{"pre-push", "[REMOTE [URL]]", "scan what a push would publish (reads git's pre-push stdin)", (*app).runPrePush},
		{"stdin", "", "scan standard input", (*app).runStdin},
		{"remediate", "[REPO]", "audit REPO and write the response plan per key: exposure, revoke, rotate, purge history", (*app).runRemediate},
		{"merge", "REPORT.json...", "join the JSON reports of a sharded fleet audit into one report", (*app).runMerge},
		{"verify", "REPORT.json|-", "check whether the keys in a saved report (or on stdin) are live", (*app).runVerify},
		{"revoke", "REPORT.json|-", "revoke the keys in a saved report (or on stdin) with the xAI Management API", (*app).runRevoke},
		{"install-hook", "[--pre-push] [REPO]", "install xaiscan as the repository's pre-commit (or pre-push) hook", (*app).runInstallHook},
		{"version", "", "print the version", (*app).runVersion},
		{"help", "[COMMAND]", "show help", (*app).runHelp},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// run dispatches to a subcommand and returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	a.guardStderr()
	defer a.errw.Flush()
	if len(args) > 0 {
		switch args[0] {
		case "-h", "--help":
			return a.runHelp(ctx, nil)
		case "--version", "-V":
			return a.runVersion(ctx, nil)
		}
		if c, ok := findCommand(args[0]); ok {
			return c.run(a, ctx, args[1:])
		}
		if code, typo := a.unknownCommand(args[0]); typo {
			return code
		}
	}
	return a.runAudit(ctx, args)
}

// usageError marks errors in how xaiscan was invoked.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// guardStderr puts the output-safety layer between the commands and
// stderr (see app.term). It is idempotent.
func (a *app) guardStderr() {
	if a.errw != nil {
		return
	}
	a.term = a.stderr
	a.errw = safetext.NewWriter(a.stderr)
	a.stderr = a.errw
}

// policy is how messages show untrusted text on stderr: escaped, and keys
// always redacted. --show-secrets applies to the report only: stderr ends
// up in CI logs, even when the report goes to a private file
// (-f json --show-secrets -o leaks.json).
func (a *app) policy() safetext.Policy { return safetext.Policy{} }

// say prints one line on stderr. msg may hold untrusted text (a file
// name, a server's answer): it is escaped as a whole, so a newline in it
// cannot start a line of its own, and key-shaped text is redacted.
func (a *app) say(msg string) {
	fmt.Fprintf(a.stderr, "xaiscan: %s\n", a.policy().Text(msg))
}

// fail prints one line for err and returns the exit code for it. Every
// error is a one-liner naming what went wrong; usage errors point to help.
func (a *app) fail(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		a.say(err.Error() + " (see xaiscan --help)")
		return exitError
	}
	a.say(err.Error())
	return exitError
}

// warnf prints a one-line warning that does not stop the run.
func (a *app) warnf(format string, args ...any) {
	a.say(fmt.Sprintf(format, args...))
}

// newFlagSet returns a flag set whose errors come back to us (no exit, no
// default usage dump) so they become one-line usage errors.
func (a *app) newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// parse parses flags; a request for help prints the command's help.
func (a *app) parse(fs *pflag.FlagSet, name string, args []string) (helped bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			a.commandHelp(name, fs)
			return true, nil
		}
		return false, usagef("%s: %v", name, err)
	}
	return false, nil
}

func (a *app) runVersion(context.Context, []string) int {
	fmt.Fprintln(a.stdout, currentBuild())
	return exitClean
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// isTerminal reports whether w is a terminal, for colour and progress.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
