package githook

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// noRead is standard input that must not be read: a terminal nobody will
// type on, or pre-commit's empty pipe.
type noRead struct{ t *testing.T }

func (r noRead) Read([]byte) (int, error) {
	r.t.Error("standard input was read")
	return 0, errors.New("not to be read")
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var preCommitByHand = envOf(map[string]string{"PRE_COMMIT": "1"})

func noteHas(t *testing.T, p Plan, sub string) {
	t.Helper()
	for _, n := range p.Notes {
		if strings.Contains(n, sub) {
			return
		}
	}
	t.Errorf("notes %q lack %q", p.Notes, sub)
}

// pushedRepo is a repository whose main branch was pushed to origin (with
// upstream set), then got one more commit.
func pushedRepo(t *testing.T) (dir, pushed, tip string) {
	remote := t.TempDir()
	git(t, remote, "init", "-q", "--bare")
	dir = newRepo(t)
	pushed = commit(t, dir, "a", "1")
	git(t, dir, "remote", "add", "origin", remote)
	git(t, dir, "push", "-q", "--no-verify", "-u", "origin", "main")
	tip = commit(t, dir, "b", "2")
	return dir, pushed, tip
}

// pre-commit's push stage run by hand ("pre-commit run --hook-stage
// push") describes no push: HEAD is compared with its upstream, and the
// note says so.
func TestPlanPushByHandUsesUpstream(t *testing.T) {
	dir, _, tip := pushedRepo(t)
	p, err := PlanPush(Request{Repo: dir, Stdin: noRead{t}, Getenv: preCommitByHand})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Include, []string{tip}) || !reflect.DeepEqual(p.Exclude, []string{"refs/remotes/origin/main"}) {
		t.Errorf("include %v exclude %v", p.Include, p.Exclude)
	}
	noteHas(t, p, "compared HEAD with its upstream origin/main (@{u}..HEAD)")
	noteHas(t, p, "pre-commit described no push")
}

// Without an upstream, the commits no remote-tracking ref reaches; without
// any remote-tracking ref, HEAD's whole history, saying there was nothing
// to compare with; without commits, nothing, saying so.
func TestPlanPushByHandFallbacks(t *testing.T) {
	dir, _, tip := pushedRepo(t)
	git(t, dir, "checkout", "-q", "-b", "topic")
	p, err := PlanPush(Request{Repo: dir, Stdin: noRead{t}, Getenv: preCommitByHand})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Include, []string{tip}) || !reflect.DeepEqual(p.Exclude, []string{"refs/remotes/origin/main"}) {
		t.Errorf("no upstream: include %v exclude %v", p.Include, p.Exclude)
	}
	noteHas(t, p, "branch topic has no upstream, so the commits of HEAD that no remote-tracking ref reaches were scanned")

	lonely := newRepo(t)
	c := commit(t, lonely, "a", "1")
	p, err = PlanPush(Request{Repo: lonely, Stdin: noRead{t}, Getenv: preCommitByHand})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Include, []string{c}) || len(p.Exclude) != 0 {
		t.Errorf("no remotes: include %v exclude %v", p.Include, p.Exclude)
	}
	noteHas(t, p, "nothing to compare with: branch main has no upstream and the repository has no remote-tracking refs, so all of HEAD's history was scanned")

	empty := newRepo(t)
	p, err = PlanPush(Request{Repo: empty, Stdin: noRead{t}, Getenv: preCommitByHand})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Include) != 0 {
		t.Errorf("unborn HEAD: include %v", p.Include)
	}
	noteHas(t, p, "nothing to compare: HEAD has no commits yet, so nothing was scanned")
}

// A detached HEAD, and an upstream that was configured but never fetched,
// have no upstream; the note says why.
func TestPlanPushUpstreamMissingReasons(t *testing.T) {
	dir, pushed, tip := pushedRepo(t)
	git(t, dir, "checkout", "-q", "--detach")
	p, err := PlanPush(Request{Repo: dir, Getenv: preCommitByHand})
	if err != nil {
		t.Fatal(err)
	}
	noteHas(t, p, "HEAD is detached")
	if !reflect.DeepEqual(p.Include, []string{tip}) {
		t.Errorf("detached: include %v", p.Include)
	}

	git(t, dir, "checkout", "-q", "-b", "later")
	git(t, dir, "config", "branch.later.remote", "origin")
	git(t, dir, "config", "branch.later.merge", "refs/heads/later")
	p, _ = PlanPush(Request{Repo: dir, Getenv: preCommitByHand})
	noteHas(t, p, "the upstream origin/later of branch later has not been fetched")

	// A local upstream (remote ".") is the local branch itself.
	git(t, dir, "branch", "-q", "base", pushed)
	git(t, dir, "config", "branch.later.remote", ".")
	git(t, dir, "config", "branch.later.merge", "refs/heads/base")
	p, _ = PlanPush(Request{Repo: dir, Getenv: preCommitByHand})
	if !reflect.DeepEqual(p.Exclude, []string{"refs/heads/base"}) {
		t.Errorf("local upstream: exclude %v", p.Exclude)
	}
	noteHas(t, p, "upstream base")
}

// The upstream is mapped through the remote's fetch refspec, as git does.
func TestPlanPushUpstreamThroughRefspec(t *testing.T) {
	dir, _, _ := pushedRepo(t)
	git(t, dir, "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/mirror/*")
	git(t, dir, "fetch", "-q", "origin")
	p, err := PlanPush(Request{Repo: dir, Getenv: preCommitByHand})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Exclude, []string{"refs/remotes/mirror/main"}) {
		t.Errorf("exclude %v, want the refspec's destination", p.Exclude)
	}
}

// On a terminal, stdin is never read: HEAD is compared with its upstream,
// or the invocation is a usage error.
func TestPlanPushTerminal(t *testing.T) {
	dir, _, tip := pushedRepo(t)
	none := envOf(nil)
	p, err := PlanPush(Request{Repo: dir, Stdin: noRead{t}, StdinIsTerminal: true, Getenv: none})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Include, []string{tip}) || !reflect.DeepEqual(p.Exclude, []string{"refs/remotes/origin/main"}) {
		t.Errorf("include %v exclude %v", p.Include, p.Exclude)
	}
	noteHas(t, p, "standard input is a terminal")

	git(t, dir, "checkout", "-q", "-b", "topic")
	_, err = PlanPush(Request{Repo: dir, Stdin: noRead{t}, StdinIsTerminal: true, Getenv: none})
	if !errors.Is(err, ErrNoUpstream) || !strings.Contains(err.Error(), "branch topic has no upstream") {
		t.Errorf("no upstream on a terminal: %v", err)
	}
	_, err = PlanPush(Request{Repo: newRepo(t), Stdin: noRead{t}, StdinIsTerminal: true, Getenv: none})
	if !errors.Is(err, ErrNoUpstream) {
		t.Errorf("unborn HEAD on a terminal: %v", err)
	}
	// pre-commit's variables win over the terminal.
	p, err = PlanPush(Request{Repo: dir, Stdin: noRead{t}, StdinIsTerminal: true, Getenv: preCommitByHand})
	if err != nil || len(p.Include) != 1 {
		t.Errorf("pre-commit on a terminal: %+v %v", p, err)
	}
}

// git's standard input and pre-commit's range are used as given; a push
// that publishes nothing says so.
func TestPlanPushDescribedPushes(t *testing.T) {
	dir, pushed, tip := pushedRepo(t)
	line := "refs/heads/main " + tip + " refs/heads/main " + pushed + "\n"
	p, err := PlanPush(Request{Repo: dir, Args: []string{"origin", "url"}, Stdin: strings.NewReader(line), Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Include, []string{tip}) || !reflect.DeepEqual(p.Exclude, []string{pushed, "refs/remotes/origin/main"}) {
		t.Errorf("stdin: include %v exclude %v", p.Include, p.Exclude)
	}
	if len(p.Notes) != 0 {
		t.Errorf("stdin: notes %q", p.Notes)
	}

	p, err = PlanPush(Request{Repo: dir, Stdin: noRead{t}, Getenv: envOf(map[string]string{
		"PRE_COMMIT": "1", "PRE_COMMIT_FROM_REF": pushed, "PRE_COMMIT_TO_REF": tip,
		"PRE_COMMIT_REMOTE_NAME": "origin", "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main", "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/main",
	})})
	if err != nil || !reflect.DeepEqual(p.Include, []string{tip}) {
		t.Errorf("pre-commit range: %+v %v", p, err)
	}

	p, err = PlanPush(Request{Repo: dir, Stdin: noRead{t}, Getenv: envOf(map[string]string{
		"PRE_COMMIT": "1", "PRE_COMMIT_REMOTE_NAME": "origin", "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main",
	})})
	if err != nil || !reflect.DeepEqual(p.Include, []string{"refs/heads/main"}) {
		t.Errorf("pre-commit whole branch: %+v %v", p, err)
	}
	noteHas(t, p, "pre-commit named no commit range for refs/heads/main")

	p, err = PlanPush(Request{Repo: dir, Stdin: strings.NewReader(""), Getenv: envOf(nil)})
	if err != nil || len(p.Include) != 0 {
		t.Errorf("empty stdin: %+v %v", p, err)
	}
	noteHas(t, p, "the push publishes no new commits")
}
