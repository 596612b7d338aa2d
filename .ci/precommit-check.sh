#!/bin/sh
# End-to-end check of .pre-commit-hooks.yaml with the real pre-commit
# framework: in a throwaway repository, a commit adding a freshly generated
# xAI key must be blocked, clean commits and keys listed in .xaiscanignore
# must pass, and a push publishing a key must be blocked.
#
# Needs git, go and pre-commit (installed with apt-get when missing and
# running as root). Network: only the Go module proxy (pre-commit builds
# xaiscan with "go install"; the local module cache is reused).
#
# Usage: .ci/precommit-check.sh        (from anywhere in the checkout)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '%s\n' "precommit-check: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

if ! command -v pre-commit >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing pre-commit (Debian package)"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pre-commit >/dev/null
	else
		fail "pre-commit is not installed (apt-get install pre-commit, or pip install pre-commit)"
	fi
fi
command -v go >/dev/null 2>&1 || fail "go is not installed"
command -v git >/dev/null 2>&1 || fail "git is not installed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xaiscan-precommit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# Isolate from the user's git and pre-commit configuration.
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$tmp/gitconfig"
mkdir -p "$HOME"
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE 2>/dev/null || true
git config --file "$GIT_CONFIG_GLOBAL" user.name t
git config --file "$GIT_CONFIG_GLOBAL" user.email t@e
git config --file "$GIT_CONFIG_GLOBAL" commit.gpgsign false
git config --file "$GIT_CONFIG_GLOBAL" init.defaultBranch main
export PRE_COMMIT_HOME="$tmp/pre-commit-cache"
# pre-commit's golang support points GOPATH at its own environment; keep
# the module and build caches shared so no module is fetched twice.
GOMODCACHE=$(go env GOMODCACHE)
GOCACHE=$(go env GOCACHE)
export GOMODCACHE GOCACHE GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# A snapshot of the checkout as it is (committed or not) as a hook
# repository pre-commit can clone.
snap="$tmp/xaiscan-src"
mkdir -p "$snap"
# (tracked files deleted in the working tree are left out)
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 ls -d -- 2>/dev/null | tar -T - -cf -) | tar -xf - -C "$snap"
# pre-commit < 3.2 only knows the legacy stage names (Debian bookworm ships
# 3.0.4); the manifest uses the current names, so translate them here.
version=$(pre-commit --version | awk '{print $2}')
case "$version" in
1.* | 2.* | 3.0.* | 3.1.*)
	say "pre-commit $version: testing the manifest with legacy stage names"
	sed -e 's/\[pre-commit, pre-merge-commit\]/[commit, merge-commit]/' \
		-e 's/\[pre-push\]/[push]/' -e '/minimum_pre_commit_version/d' \
		"$snap/.pre-commit-hooks.yaml" >"$snap/.pre-commit-hooks.yaml.new"
	mv "$snap/.pre-commit-hooks.yaml.new" "$snap/.pre-commit-hooks.yaml"
	;;
esac
git -C "$snap" init -q
git -C "$snap" add -A
git -C "$snap" commit -q -m snapshot
rev=$(git -C "$snap" rev-parse HEAD)

# The repository under test, with a bare remote for the push checks.
work="$tmp/work"
remote="$tmp/remote.git"
git init -q --bare "$remote"
git init -q "$work"
cd "$work"
git remote add origin "$remote"
cat >.pre-commit-config.yaml <<CONFIG
repos:
  - repo: $snap
    rev: $rev
    hooks:
      - id: xaiscan
      - id: xaiscan-pre-push
CONFIG
say "installing the hooks (builds xaiscan; the first run takes a while)"
pre-commit install -t pre-commit -t pre-push >/dev/null
pre-commit install-hooks >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "pre-commit could not build the hooks"; }

genkey() {
	# 80 random alphanumerics after the prefix; built here, never written down.
	body=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | head -c 80)
	printf 'xai-%s' "$body"
}
key=$(genkey)
[ ${#key} -eq 84 ] || fail "could not generate a test key"

# 1. A clean commit passes.
git add .pre-commit-config.yaml
printf 'hello\n' >README
git add README
git commit -q -m "clean commit" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "a clean commit was blocked"; }
say "ok: clean commit passes"

# 2. A commit adding a key is blocked, and the key is not printed.
printf 'XAI_API_KEY=%s\n' "$key" >app.env
git add app.env
if git commit -q -m "add a key" >"$tmp/out" 2>&1; then
	fail "a commit adding a key was not blocked"
fi
grep -q 'app.env' "$tmp/out" || { cat "$tmp/out" >&2; fail "the hook did not name the file with the key"; }
if grep -qF "$key" "$tmp/out"; then fail "the hook printed the full key"; fi
say "ok: commit adding a key is blocked"
git reset -q app.env

# 2b. "git commit -a" (git hands the hook a temporary index) is blocked too.
printf 'hello\nXAI_API_KEY=%s\n' "$key" >README
if git commit -q -a -m "add a key with -a" >"$tmp/out" 2>&1; then
	fail "git commit -a adding a key was not blocked"
fi
grep -q 'README' "$tmp/out" || { cat "$tmp/out" >&2; fail "the hook did not name README"; }
git checkout -q README
say "ok: git commit -a adding a key is blocked"
git add app.env

# 3. The same key, listed in .xaiscanignore by fingerprint, passes.
fingerprint=$(printf '%s' "$key" | sha256sum | awk '{print $1}')
printf '# test key, ignored on purpose\n%s app.env\n' "$fingerprint" >.xaiscanignore
git add .xaiscanignore
git commit -q -m "ignored key" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "an ignored key was blocked"; }
say "ok: ignored key passes"

# 4. Pushes: a clean branch passes, history whose only key is ignored
# passes, and a commit with a new key is blocked.
git push -q origin HEAD~1:refs/heads/clean >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "a clean push was blocked"; }
say "ok: clean push passes"
git push -q origin main >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "a push whose only key is ignored was blocked"; }
say "ok: push with an ignored key passes"
key2=$(genkey)
printf 'token = "%s"\n' "$key2" >leak.txt
git add leak.txt
git commit -q --no-verify -m "leak past the commit hook"
if git push -q origin main >"$tmp/out" 2>&1; then
	fail "a push publishing a key was not blocked"
fi
grep -q 'leak.txt' "$tmp/out" || { cat "$tmp/out" >&2; fail "the push hook did not name the file with the key"; }
if grep -qF "$key2" "$tmp/out"; then fail "the push hook printed the full key"; fi
say "ok: push publishing a key is blocked"
say "all checks passed"
