package githook

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Hook kinds Install accepts.
const (
	PreCommit = "pre-commit"
	PrePush   = "pre-push"
)

// Marker is the comment that identifies a hook xaiscan wrote. A hook file
// containing it is replaced on reinstall; any other hook is chained.
const Marker = "# xaiscan-hook:"

// chainSuffix names where an existing foreign hook is moved when xaiscan's
// hook takes its place; xaiscan's hook runs it first.
const chainSuffix = ".pre-xaiscan"

// ChainedPath is where Install moves a hook that was not xaiscan's.
func ChainedPath(hookPath string) string { return hookPath + chainSuffix }

// Install writes xaiscan's hook of kind (PreCommit or PrePush) into the
// hooks directory of the repository at repoPath and returns the hook's path.
//
// The hooks directory is the one git itself uses: core.hooksPath (from any
// configuration scope; a relative value is relative to the work tree root)
// or the common git directory's hooks, shared by all worktrees. A hook
// that is already there and is not xaiscan's is chained: it is moved to
// ChainedPath and xaiscan's hook runs it first, with the same arguments and
// standard input, and stops with its exit status if it fails. Installing
// again changes nothing (the file is not rewritten when its content is
// current). binary is the absolute path of the xaiscan executable, the
// fallback when xaiscan is not on PATH when the hook runs; it may be empty.
func Install(repoPath, kind, binary string) (string, error) {
	if kind != PreCommit && kind != PrePush {
		return "", fmt.Errorf("unknown hook kind %q (want %s or %s)", kind, PreCommit, PrePush)
	}
	dir, err := HooksDir(repoPath)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create hooks directory: %w", err)
	}
	hook := filepath.Join(dir, kind)
	want := []byte(Script(kind, binary))

	old, err := os.ReadFile(hook)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Nothing to chain; but a dangling symlink must not be followed.
		if _, lerr := os.Lstat(hook); lerr == nil {
			if err := moveAside(hook); err != nil {
				return "", err
			}
		}
	case err != nil:
		return "", fmt.Errorf("read existing hook: %w", err)
	case bytes.Contains(old, []byte(Marker)):
		if bytes.Equal(old, want) {
			return hook, ensureExecutable(hook)
		}
		// Ours, from another version or binary: replace it, keeping
		// whatever it chained.
	default:
		if err := moveAside(hook); err != nil {
			return "", err
		}
	}
	if err := writeAtomic(hook, want); err != nil {
		return "", err
	}
	return hook, nil
}

// moveAside renames a foreign hook to its chained name, refusing to
// overwrite an earlier one.
func moveAside(hook string) error {
	dst := ChainedPath(hook)
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("cannot chain the existing hook %s: %s already exists; merge them by hand", hook, dst)
	}
	if err := os.Rename(hook, dst); err != nil {
		return fmt.Errorf("chain the existing hook: %w", err)
	}
	return nil
}

func ensureExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat hook: %w", err)
	}
	if fi.Mode().Perm() != 0o755 {
		if err := os.Chmod(path, 0o755); err != nil {
			return fmt.Errorf("make hook executable: %w", err)
		}
	}
	return nil
}

// writeAtomic writes the hook beside its final name and renames it, so git
// never runs a half-written hook.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write hook: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	// Explicit chmod: CreateTemp's 0600 and the umask must not decide.
	if err := os.Chmod(tmp.Name(), 0o755); err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write hook: %w", err)
	}
	return nil
}

// HooksDir returns the absolute hooks directory git uses for the
// repository at repoPath, asking git itself so that core.hooksPath from
// every configuration scope, includes, and worktrees are honoured exactly.
func HooksDir(repoPath string) (string, error) {
	if repoPath == "" {
		repoPath = "."
	}
	out, err := gitOutput(repoPath, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	if err != nil {
		// Git older than 2.31 lacks --path-format; its relative
		// answer is relative to the directory git ran in.
		rel, err2 := gitOutput(repoPath, "rev-parse", "--git-path", "hooks")
		if err2 != nil {
			return "", fmt.Errorf("find the hooks directory of %s: %w", repoPath, err)
		}
		out = rel
		if !filepath.IsAbs(out) {
			abs, err := filepath.Abs(filepath.Join(repoPath, out))
			if err != nil {
				return "", fmt.Errorf("find the hooks directory: %w", err)
			}
			out = abs
		}
	}
	return filepath.Clean(out), nil
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return "", fmt.Errorf("git %s: %s", args[0], msg)
		}
		return "", fmt.Errorf("git %s: %w", args[0], err)
	}
	return strings.TrimRight(string(out), "\r\n"), nil
}

// shellQuote quotes s for POSIX sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Script returns the POSIX sh hook Install writes for kind.
func Script(kind, binary string) string {
	notFound := `	echo "xaiscan: not found on PATH; install it or remove $0" >&2
	exit 1`
	if binary != "" {
		notFound = `	xaiscan=` + shellQuote(filepath.ToSlash(binary)) + `
	if [ ! -x "$xaiscan" ]; then
		echo "xaiscan: not found on PATH nor at $xaiscan; install it or remove $0" >&2
		exit 1
	fi`
	}
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/sh
%s %s
# Installed by "xaiscan install-hook"; reinstalling replaces this file.
# A %s hook that was here before runs first, from %s%s next to it.
# Bypass once (at your own risk) with: git %s --no-verify

chained="$(dirname -- "$0")/%s%s"
xaiscan=xaiscan
if ! command -v xaiscan >/dev/null 2>&1; then
%s
fi
`, Marker, kind, kind, kind, chainSuffix, map[string]string{PreCommit: "commit", PrePush: "push"}[kind], kind, chainSuffix, notFound)
	if kind == PreCommit {
		b.WriteString(`if [ -x "$chained" ]; then
	"$chained" "$@" || exit $?
fi
exec "$xaiscan" staged
`)
		return b.String()
	}
	// pre-push: both hooks need git's standard input, so it is saved.
	b.WriteString(`if [ -x "$chained" ]; then
	input=$(mktemp "${TMPDIR:-/tmp}/xaiscan-pre-push.XXXXXX") || exit 1
	trap 'rm -f "$input"' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	cat >"$input" || exit 1
	"$chained" "$@" <"$input" || exit $?
	"$xaiscan" pre-push "$@" <"$input"
	exit $?
fi
exec "$xaiscan" pre-push "$@"
`)
	return b.String()
}
