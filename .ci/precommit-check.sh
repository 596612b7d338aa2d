#!/usr/bin/env bash
# End-to-end check of the real .pre-commit-hooks.yaml with the real
# pre-commit framework. The hook repository is this checkout at HEAD (or,
# when the working tree has changes, a temporary clone with one more commit
# holding them), used unmodified. In throwaway repositories:
#   - a clean commit passes; "pre-commit run --all-files" reads every file;
#   - "pre-commit run --hook-stage push" with nothing to compare says so,
#     and with an upstream says it compared with it;
#   - a commit adding a key is blocked (also "git commit -a"), without the
#     key being printed; a key listed in .xaiscanignore passes;
#   - "pre-commit run --all-files" fails on a key committed earlier in a
#     tracked file, also when pre-commit splits the file list over several
#     runs of the hook;
#   - a push publishing a key is blocked.
#
# Needs git and go; installs Debian's pre-commit with apt-get when it is
# missing (as root). Network: the Go module proxy only, if the module cache
# lacks something (pre-commit builds xaiscan with "go install ./...", once;
# the module and build caches are shared with the caller's).
#
# Usage: .ci/precommit-check.sh          (from anywhere in the checkout)
#   PRE_COMMIT_CMD="python3 -m pre_commit" .ci/precommit-check.sh
#        runs another pre-commit, e.g. a 4.x source tree on PYTHONPATH;
#   PRECOMMIT_CHECK_KEEP=1 keeps the temporary directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'precommit-check: %s\n' "$*" >&2; }
fail() {
	say "FAIL: $*"
	if [ -s "${out:-/dev/null}" ]; then sed 's/^/    | /' "$out" >&2; fi
	exit 1
}

if [ -z "${PRE_COMMIT_CMD:-}" ] && ! command -v pre-commit >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		say "installing pre-commit (Debian package)"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pre-commit >/dev/null
	else
		fail "pre-commit is not installed (apt-get install pre-commit, or pip install pre-commit)"
	fi
fi
read -r -a pc <<<"${PRE_COMMIT_CMD:-pre-commit}"
command -v go >/dev/null 2>&1 || fail "go is not installed"
command -v git >/dev/null 2>&1 || fail "git is not installed"
say "using $("${pc[@]}" --version) ($(command -v "${pc[0]}"))"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/xaiscan-precommit.XXXXXX")
# PRECOMMIT_CHECK_KEEP=1 keeps the throwaway repositories for a look.
if [ -n "${PRECOMMIT_CHECK_KEEP:-}" ]; then
	trap 'say "kept $tmp"' EXIT
else
	trap 'rm -rf "$tmp"' EXIT
fi
trap 'exit 130' INT TERM
out="$tmp/out"

# Isolate from the user's git and pre-commit configuration, and from the
# environment of a hook this script might run under.
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OBJECT_DIRECTORY \
	PRE_COMMIT PRE_COMMIT_FROM_REF PRE_COMMIT_TO_REF PRE_COMMIT_REMOTE_NAME \
	PRE_COMMIT_LOCAL_BRANCH PRE_COMMIT_REMOTE_BRANCH 2>/dev/null || true
GOMODCACHE=$(go env GOMODCACHE)
GOCACHE=$(go env GOCACHE)
export GOMODCACHE GOCACHE GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export HOME="$tmp/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL="$tmp/gitconfig"
mkdir -p "$HOME"
for kv in user.name=t user.email=t@e commit.gpgsign=false init.defaultBranch=main advice.detachedHead=false; do
	git config --file "$GIT_CONFIG_GLOBAL" "${kv%%=*}" "${kv#*=}"
done
export PRE_COMMIT_HOME="$tmp/pre-commit-cache" PRE_COMMIT_COLOR=never

# The hook repository: this checkout at HEAD, or a clone with the working
# tree's changes committed (pre-commit checks out a commit, so uncommitted
# changes would not be tested otherwise).
hookrepo=$root
rev=$(git -C "$root" rev-parse HEAD)
if [ -n "$(git -C "$root" status --porcelain)" ]; then
	hookrepo="$tmp/xaiscan-src"
	git clone -q --no-checkout "$root" "$hookrepo"
	(cd "$root" && git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
		tar --null -T - -cf -) | tar -xf - -C "$hookrepo"
	git -C "$hookrepo" add -A
	git -C "$hookrepo" commit -q --no-verify -m "working tree of $rev"
	rev=$(git -C "$hookrepo" rev-parse HEAD)
	say "the working tree has changes: testing them as a temporary commit"
fi

genkey() {
	# 80 random alphanumerics after the prefix; built here, never written down.
	local body
	body=$(head -c 4096 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9' | head -c 80)
	printf 'xai-%s' "$body"
}

# newrepo DIR: a repository using the hooks, with a bare remote "origin".
newrepo() {
	git init -q --bare "$1.git"
	git init -q "$1"
	git -C "$1" remote add origin "$1.git"
	cat >"$1/.pre-commit-config.yaml" <<-CONFIG
		repos:
		  - repo: $hookrepo
		    rev: $rev
		    hooks:
		      - id: xaiscan
		      - id: xaiscan-pre-push
	CONFIG
	(cd "$1" && "${pc[@]}" install -t pre-commit -t pre-push >/dev/null)
}

# run CMD...: runs CMD with its output in $out, also kept in $tmp/transcript.
run() {
	local rc=0
	"$@" >"$out" 2>&1 || rc=$?
	{ printf '\n$ %s  # exit %s\n' "$*" "$rc"; cat "$out"; } >>"$tmp/transcript"
	return "$rc"
}

# passes DESC CMD...: CMD must succeed.
passes() {
	local desc=$1
	shift
	run "$@" || fail "$desc (exit $?)"
}

# blocked DESC CMD...: CMD must fail with xaiscan's verdict (exit 1).
blocked() {
	local desc=$1
	shift
	if run "$@"; then fail "$desc: not blocked"; fi
	grep -q 'exit code: 1' "$out" || fail "$desc: failed, but not with xaiscan's exit 1"
}

shows() { grep -qE -- "$1" "$out" || fail "$2: the output lacks /$1/"; }
hides() { if grep -qF -- "$1" "$out"; then fail "$2: the full key was printed"; fi; }

work="$tmp/work"
newrepo "$work"
cd "$work"
say "building the hooks (pre-commit runs go install once)"
start=$SECONDS
passes "pre-commit could not build the hooks" "${pc[@]}" install-hooks
say "ok: built in $((SECONDS - start))s"

# 1. A clean commit passes; --all-files reads every tracked file.
printf 'hello\n' >README
git add README .pre-commit-config.yaml
passes "a clean commit was blocked" git commit -q -m "clean commit"
passes "--all-files on a clean tree failed" "${pc[@]}" run --all-files --verbose
shows 'Scanned 2 files' "--all-files must read both tracked files"
say "ok: clean commit passes; --all-files reads every tracked file"

# 2. The push stage run by hand, with nothing to compare, says so.
passes "--hook-stage push without a remote failed" "${pc[@]}" run --hook-stage push --all-files
shows 'nothing to compare with' "--hook-stage push with nothing to compare"
shows 'all of HEAD.s history was scanned' "--hook-stage push with nothing to compare"
say "ok: --hook-stage push with nothing to compare says so"

# 3. A clean push passes; then the push stage compares with the upstream.
passes "a clean push was blocked" git push -q -u origin main
passes "--hook-stage push with an upstream failed" "${pc[@]}" run --hook-stage push
shows 'compared HEAD with its upstream origin/main' "--hook-stage push with an upstream"
say "ok: clean push passes; --hook-stage push compares with the upstream"

# 4. A commit adding a key is blocked, and the key is not printed.
key=$(genkey)
[ ${#key} -eq 84 ] || fail "could not generate a test key"
printf 'XAI_API_KEY=%s\n' "$key" >app.env
git add app.env
blocked "a commit adding a key" git commit -q -m "add a key"
shows 'app.env:1:' "the commit hook must name the file"
hides "$key" "commit hook"
git reset -q app.env
say "ok: a commit adding a key is blocked"

# 5. "git commit -a" (git hands the hook a temporary index) is blocked too.
printf 'hello\nXAI_API_KEY=%s\n' "$key" >README
blocked "git commit -a adding a key" git commit -q -a -m "add a key with -a"
shows 'README:2:' "the commit -a hook must name README"
git checkout -q README
say "ok: git commit -a adding a key is blocked"

# 6. The same key, listed in .xaiscanignore by fingerprint, passes, and so
# does a push whose only key is ignored.
fingerprint=$(printf '%s' "$key" | sha256sum | awk '{print $1}')
printf '# test key, ignored on purpose\n%s app.env\n' "$fingerprint" >.xaiscanignore
git add app.env .xaiscanignore
passes "an ignored key was blocked" git commit -q -m "ignored key"
passes "a push whose only key is ignored was blocked" git push -q origin main
say "ok: an ignored key passes"

# 7. A key committed past the hook, in a tracked file: --all-files fails
# with nothing staged.
key2=$(genkey)
printf 'token = "%s"\n' "$key2" >leak.txt
git add leak.txt
git commit -q --no-verify -m "leak past the commit hook"
[ -z "$(git status --porcelain)" ] || fail "the test repository should have nothing staged"
blocked "--all-files with a committed key in a tracked file" "${pc[@]}" run --all-files
shows 'leak.txt:1:' "--all-files must name the file with the key"
hides "$key2" "--all-files"
say "ok: --all-files fails on a committed key in a tracked file"

# 8. A push publishing that key is blocked.
blocked "a push publishing a key" git push -q origin main
shows 'leak.txt:1:' "the push hook must name the file with the key"
hides "$key2" "push hook"
say "ok: a push publishing a key is blocked"

# 9. A file list too long for one command line: pre-commit splits it over
# several runs of the hook, and each must stand on its own.
cd "$tmp"
newrepo "$tmp/many"
cd "$tmp/many"
mkdir files
long=$(printf 'a%.0s' $(seq 1 90))
for i in $(seq 1 2000); do printf '%s\n' "$i" >"files/${long}_$i.txt"; done
printf 'XAI_API_KEY=%s\n' "$(genkey)" >"files/${long}_999.txt"
git add -A
git commit -q --no-verify -m "many files"
blocked "--all-files over a split file list" "${pc[@]}" run --all-files --verbose
shows "${long}_999.txt:1:" "the split --all-files run must name the file with the key"
runs=$(grep -c '^Scanned ' "$out" || true)
[ "$runs" -ge 2 ] || fail "expected pre-commit to split 2000 long names over several runs, saw $runs"
say "ok: --all-files split over $runs runs finds the key"

say "all checks passed ($("${pc[@]}" --version), ${SECONDS}s)"
