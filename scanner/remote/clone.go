package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// ErrEmpty is returned for a repository whose server advertises no refs:
// there is no history to audit.
var ErrEmpty = errors.New("the repository is empty (the server advertises no refs)")

// Options configure Clone.
type Options struct {
	// Credentials are offered when the server asks for authentication
	// and the URL carried none; nil offers nothing.
	Credentials *Credentials
	// Getenv reads XAISCAN_SSH_KEY, XAISCAN_SSH_KEY_PASSPHRASE, SSH_AUTH_SOCK
	// and HOME; nil means os.Getenv.
	Getenv func(string) string
}

func (o Options) getenv(k string) string {
	if o.Getenv == nil {
		return os.Getenv(k)
	}
	return o.Getenv(k)
}

// Clone makes a bare, mirror-like clone of e in dir (absent or empty):
// every ref the server advertises, under its own name. The first attempt
// offers only what the URL itself carries (or, for ssh, the agent or key);
// when the server asks for authentication, the credentials from
// o.Credentials are offered and the clone is tried once more. Errors are
// one line and hold no credential.
func Clone(ctx context.Context, e Endpoint, dir string, o Options) error {
	auth, err := initialAuth(e, o)
	if err != nil {
		return err
	}
	secrets := []string{e.password}
	err = cloneOnce(ctx, e, dir, auth)
	if err != nil && !e.HasCredentials() && e.isHTTP() && needsAuth(err) && ctx.Err() == nil {
		if cred, ok := o.Credentials.Lookup(ctx, e); ok {
			secrets = append(secrets, cred.Password)
			if rerr := resetDir(dir); rerr != nil {
				return rerr
			}
			err = cloneOnce(ctx, e, dir, &githttp.BasicAuth{Username: cred.User, Password: cred.Password})
			if err != nil {
				err = fmt.Errorf("with the credentials from %s: %w", cred.From, err)
			}
		}
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return ErrEmpty
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New(scrub(err.Error(), secrets))
}

// mirrorSpec maps every ref the server advertises to the same name.
const mirrorSpec = config.RefSpec("+refs/*:refs/*")

// cloneOnce is `git clone --mirror` with go-git: a bare repository, every
// advertised ref fetched under its own name, and HEAD pointed where the
// server's points. Unlike go-git's clone it does not need the server's
// HEAD to resolve: a repository whose default branch was deleted is still
// audited.
func cloneOnce(ctx context.Context, e Endpoint, dir string, auth transport.AuthMethod) error {
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		return fmt.Errorf("creating the clone: %w", err)
	}
	rem, err := repo.CreateRemote(&config.RemoteConfig{
		Name: "origin", URLs: []string{e.URL}, Fetch: []config.RefSpec{mirrorSpec}, Mirror: true,
	})
	if err != nil {
		return fmt.Errorf("creating the clone: %w", err)
	}
	advertised, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth})
	if err != nil {
		return err
	}
	if len(advertised) == 0 {
		return transport.ErrEmptyRemoteRepository
	}
	err = rem.FetchContext(ctx, &git.FetchOptions{Auth: auth, RefSpecs: []config.RefSpec{mirrorSpec}, Tags: git.AllTags})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	return setHead(repo, advertised)
}

// setHead points the clone's HEAD at the branch the server's HEAD names
// (or, from a server that does not say, the branch at the same commit,
// main or master first). A server without a HEAD leaves the clone's unborn.
func setHead(repo *git.Repository, advertised []*plumbing.Reference) error {
	var head *plumbing.Reference
	for _, r := range advertised {
		if r.Name() == plumbing.HEAD {
			head = r
		}
	}
	if head == nil {
		return nil
	}
	target := head.Target()
	if head.Type() == plumbing.HashReference {
		target = ""
		for _, r := range advertised {
			if r.Name().IsBranch() && r.Type() == plumbing.HashReference && r.Hash() == head.Hash() &&
				(target == "" || r.Name() == "refs/heads/main" || (r.Name() == "refs/heads/master" && target != "refs/heads/main")) {
				target = r.Name()
			}
		}
		if target == "" {
			return repo.Storer.SetReference(plumbing.NewHashReference(plumbing.HEAD, head.Hash()))
		}
	}
	if _, err := repo.Storer.Reference(target); err != nil {
		return nil
	}
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, target)); err != nil {
		return fmt.Errorf("setting HEAD: %w", err)
	}
	return nil
}

// needsAuth reports whether a clone failed for want of credentials. Hosts
// answer 404 for a private repository asked for anonymously, so that
// counts too.
func needsAuth(err error) bool {
	return errors.Is(err, transport.ErrAuthenticationRequired) ||
		errors.Is(err, transport.ErrAuthorizationFailed) ||
		errors.Is(err, transport.ErrRepositoryNotFound)
}

// initialAuth is what the first attempt offers: the URL's own user
// information over http(s), a key or the agent over ssh.
func initialAuth(e Endpoint, o Options) (transport.AuthMethod, error) {
	switch {
	case e.isHTTP() && e.HasCredentials():
		if e.Scheme == "http" && !e.IsLoopback() {
			return nil, fmt.Errorf("refusing to send the credentials in %s over plain http (use https)", e.Label)
		}
		return &githttp.BasicAuth{Username: e.user, Password: e.password}, nil
	case e.Scheme == "ssh":
		return sshAuth(e, o)
	}
	return nil, nil
}

// sshAuth picks the ssh identity: XAISCAN_SSH_KEY (a private key file,
// passphrase in XAISCAN_SSH_KEY_PASSPHRASE), else the ssh agent when one
// runs (go-git's default), else the first unencrypted default key in
// ~/.ssh. Host keys are always checked against known_hosts
// (SSH_KNOWN_HOSTS, ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts).
func sshAuth(e Endpoint, o Options) (transport.AuthMethod, error) {
	user := e.user
	if user == "" {
		user = "git"
	}
	if key := o.getenv("XAISCAN_SSH_KEY"); key != "" {
		auth, err := gitssh.NewPublicKeysFromFile(user, key, o.getenv("XAISCAN_SSH_KEY_PASSPHRASE"))
		if err != nil {
			return nil, fmt.Errorf("XAISCAN_SSH_KEY: %s", scrub(err.Error(), []string{o.getenv("XAISCAN_SSH_KEY_PASSPHRASE")}))
		}
		return auth, nil
	}
	if o.getenv("SSH_AUTH_SOCK") != "" {
		return nil, nil
	}
	if home := o.getenv("HOME"); home != "" {
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			p := filepath.Join(home, ".ssh", name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			if auth, err := gitssh.NewPublicKeysFromFile(user, p, ""); err == nil {
				return auth, nil
			}
		}
	}
	return nil, nil
}

// resetDir empties dir for a second attempt.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing the clone directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("clearing the clone directory: %w", err)
	}
	return nil
}

// maxReason bounds an error's length: a server's error page can be long.
const maxReason = 300

// scrub makes err text safe to print: one line, bounded, with every
// secret and key-shaped string replaced.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	msg = strings.Join(strings.Fields(msg), " ")
	msg = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, msg)
	msg = RedactKeys(msg)
	if len(msg) > maxReason {
		cut := maxReason
		for cut > 0 && (msg[cut]&0xC0) == 0x80 {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}
