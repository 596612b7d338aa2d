package remote

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gitsource"
	"github.com/xaiscan/xaiscan/scanner/gittest"
	"github.com/xaiscan/xaiscan/scanner/remote/remotetest"
)

func TestMain(m *testing.M) {
	gittest.Isolate()
	os.Exit(m.Run())
}

func TestIsURLAndParse(t *testing.T) {
	for _, c := range []struct {
		in            string
		url, label    string
		scheme, host  string
		creds, remote bool
	}{
		{in: "https://github.com/org/repo.git", url: "https://github.com/org/repo.git", label: "https://github.com/org/repo.git", scheme: "https", host: "github.com", remote: true},
		{in: "HTTPS://User:Secret@GitHub.com:8443/org/repo", url: "https://GitHub.com:8443/org/repo", label: "https://GitHub.com:8443/org/repo", scheme: "https", host: "github.com:8443", creds: true, remote: true},
		{in: "https://tok123@example.com/r.git", url: "https://example.com/r.git", label: "https://example.com/r.git", scheme: "https", host: "example.com", creds: true, remote: true},
		{in: "ssh://git:pw@host.example/srv/r.git", url: "ssh://git@host.example/srv/r.git", label: "ssh://git@host.example/srv/r.git", scheme: "ssh", host: "host.example", creds: true, remote: true},
		{in: "git@github.com:org/repo.git", url: "git@github.com:org/repo.git", label: "git@github.com:org/repo.git", scheme: "ssh", host: "github.com", remote: true},
		{in: "git://127.0.0.1:9418/r.git", url: "git://127.0.0.1:9418/r.git", label: "git://127.0.0.1:9418/r.git", scheme: "git", host: "127.0.0.1:9418", remote: true},
		{in: "file:///srv/git/r.git", url: "file:///srv/git/r.git", label: "file:///srv/git/r.git", scheme: "file", remote: true},
	} {
		if !IsURL(c.in) {
			t.Errorf("IsURL(%q) = false", c.in)
			continue
		}
		e, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if e.URL != c.url || e.Label != c.label || e.Scheme != c.scheme || e.Host != c.host || e.HasCredentials() != c.creds {
			t.Errorf("Parse(%q) = url %q label %q scheme %q host %q creds %v; want %q %q %q %q %v",
				c.in, e.URL, e.Label, e.Scheme, e.Host, e.HasCredentials(), c.url, c.label, c.scheme, c.host, c.creds)
		}
		if strings.Contains(e.Label, "Secret") || strings.Contains(e.Label, "tok123") || strings.Contains(e.Label, "pw") {
			t.Errorf("label %q holds a credential", e.Label)
		}
	}
	for _, local := range []string{".", "repo", "./a:b", "/srv/git/r.git", `C:\work\repo`, "C:/work/repo", "dir/with:colon"} {
		if IsURL(local) {
			t.Errorf("IsURL(%q) = true, want a local path", local)
		}
	}
	for _, bad := range []string{"ftp://host/r", "https:///nohost", "https://u:p@host/a b", "https://host/\x1b[31m"} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
			continue
		}
		if strings.Contains(err.Error(), "u:p") || strings.Contains(err.Error(), "\x1b") {
			t.Errorf("Parse(%q) error shows a credential or control byte: %v", bad, err)
		}
	}
}

func TestLabelRedactsKeys(t *testing.T) {
	key := rulestest.APIKey()
	e, err := Parse("https://host.example/" + key + ".git")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Label, key) || !strings.Contains(e.Label, "xai-...") {
		t.Errorf("label %q does not redact the key", e.Label)
	}
}

// scanKeys audits the repository at dir with the real history source and
// returns the distinct keys found.
func scanKeys(t *testing.T, dir string) []string {
	t.Helper()
	src, err := gitsource.New(dir, gitsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.New(scanner.Options{Workers: 2}).Run(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if res.Coverage.Partial() {
		t.Fatalf("partial scan of the clone: %+v", res.Coverage.Skipped)
	}
	var keys []string
	for _, f := range res.Findings {
		if !slices.Contains(keys, f.Key) {
			keys = append(keys, f.Key)
		}
	}
	return keys
}

func wantKeys(t *testing.T, got []string, k remotetest.Keys) {
	t.Helper()
	for _, key := range k.All() {
		if !slices.Contains(got, key) {
			t.Errorf("key %s not found in the clone (found %d keys)", key[:8], len(got))
		}
	}
}

// TestCloneHTTPMirror: a clone over smart HTTP brings every ref, so keys
// only on a branch, in a tag message and on refs/pull/1/head are found.
func TestCloneHTTPMirror(t *testing.T) {
	root := t.TempDir()
	keys := remotetest.MakeRepo(t, root, "r.git", 3, rulestest.APIKey)
	srv := remotetest.New(t, root, remotetest.Options{})
	e, err := Parse(srv.URL + "/r.git")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	if err := Clone(context.Background(), e, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, scanKeys(t, dir), keys)
}

// TestCloneFileURL: file:// URLs clone without the git binary's
// upload-pack (go-git's in-process server), work tree or bare.
func TestCloneFileURL(t *testing.T) {
	root := t.TempDir()
	keys := remotetest.MakeRepo(t, root, "r.git", 0, rulestest.APIKey)
	e, err := Parse("file://" + filepath.ToSlash(filepath.Join(root, "r.git")))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "clone")
	// With PATH emptied, go-git's own file transport could not run
	// git-upload-pack; ours does not need it.
	t.Setenv("PATH", "")
	if err := Clone(context.Background(), e, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, scanKeys(t, dir), keys)
}

func TestCloneEmptyAndMissing(t *testing.T) {
	root := t.TempDir()
	gittest.Must(t, root, nil, "init", "-q", "--bare", "empty.git")
	srv := remotetest.New(t, root, remotetest.Options{})
	e, _ := Parse(srv.URL + "/empty.git")
	if err := Clone(context.Background(), e, filepath.Join(t.TempDir(), "c"), Options{}); err != ErrEmpty {
		t.Errorf("empty repository: %v, want ErrEmpty", err)
	}
	e, _ = Parse(srv.URL + "/missing.git")
	err := Clone(context.Background(), e, filepath.Join(t.TempDir(), "c"), Options{})
	if err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing repository: %v, want a not-found error", err)
	}
}

// TestCloneCredentials: a server that wants credentials gets them from
// the URL, from a host token or from git's credential helper, and no error
// message ever repeats them.
func TestCloneCredentials(t *testing.T) {
	root := t.TempDir()
	keys := remotetest.MakeRepo(t, root, "r.git", 0, rulestest.APIKey)
	const user, pass = "x-access-token", "s3cret-token-value"
	srv := remotetest.New(t, root, remotetest.Options{User: user, Password: pass})
	plain, _ := Parse(srv.URL + "/r.git")
	clone := func(e Endpoint, o Options) error {
		return Clone(context.Background(), e, filepath.Join(t.TempDir(), "c"), o)
	}

	t.Run("none", func(t *testing.T) {
		err := clone(plain, Options{Credentials: &Credentials{Getenv: func(string) string { return "" }}})
		if err == nil || !strings.Contains(err.Error(), "authentication required") {
			t.Errorf("no credentials: %v, want authentication required", err)
		}
	})
	t.Run("url", func(t *testing.T) {
		withCreds, _ := Parse(strings.Replace(srv.URL, "://", "://"+user+":"+pass+"@", 1) + "/r.git")
		if err := clone(withCreds, Options{}); err != nil {
			t.Errorf("credentials in the URL: %v", err)
		}
		wrong, _ := Parse(strings.Replace(srv.URL, "://", "://"+user+":wrong-"+pass+"@", 1) + "/r.git")
		err := clone(wrong, Options{})
		if err == nil || strings.Contains(err.Error(), pass) {
			t.Errorf("wrong password: %v (must fail and not show it)", err)
		}
	})
	t.Run("host token", func(t *testing.T) {
		env := map[string]string{"GITHUB_TOKEN": pass}
		c := &Credentials{Getenv: func(k string) string { return env[k] }}
		c.AddHost(plain.Host, "GITHUB_TOKEN", user)
		dir := filepath.Join(t.TempDir(), "c")
		if err := Clone(context.Background(), plain, dir, Options{Credentials: c}); err != nil {
			t.Fatalf("host token: %v", err)
		}
		wantKeys(t, scanKeys(t, dir), keys)
		// A token for another host is not offered here.
		other := &Credentials{Getenv: func(k string) string { return env[k] }}
		other.AddHost("github.com", "GITHUB_TOKEN", user)
		if err := clone(plain, Options{Credentials: other}); err == nil {
			t.Error("a github.com token was offered to another host")
		}
	})
	t.Run("wrong token", func(t *testing.T) {
		env := map[string]string{AnyHostToken: "wrong-" + pass}
		err := clone(plain, Options{Credentials: &Credentials{Getenv: func(k string) string { return env[k] }}})
		if err == nil || strings.Contains(err.Error(), pass) || !strings.Contains(err.Error(), AnyHostToken) {
			t.Errorf("wrong token: %v (must fail, name the variable, not show the token)", err)
		}
	})
	t.Run("credential helper", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "gitconfig")
		helper := "!f() { test \"$1\" = get && echo username=" + user + " && echo password=" + pass + "; }; f"
		if err := os.WriteFile(cfg, []byte("[credential]\n\thelper = "+quoteConfig(helper)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GIT_CONFIG_GLOBAL", cfg)
		c := &Credentials{Getenv: func(string) string { return "" }, Helper: true}
		if err := clone(plain, Options{Credentials: c}); err != nil {
			t.Errorf("credential helper: %v", err)
		}
		c.Helper = false
		if err := clone(plain, Options{Credentials: c}); err == nil {
			t.Error("helper disabled, yet the clone authenticated")
		}
	})
}

func quoteConfig(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// TestCredentialsNotOverPlainHTTP: tokens go to https hosts and loopback
// only, never in clear text across a network.
func TestCredentialsNotOverPlainHTTP(t *testing.T) {
	env := map[string]string{AnyHostToken: "tok"}
	c := &Credentials{Getenv: func(k string) string { return env[k] }}
	for in, want := range map[string]bool{
		"http://git.example.com/r.git":  false,
		"https://git.example.com/r.git": true,
		"http://127.0.0.1:8080/r.git":   true,
		"http://localhost/r.git":        true,
		"ssh://git@git.example.com/r":   false,
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Lookup(context.Background(), e); ok != want {
			t.Errorf("Lookup(%s) = %v, want %v", in, ok, want)
		}
	}
	e, _ := Parse("http://u:p@git.example.com/r.git")
	err := Clone(context.Background(), e, t.TempDir(), Options{})
	if err == nil || !strings.Contains(err.Error(), "plain http") || strings.Contains(err.Error(), "u:p") {
		t.Errorf("credentials over plain http: %v", err)
	}
}

// TestCloneCancelled: cancelling a clone stuck in the pack transfer
// returns promptly with the context's error.
func TestCloneCancelled(t *testing.T) {
	root := t.TempDir()
	remotetest.MakeRepo(t, root, "r.git", 0, rulestest.APIKey)
	srv := remotetest.New(t, root, remotetest.Options{Stall: true})
	e, _ := Parse(srv.URL + "/r.git")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Clone(ctx, e, filepath.Join(t.TempDir(), "c"), Options{}) }()
	for srv.Stalled() == 0 {
		select {
		case err := <-done:
			t.Fatalf("clone ended before the transfer: %v", err)
		default:
		}
		waitABit()
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("cancelled clone: %v, want context.Canceled", err)
	}
}

func waitABit() { time.Sleep(10 * time.Millisecond) }

// TestCloneHEAD: the clone's HEAD follows the server's, and a server
// whose HEAD names a deleted branch is still cloned and audited (go-git's
// own clone refuses it; git clone --mirror does not).
func TestCloneHEAD(t *testing.T) {
	root := t.TempDir()
	keys := remotetest.MakeRepo(t, root, "r.git", 0, rulestest.APIKey)
	srv := remotetest.New(t, root, remotetest.Options{})
	e, _ := Parse(srv.URL + "/r.git")
	gitDir := filepath.Join(root, "r.git")

	gittest.Must(t, gitDir, nil, "symbolic-ref", "HEAD", "refs/heads/feature")
	dir := filepath.Join(t.TempDir(), "c")
	if err := Clone(context.Background(), e, dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if head := gittest.Must(t, dir, nil, "symbolic-ref", "HEAD"); head != "refs/heads/feature" {
		t.Errorf("clone HEAD = %s, want refs/heads/feature", head)
	}

	gittest.Must(t, gitDir, nil, "symbolic-ref", "HEAD", "refs/heads/gone")
	dir = filepath.Join(t.TempDir(), "c")
	if err := Clone(context.Background(), e, dir, Options{}); err != nil {
		t.Fatalf("dangling server HEAD: %v", err)
	}
	wantKeys(t, scanKeys(t, dir), keys)
}
