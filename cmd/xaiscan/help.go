package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// Help texts fit in helpWidth columns: summaries are wrapped at their
// column, a command too wide for its column puts its summary on the next
// line, and flag descriptions are wrapped by pflag.
const (
	helpWidth  = 80
	helpColumn = 36 // where command summaries start
)

const usageIntro = `xaiscan finds leaked xAI API keys (xai-...) and management keys (xai-token-...)
in files, git history, staged changes and standard input, and can check
whether they are live and revoke them.

Usage:
`

const usageExamples = `
Examples:
  xaiscan .                             audit this repository (files + history)
  xaiscan dir ./config ./deploy         scan directories, no history
  xaiscan git --range origin/main..HEAD what a pull request adds (CI)
  xaiscan git -o sarif=xaiscan.sarif -o json=xaiscan.json
                                        SARIF and JSON from one run, text on
                                        stdout
  xaiscan staged                        pre-commit: what the next commit adds
  xaiscan install-hook                  install the pre-commit hook
  kubectl get secret app -o yaml | xaiscan stdin
  xaiscan . --verify                    also check which keys are live
  xaiscan . --fail-on live              ... and fail only on live or unchecked
                                        keys
  xaiscan . --verify --revoke           ... and revoke the live ones (needs
                                        XAI_MANAGEMENT_API_KEY)
  xaiscan . -f json --show-secrets -o leaks.json && xaiscan revoke leaks.json

Exit codes: 0 nothing found, 1 keys found (with --fail-on live: live or
unchecked keys), 2 usage error or incomplete scan.
Run 'xaiscan help COMMAND' for a command's flags.
`

// runHelp is `xaiscan help [COMMAND]` (and --help).
func (a *app) runHelp(_ context.Context, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "--help", "help":
			fmt.Fprint(a.stdout, "Usage: xaiscan help [COMMAND]\n\nShow the commands and common flags, or one command's flags.\n")
			return exitClean
		}
		c, ok := findCommand(args[0])
		if !ok {
			err := usagef("help: unknown command %q", args[0])
			if s := suggestCommand(args[0]); s != "" {
				err = usagef("help: unknown command %q; did you mean %s?", args[0], s)
			}
			return a.fail(err)
		}
		return c.run(a, context.Background(), []string{"--help"})
	}
	var b strings.Builder
	b.WriteString(usageIntro)
	helpEntry(&b, "xaiscan [flags] [PATH]", "audit PATH (default .): its files and, when it is a git repository, its whole history")
	for _, c := range commands() {
		left := "xaiscan " + c.name
		if c.args != "" {
			left += " " + c.args
		}
		helpEntry(&b, left, c.summary)
	}
	b.WriteString("\nCommon flags (run 'xaiscan help dir' for all):\n")
	fs := a.newFlagSet("xaiscan")
	var sf scanFlags
	sf.register(fs, kindAudit)
	b.WriteString(flagUsages(fs))
	b.WriteString(usageExamples)
	fmt.Fprint(a.stdout, b.String())
	return exitClean
}

// helpEntry writes one "  left   summary" entry, the summary wrapped in
// its column, on the next line when left is too wide for its column.
func helpEntry(b *strings.Builder, left, summary string) {
	line := "  " + left
	pad := strings.Repeat(" ", helpColumn)
	lines := wrapWords(summary, helpWidth-helpColumn)
	if len(line) >= helpColumn-1 {
		b.WriteString(line + "\n")
		line = ""
	}
	for i, l := range lines {
		if i == 0 && line != "" {
			fmt.Fprintf(b, "%-*s%s\n", helpColumn, line, l)
			continue
		}
		b.WriteString(pad + l + "\n")
	}
}

// wrapWords breaks s into lines of at most width bytes at spaces (a word
// longer than width gets a line of its own).
func wrapWords(s string, width int) []string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case len(cur)+1+len(w) <= width:
			cur += " " + w
		default:
			lines = append(lines, cur)
			cur = w
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// commandHelp is `xaiscan help COMMAND` (and COMMAND --help).
func (a *app) commandHelp(name string, fs *pflag.FlagSet) {
	summary, args := "audit files and, for a repository, its whole history", "[PATH]"
	if c, ok := findCommand(name); ok {
		summary, args = c.summary, c.args
	}
	fmt.Fprintf(a.stdout, "Usage: xaiscan %s [flags] %s\n\n%s\n", name, args,
		strings.Join(wrapWords(upperFirst(summary)+".", helpWidth), "\n"))
	if extra, ok := commandNotes[name]; ok {
		fmt.Fprintf(a.stdout, "\n%s\n", extra)
	}
	if fs.HasFlags() {
		fmt.Fprintf(a.stdout, "\nFlags:\n%s", flagUsages(fs))
	}
}

// flagUsages is pflag's flag list wrapped to the help width, without the
// "[=true|false]" it appends to boolean flags, which reads as if a value
// were required.
func flagUsages(fs *pflag.FlagSet) string {
	return strings.ReplaceAll(fs.FlagUsagesWrapped(helpWidth), "[=true|false]", "             ")
}
