package main

import (
	"context"
	"path/filepath"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
)

// commandNotes are extra paragraphs for `xaiscan help COMMAND`.
var commandNotes = map[string]string{
	"audit": `The audit reads PATH's files and, when PATH is a git repository, its whole
history. In a repository it reads the working-tree files git would commit
(tracked, and untracked but not ignored): a key in a git-ignored .env is
where keys belong, not a leak of the repository.`,
	"dir": `Every regular file is read, binaries included. Symlinks met while walking
are not followed (--follow-symlinks to follow); named pipes, sockets and
devices met while walking are skipped with a reason; .git/objects is left
to 'xaiscan git'. Paths named on the command line are always read.`,
	"stdin": `Reads standard input to its end, in bounded chunks.`,
}

// runDir is `xaiscan dir PATH...`.
func (a *app) runDir(ctx context.Context, args []string) int {
	sf, roots, code, done := a.parseScan("dir", kindDir, args, 1, -1, "name at least one file or directory", nil)
	if done {
		return code
	}
	src := files.New(roots, sf.walkOptions(configRoot(roots)))
	return a.execute(ctx, sf, plan{root: configRoot(roots), sources: []scanner.Source{src}, progressNoun: "files"})
}

// runStdin is `xaiscan stdin`.
func (a *app) runStdin(ctx context.Context, args []string) int {
	sf, _, code, done := a.parseScan("stdin", kindStdin, args, 0, 0, "takes no arguments (to scan files, use 'xaiscan dir')", nil)
	if done {
		return code
	}
	src := &scanner.ReaderSource{Name: sf.stdinName, Reader: a.stdin}
	return a.execute(ctx, sf, plan{root: ".", sources: []scanner.Source{src}})
}

// configRoot is where .xaiscan.toml and .xaiscanignore are looked up: the
// single directory scanned, or the current directory.
func configRoot(roots []string) string {
	if len(roots) == 1 {
		if fi, err := statDir(roots[0]); err == nil && fi {
			return roots[0]
		}
		return filepath.Dir(roots[0])
	}
	return "."
}
