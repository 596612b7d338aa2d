package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner/gittest"
	"github.com/xaiscan/xaiscan/scanner/report"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

// runApp runs the CLI in-process, in the current directory, and returns
// what it wrote and its exit code.
func runApp(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: os.Getenv}
	code = a.run(context.Background(), args)
	return out.String(), errOut.String(), code
}

// hostileFileNames are names a stranger's repository can give files: a
// screen clear and a window title, a newline that forges a CI workflow
// command, carriage return and tab, C1 controls (CSI, OSC) as UTF-8 and as
// raw bytes, DEL, Latin-1 bytes that are not UTF-8, a bidirectional
// override.
var hostileFileNames = []string{
	"clear\x1b[2J\x1b]0;owned\x07.env",
	"x\n::error::forged.env",
	"cr\roverwrite\ttab.env",
	"csi\u009b31m-osc\u009d0;t\u009c.env",
	"raw\x9b\x9d.env",
	"del\x7f.env",
	"latin1-\xe9t\xe9.env",
	"rtl\u202evne.txt",
}

// escapedFileNames are the same names as the text report shows them.
var escapedFileNames = []string{
	`clear\x1b[2J\x1b]0;owned\x07.env`,
	`x\n::error::forged.env`,
	`cr\roverwrite\ttab.env`,
	`csi\u009b31m-osc\u009d0;t\u009c.env`,
	`raw\x9b\x9d.env`,
	`del\x7f.env`,
	`latin1-\xe9t\xe9.env`,
	`rtl\u202evne.txt`,
}

// assertInert fails if out could act on a terminal or a CI log: a raw
// control character (C0 but the line feed, DEL, C1 as UTF-8 or as a raw
// byte), a byte that is not UTF-8, a bidirectional override, or a line
// that a name managed to start.
func assertInert(t *testing.T, what, out string) {
	t.Helper()
	for i := 0; i < len(out); {
		r, n := utf8.DecodeRuneInString(out[i:])
		if (r == utf8.RuneError && n == 1) || (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e {
			t.Fatalf("%s: raw %q at byte %d:\n%s", what, out[i:i+n], i, out)
		}
		i += n
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "::error::") {
			t.Errorf("%s: a name started a line: %q", what, line)
		}
	}
}

// hostileTree writes one file per hostile name under root/tree, each
// holding its own key, and returns the keys by name.
func hostileTree(t *testing.T, root string) map[string]string {
	t.Helper()
	keys := map[string]string{}
	for _, name := range hostileFileNames {
		k := rulestest.APIKey()
		keys[name] = k
		gittest.WriteFile(t, root, "tree/"+name, "XAI_API_KEY="+k+"\n")
	}
	return keys
}

func TestHostileFileNamesReachNoTerminal(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	keys := hostileTree(t, root)
	missing := "gone\x1b]0;t\x07\n::error::forged\u009b"

	stdout, stderr, code := runApp(t, "dir", "tree", missing)
	if code != exitError {
		t.Errorf("exit %d, want 2 (a path was missing)", code)
	}
	assertInert(t, "text report", stdout)
	assertInert(t, "stderr", stderr)
	for _, want := range escapedFileNames {
		if !strings.Contains(stdout, "tree/"+want+":1:13") {
			t.Errorf("text report lacks %s", want)
		}
	}
	if !strings.Contains(stdout, `gone\x1b]0;t\x07\n::error::forged\u009b: `) {
		t.Errorf("the missing path is not listed escaped:\n%s", stdout)
	}
	for _, k := range keys {
		if strings.Contains(stdout, k) || !strings.Contains(stdout, rules.Redact(k)) {
			t.Errorf("key %s not shown redacted", rules.Redact(k))
		}
	}

	// With a machine-readable report the unreadable path is echoed on
	// stderr, through the same layer.
	_, stderr, _ = runApp(t, "dir", "-f", "json", "-o", "report.json", "tree", missing)
	assertInert(t, "stderr", stderr)
	if !strings.Contains(stderr, `xaiscan: gone\x1b]0;t\x07\n::error::forged\u009b: `) {
		t.Errorf("stderr does not echo the missing path escaped:\n%s", stderr)
	}
}

// A JSON report holds every name exactly (path_bytes for those that are
// not UTF-8), and xaiscan verify reads it back and writes it again without
// losing a byte.
func TestHostileFileNamesRoundTripThroughJSON(t *testing.T) {
	fake := xaitest.New(t)
	t.Setenv("XAI_API_BASE_URL", fake.API.URL)
	t.Setenv("XAI_MANAGEMENT_API_BASE_URL", fake.Mgmt.URL)
	root := t.TempDir()
	t.Chdir(root)
	hostileTree(t, root)
	if _, stderr, code := runApp(t, "dir", "-f", "json", "--show-secrets", "-o", "report.json", "tree"); code != exitFindings {
		t.Fatalf("scan: exit %d\n%s", code, stderr)
	}
	want := append([]string(nil), hostileFileNames...)
	sort.Strings(want)
	if got := reportPaths(t, "report.json"); !equalStrings(got, want) {
		t.Errorf("scan report paths:\n got %q\nwant %q", got, want)
	}
	_, stderr, _ := runApp(t, "verify", "-f", "json", "-o", "verified.json", "report.json")
	if got := reportPaths(t, "verified.json"); !equalStrings(got, want) {
		t.Errorf("verify report paths:\n got %q\nwant %q\n%s", got, want, stderr)
	}
	raw, _ := os.ReadFile("verified.json")
	if !bytes.Contains(raw, []byte(`"path_bytes"`)) || bytes.Contains(raw, []byte("\uFFFD")) {
		t.Errorf("non-UTF-8 names are not kept as path_bytes")
	}
}

func reportPaths(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := report.ReadJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	var out []string
	for _, fd := range rep.Findings {
		out = append(out, fd.Path)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The same names in a git tree, and an author and e-mail that try to
// erase the lines above them, are shown escaped by the history scan and
// kept exactly in its JSON report.
func TestHostileGitHistory(t *testing.T) {
	gittest.Require(t)
	repo := t.TempDir()
	env := []string{"GIT_CONFIG_GLOBAL=" + os.DevNull, "GIT_CONFIG_NOSYSTEM=1"}
	gittest.Must(t, repo, env, "init", "-q")
	hostileTree(t, repo)
	author := "Mallory\x1b[1A\x1b[2K\u009b2J"
	email := "m\x1b]0;t\x07@example.com"
	gittest.Must(t, repo, env, "add", "-A")
	gittest.Must(t, repo, append(env, "GIT_AUTHOR_NAME="+author, "GIT_AUTHOR_EMAIL="+email),
		"commit", "-q", "-m", "innocent\x1b[2J")
	// git re-encodes identities it is given; a commit object written by
	// hand carries any bytes, such as a raw C1 CSI that is not UTF-8.
	rawAuthor := "Raw\x9b2J\xff <raw\x9d@example.com> 1700000000 +0000"
	k := rulestest.APIKey()
	gittest.WriteFile(t, repo, "later.env", "K="+k+"\n")
	gittest.Must(t, repo, env, "add", "later.env")
	tree := gittest.Must(t, repo, env, "write-tree")
	head := gittest.Must(t, repo, env, "rev-parse", "HEAD")
	obj := "tree " + tree + "\nparent " + head + "\nauthor " + rawAuthor + "\ncommitter " + rawAuthor + "\n\nraw\n"
	c, err := gittest.Run(repo, env, obj, "hash-object", "-t", "commit", "-w", "--literally", "--stdin")
	if err != nil {
		t.Fatalf("hash-object: %v %s", err, c)
	}
	gittest.Must(t, repo, env, "update-ref", "HEAD", strings.TrimSpace(c))

	stdout, stderr, code := runApp(t, "git", repo)
	if code != exitFindings {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	assertInert(t, "text report", stdout)
	assertInert(t, "stderr", stderr)
	for _, want := range append(escapedFileNames, `Mallory\x1b[1A\x1b[2K\u009b2J <m\x1b]0;t\x07@example.com>`, `Raw\x9b2J\xff <raw\x9d@example.com>`) {
		if !strings.Contains(stdout, want) {
			t.Errorf("history report lacks %s", want)
		}
	}

	out := filepath.Join(t.TempDir(), "history.json")
	runApp(t, "git", "-f", "json", "-o", out, repo)
	want := []string{"later.env"}
	for _, n := range hostileFileNames {
		want = append(want, "tree/"+n)
	}
	sort.Strings(want)
	if got := reportPaths(t, out); !equalStrings(got, want) {
		t.Errorf("history report paths:\n got %q\nwant %q", got, want)
	}
	var doc struct {
		Findings []struct{ Path, Author, Email string }
	}
	raw, _ := os.ReadFile(out)
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Findings) == 0 {
		t.Fatalf("history.json: %v", err)
	}
	for _, f := range doc.Findings {
		wantAuthor, wantEmail := author, email
		if f.Path == "later.env" {
			wantAuthor, wantEmail = `Raw\x9b2J\xff`, `raw\x9d@example.com`
		}
		if f.Author != wantAuthor || f.Email != wantEmail {
			t.Errorf("%q: author %q <%q>, want exactly %q <%q>", f.Path, f.Author, f.Email, wantAuthor, wantEmail)
		}
	}
}

// A report that stdout cannot take still reaches the terminal, on
// stderr, and the exit code says it was not delivered.
func TestStdoutFailureFallsBackToStderr(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	k := rulestest.APIKey()
	gittest.WriteFile(t, root, "tree/.env", "K="+k+"\n")
	var errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: failingWriter{}, stderr: &errOut, getenv: os.Getenv}
	code := a.run(context.Background(), []string{"dir", "tree"})
	if code != exitError {
		t.Errorf("exit %d, want 2", code)
	}
	if s := errOut.String(); !strings.Contains(s, "could not write the report to standard output") || !strings.Contains(s, rules.Redact(k)) {
		t.Errorf("stderr:\n%s", s)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }

// A key in a path named on the command line is redacted in the error line
// on stderr, even with --show-secrets, which shows it in the report only:
// stderr ends up in CI logs.
func TestStderrNeverShowsAKey(t *testing.T) {
	t.Chdir(t.TempDir())
	k := rulestest.APIKey()
	missing := "leak-" + k + ".env"
	for _, show := range []bool{false, true} {
		args := []string{"dir", "-f", "json", missing}
		if show {
			args = append(args, "--show-secrets")
		}
		stdout, stderr, code := runApp(t, args...)
		if code != exitError || strings.Contains(stderr, k) || !strings.Contains(stderr, "xaiscan: leak-"+rules.Redact(k)+".env: ") {
			t.Errorf("show=%v: exit %d, stderr:\n%s", show, code, rules.Redact(stderr))
		}
		if inReport := strings.Contains(stdout, missing); inReport != show {
			t.Errorf("show=%v: the report shows the full name: %v", show, inReport)
		}
	}
	// A failed -o falls back to the terminal, redacted: the full keys
	// were meant for the file.
	gittest.WriteFile(t, ".", "tree/.env", "K="+k+"\n")
	if _, err := os.Stat("/dev/full"); err == nil {
		stdout, stderr, code := runApp(t, "dir", "-f", "json", "--show-secrets", "-o", "/dev/full", "tree")
		if code != exitError || strings.Contains(stdout+stderr, k) || !strings.Contains(stdout, rules.Redact(k)) {
			t.Errorf("fallback: exit %d, key shown %v", code, strings.Contains(stdout+stderr, k))
		}
	}
}
