package files_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/known"
)

func exclusions(t *testing.T, patterns ...string) []files.Exclusion {
	t.Helper()
	var out []files.Exclusion
	for _, p := range patterns {
		g, err := known.ParseGlob(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, files.Exclusion{Glob: g, Origin: "--exclude"})
	}
	return out
}

func excluded(res scanner.Result) map[string]string {
	m := map[string]string{}
	for _, s := range res.Coverage.Skipped {
		if s.Kind == scanner.KindExcluded {
			m[s.Path] = s.Reason
		}
	}
	return m
}

// Excluded paths are listed as exclusions with the pattern that matched;
// an excluded directory is one entry, and is not entered.
func TestExcludeGlobs(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	for _, p := range []string{"src/a.env", "vendor/x/b.env", "src/c.log", "docs/d.md", "docs/deep/e.md", "src/testdata/f.env"} {
		write(t, dir, p, "k="+key+"\n")
	}
	res := scan(t, []string{dir}, files.Options{Exclude: exclusions(t, "vendor", "*.log", "docs/**/*.md", "**/testdata/**")})
	if got := paths(res); got != "src/a.env" {
		t.Fatalf("findings in %q", got)
	}
	want := map[string]string{
		"vendor":         `excluded by --exclude "vendor"`,
		"src/c.log":      `excluded by --exclude "*.log"`,
		"docs/d.md":      `excluded by --exclude "docs/**/*.md"`,
		"docs/deep/e.md": `excluded by --exclude "docs/**/*.md"`,
		"src/testdata":   `excluded by --exclude "**/testdata/**"`,
	}
	got := excluded(res)
	if len(got) != len(want) || res.Coverage.Partial() {
		t.Fatalf("excluded %v, skipped %+v", got, res.Coverage.Skipped)
	}
	for p, r := range want {
		if got[p] != r {
			t.Errorf("%s: %q, want %q", p, got[p], r)
		}
	}
	if res.Coverage.Files != 1 {
		t.Errorf("%d files read, want 1", res.Coverage.Files)
	}
}

// Files above the size limit are not read, and say so.
func TestMaxFileSize(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	write(t, dir, "small.env", "k="+key+"\n")
	big := strings.Repeat("x", 5000) + "\nk=" + key + "\n"
	write(t, dir, "big.log", big)
	res := scan(t, []string{dir}, files.Options{MaxFileSize: 4096})
	if got := paths(res); got != "small.env" {
		t.Fatalf("findings in %q", got)
	}
	if r := excluded(res)["big.log"]; r != fmt.Sprintf("larger than the size limit (%d bytes > 4 KiB, --max-file-size)", len(big)) {
		t.Fatalf("big.log: %q (skipped %+v)", r, res.Coverage.Skipped)
	}
	// Named explicitly, the limit applies too.
	res = scan(t, []string{filepath.Join(dir, "big.log")}, files.Options{MaxFileSize: 4096})
	if len(res.Findings) != 0 || len(excluded(res)) != 1 {
		t.Fatalf("named: %+v", res.Coverage.Skipped)
	}
}

// childEnv makes the test binary scan a directory and print the result,
// instead of running tests: the parent runs it as another user.
const childEnv = "XAISCAN_FILES_TEST_SCAN"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(childScan(dir, os.Getenv(childEnv+"_EXCLUDE")))
	}
	os.Exit(m.Run())
}

// childScan scans dir with the excludes (comma-separated) and writes the
// coverage as JSON to stdout.
func childScan(dir, patterns string) int {
	var o files.Options
	for _, p := range strings.Split(patterns, ",") {
		if p == "" {
			continue
		}
		g, err := known.ParseGlob(p)
		if err != nil {
			return 3
		}
		o.Exclude = append(o.Exclude, files.Exclusion{Glob: g, Origin: "--exclude"})
	}
	res, err := scanner.New(scanner.Options{}).Run(context.Background(), files.New([]string{dir}, o))
	if err != nil {
		return 3
	}
	json.NewEncoder(os.Stdout).Encode(res.Coverage)
	return 0
}

// An unreadable file or directory that is excluded is never opened, so it
// cannot make the scan partial; the same tree without the excludes is
// partial (which shows the files really are unreadable). Run as a user
// that cannot read them: uid 65534 when the tests run as root.
func TestExcludedUnreadableIsNotAnError(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits do not make files unreadable on Windows")
	}
	dir, err := os.MkdirTemp("", "xaiscan-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	write(t, dir, "ok.txt", "hello\n")
	write(t, dir, "secret/k.env", "k="+rulestest.APIKey()+"\n")
	write(t, dir, "locked.key", "k="+rulestest.APIKey()+"\n")
	for p, mode := range map[string]os.FileMode{"": 0o755, "ok.txt": 0o644, "secret": 0o700, "locked.key": 0o600} {
		if err := os.Chmod(filepath.Join(dir, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	run := scanAsOther(t, dir)
	partial, skipped := run("")
	if !partial || len(skipped) != 2 {
		t.Fatalf("without excludes: partial %v, skipped %+v (want both unreadable paths as errors)", partial, skipped)
	}
	partial, skipped = run("secret,*.key")
	if partial || len(skipped) != 2 {
		t.Fatalf("with excludes: partial %v, skipped %+v", partial, skipped)
	}
	for _, s := range skipped {
		if s.Kind != scanner.KindExcluded {
			t.Errorf("%+v", s)
		}
	}
}

// scanAsOther returns a function that scans dir with some excludes as a
// user who cannot read root's 0600 files: this process when it is not
// root, else a copy of the test binary run as uid 65534.
func scanAsOther(t *testing.T, dir string) func(excludes string) (bool, []scanner.Skipped) {
	if os.Geteuid() != 0 {
		return func(excludes string) (bool, []scanner.Skipped) {
			var o files.Options
			if excludes != "" {
				o.Exclude = exclusions(t, strings.Split(excludes, ",")...)
			}
			res := scan(t, []string{dir}, o)
			return res.Coverage.Partial(), res.Coverage.Skipped
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	bin := filepath.Join(dir, "files.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	return func(excludes string) (bool, []scanner.Skipped) {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_EXCLUDE="+excludes)
		runAs(cmd, 65534, 65534)
		out, err := cmd.Output()
		if err != nil {
			t.Skipf("cannot run the scan as uid 65534 here: %v", err)
		}
		var cov scanner.Coverage
		if err := json.Unmarshal(out, &cov); err != nil {
			t.Fatalf("child output %q: %v", out, err)
		}
		return cov.Partial(), cov.Skipped
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// A trailing slash excludes directories only, as in gitignore: a file of
// that name is still read, a directory of that name is not entered.
func TestExcludeDirectoryOnly(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	for _, p := range []string{"build", "src/build/x.env", "top", "other/top/y.env"} {
		write(t, dir, p, "k="+key+"\n")
	}
	res := scan(t, []string{dir}, files.Options{Exclude: exclusions(t, "build/", "/other/top/")})
	if got := paths(res); got != "build top" {
		t.Fatalf("findings in %q, want the two files named like the patterns", got)
	}
	got := excluded(res)
	if got["src/build"] != `excluded by --exclude "build/"` || got["other/top"] != `excluded by --exclude "/other/top/"` || len(got) != 2 {
		t.Fatalf("excluded %v", got)
	}
}
