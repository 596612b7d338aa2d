// Package githook connects xaiscan to git hooks: it parses what git (or the
// pre-commit framework) tells a pre-push hook, turns it into the revisions a
// history scan must read, and installs xaiscan's hook scripts.
package githook

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Update is one ref that a push would change: one line of the pre-push
// hook's standard input, "<local ref> <local sha> <remote ref> <remote sha>".
type Update struct {
	LocalRef  string
	LocalSHA  string
	RemoteRef string
	RemoteSHA string
}

// IsDelete reports whether the push deletes the remote ref (the local sha
// is all zeros): it publishes nothing.
func (u Update) IsDelete() bool { return isZero(u.LocalSHA) && u.LocalSHA != "" }

// IsNew reports whether the remote ref does not exist yet (the remote sha
// is all zeros or unknown): the remote's content is then only known through
// its remote-tracking refs.
func (u Update) IsNew() bool { return u.RemoteSHA == "" || isZero(u.RemoteSHA) }

// local is the revision the push publishes: the local sha, or the local
// ref when only its name is known (pre-commit's whole-history case).
func (u Update) local() string {
	if u.LocalSHA != "" {
		return u.LocalSHA
	}
	return u.LocalRef
}

func isZero(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

func isHex(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// maxLine bounds one input line; git's lines are two ref names and two
// hashes.
const maxLine = 64 << 10

// ParsePrePush reads the standard input git gives a pre-push hook. Blank
// lines are ignored; a malformed line is an error naming its line number.
// Empty input (nothing to push) yields no updates.
func ParsePrePush(r io.Reader) ([]Update, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	var out []Update
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		// Ref names cannot contain spaces, so four fields it is.
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("pre-push input line %d: want \"<local ref> <local sha> <remote ref> <remote sha>\", got %d fields", n, len(f))
		}
		if !isHex(f[1]) || !isHex(f[3]) {
			return nil, fmt.Errorf("pre-push input line %d: object names must be 40 or 64 hex digits", n)
		}
		out = append(out, Update{LocalRef: f[0], LocalSHA: strings.ToLower(f[1]), RemoteRef: f[2], RemoteSHA: strings.ToLower(f[3])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read pre-push input: %w", err)
	}
	return out, nil
}

// PushFromEnv reads the push the pre-commit framework describes in its
// environment. pre-commit consumes the hook's standard input itself and
// passes, for the first ref pushed, PRE_COMMIT_FROM_REF (the remote's
// current commit, or the parent of the first commit it lacks) and
// PRE_COMMIT_TO_REF (the local commit); when the whole history is new it
// sets neither, only PRE_COMMIT_LOCAL_BRANCH. ok is false when the
// environment is not pre-commit's pre-push stage. getenv is normally
// os.Getenv.
func PushFromEnv(getenv func(string) string) (updates []Update, remote string, ok bool) {
	remote = getenv("PRE_COMMIT_REMOTE_NAME")
	to := getenv("PRE_COMMIT_TO_REF")
	local := getenv("PRE_COMMIT_LOCAL_BRANCH")
	if to == "" && remote == "" && local == "" {
		return nil, "", false
	}
	u := Update{LocalRef: local, LocalSHA: to, RemoteRef: getenv("PRE_COMMIT_REMOTE_BRANCH"), RemoteSHA: getenv("PRE_COMMIT_FROM_REF")}
	if u.local() == "" {
		// Nothing named to push: pre-commit runs no pre-push hook then,
		// so this is not its environment after all.
		return nil, remote, false
	}
	return []Update{u}, remote, true
}

// ReadPush gathers what a pre-push hook is told, wherever it comes from:
// the pre-commit framework's environment when present (pre-commit consumes
// the hook's standard input), else git's standard input, with the remote
// name (or URL) as the hook's first argument. args are the arguments after
// "xaiscan pre-push"; getenv is normally os.Getenv.
func ReadPush(stdin io.Reader, args []string, getenv func(string) string) (updates []Update, remote string, err error) {
	if ups, remote, ok := PushFromEnv(getenv); ok {
		return ups, remote, nil
	}
	if len(args) > 0 {
		remote = args[0]
	}
	ups, err := ParsePrePush(stdin)
	if err != nil {
		return nil, "", err
	}
	return ups, remote, nil
}

// Revisions computes what a history scan must read for updates: include
// the local commits, exclude what the remote already has. remoteHas lists
// revisions known to be on the remote (its remote-tracking refs, and the
// remote shas that exist locally); they are excluded for every update, which
// only ever removes commits the remote already published.
//
//   - delete (local sha all zeros): nothing to scan;
//   - update: include the local sha, exclude the remote sha;
//   - new ref (remote sha all zeros): include the local sha and exclude the
//     remote's tracking refs; with none, what the remote has is unknown and
//     the local sha's whole history is scanned.
//
// include is empty when the push publishes nothing. Both lists are sorted
// and free of duplicates.
func Revisions(updates []Update, remoteHas []string) (include, exclude []string) {
	inc := map[string]bool{}
	exc := map[string]bool{}
	for _, u := range updates {
		if u.IsDelete() || u.local() == "" {
			continue
		}
		if !u.IsNew() && strings.EqualFold(u.LocalSHA, u.RemoteSHA) {
			continue // the remote already has exactly this
		}
		inc[u.local()] = true
	}
	if len(inc) == 0 {
		return nil, nil
	}
	for _, r := range remoteHas {
		exc[r] = true
	}
	return sortedSet(inc), sortedSet(exc)
}

// PushRevisions opens the repository at repoPath and computes Revisions for
// a push to remote (the pre-push hook's first argument: a remote name, or a
// URL when the push names no remote). The remote's tracking refs
// (refs/remotes/<remote>/*) are excluded, and so are the updates' remote
// shas that exist locally (a remote sha this repository lacks cannot be
// excluded by a walk; the push is then rejected as non-fast-forward unless
// forced, and the tracking refs bound the scan instead).
func PushRevisions(repoPath, remote string, updates []Update) (include, exclude []string, err error) {
	repo, err := openRepo(repoPath)
	if err != nil {
		return nil, nil, err
	}
	has, err := remoteTrackingRefs(repo, remote)
	if err != nil {
		return nil, nil, err
	}
	for _, u := range updates {
		if u.IsNew() || u.IsDelete() || !isHex(u.RemoteSHA) {
			continue
		}
		if repo.Storer.HasEncodedObject(plumbing.NewHash(u.RemoteSHA)) == nil {
			has = append(has, u.RemoteSHA)
		}
	}
	include, exclude = Revisions(updates, has)
	return include, exclude, nil
}

// RemoteTrackingRefs lists the full names of refs/remotes/<remote>/* in the
// repository at repoPath (symbolic refs such as .../HEAD left out: their
// targets are listed). A remote given as a URL has none.
func RemoteTrackingRefs(repoPath, remote string) ([]string, error) {
	repo, err := openRepo(repoPath)
	if err != nil {
		return nil, err
	}
	return remoteTrackingRefs(repo, remote)
}

func remoteTrackingRefs(repo *gogit.Repository, remote string) ([]string, error) {
	if remote == "" || strings.ContainsAny(remote, ":/\\") && !isRemoteName(repo, remote) {
		return nil, nil
	}
	return refsUnder(repo, "refs/remotes/"+remote+"/")
}

// allTrackingRefs lists every remote-tracking ref (refs/remotes/*), of
// every remote, symbolic refs left out.
func allTrackingRefs(repo *gogit.Repository) ([]string, error) {
	return refsUnder(repo, "refs/remotes/")
}

// refsUnder lists the full names of the hash refs whose name starts with
// prefix, sorted.
func refsUnder(repo *gogit.Repository, prefix string) ([]string, error) {
	iter, err := repo.Storer.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	var out []string
	err = iter.ForEach(func(r *plumbing.Reference) error {
		if r.Type() == plumbing.HashReference && strings.HasPrefix(r.Name().String(), prefix) {
			out = append(out, r.Name().String())
		}
		return nil
	})
	if err != nil && !errors.Is(err, storer.ErrStop) {
		return nil, fmt.Errorf("list refs: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// isRemoteName reports whether name is a configured remote (remote names
// may contain slashes, URLs may look like names).
func isRemoteName(repo *gogit.Repository, name string) bool {
	_, err := repo.Remote(name)
	return err == nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
