package remote

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// go-git's own file:// transport runs the git-upload-pack binary; xaiscan
// must not need git at run time, so file:// URLs are served by go-git's
// in-process server instead. A file:// URL is cloned like any remote (what
// a clone would get); a plain path is read in place, unreachable objects
// and all.
func init() {
	client.InstallProtocol("file", server.NewClient(localLoader{}))
}

// localLoader opens the repository a file:// URL names: a bare repository,
// a work tree's .git directory, or the directory a .git file points to.
type localLoader struct{}

// Load implements server.Loader.
func (localLoader) Load(ep *transport.Endpoint) (storer.Storer, error) {
	dir := filepath.FromSlash(ep.Path)
	gitDir, ok := gitDirOf(dir)
	if !ok {
		return nil, transport.ErrRepositoryNotFound
	}
	fs := osfs.New(gitDir)
	return filesystem.NewStorageWithOptions(fs, cache.NewObjectLRUDefault(), filesystem.Options{
		AlternatesFS: osfs.New("/"),
	}), nil
}

// gitDirOf finds the git directory of dir: dir itself when bare, its .git
// directory, or the target of its .git file.
func gitDirOf(dir string) (string, bool) {
	if isGitDir(dir) {
		return dir, true
	}
	dotGit := filepath.Join(dir, ".git")
	fi, err := os.Stat(dotGit)
	if err != nil {
		return "", false
	}
	if fi.IsDir() {
		return dotGit, isGitDir(dotGit)
	}
	b, err := os.ReadFile(dotGit)
	if err != nil {
		return "", false
	}
	target, ok := strings.CutPrefix(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]), "gitdir:")
	if !ok {
		return "", false
	}
	target = strings.TrimSpace(target)
	if !filepath.IsAbs(target) {
		target = filepath.Join(dir, target)
	}
	return target, isGitDir(target)
}

func isGitDir(dir string) bool {
	for _, sub := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			return false
		}
	}
	return true
}
