//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

// These tests run the real xaiscan binary as a separate process: closed
// pipes, file ownership and permissions only mean something there.

// nobody is the uid and gid tests drop to when they run as root (CI does):
// root reads every file and may chmod any, which would hide the bugs.
const nobody = 65534

// sharedDir returns a fresh directory that every user can enter and
// read, removed after the test (t.TempDir's parents are private to root).
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "xaiscan-shared-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// binary returns a copy of the xaiscan binary (the test binary testscript
// put on PATH, which runs mainExit under that name) in a directory every
// user can execute from.
func binary(t *testing.T) string {
	t.Helper()
	src, err := exec.LookPath("xaiscan")
	if err != nil {
		t.Skipf("xaiscan binary not on PATH: %v", err)
	}
	dir := sharedDir(t)
	dst := filepath.Join(dir, "xaiscan")
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// xaiscan prepares the binary to run in dir; as root, as uid nobody.
func xaiscan(t *testing.T, bin, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "HOME="+dir)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	return cmd
}

// run runs cmd and returns its output and exit code.
func run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running xaiscan: %v", err)
	}
	return out.String(), errOut.String(), code
}

// writeShared writes a file every user can read.
func writeShared(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// An unreadable file whose name holds a key: the read error names it, on
// stderr and in every report, with the key redacted.
func TestUnreadableKeyNamedFile(t *testing.T) {
	bin := binary(t)
	dir := sharedDir(t)
	key, other := rulestest.APIKey(), rulestest.APIKey()
	name := "leak-" + key + ".env"
	writeShared(t, filepath.Join(dir, "tree", "ok.env"), "K="+other+"\n", 0o644)
	writeShared(t, filepath.Join(dir, "tree", name), "K="+key+"\n", 0o000)

	for _, format := range []string{"json", "text", "sarif"} {
		stdout, stderr, code := run(t, xaiscan(t, bin, dir, "dir", "-f", format, "tree"))
		if code != exitError {
			t.Errorf("%s: exit %d, want 2 (a file could not be read)\n%s", format, code, stderr)
		}
		for what, out := range map[string]string{"stdout": stdout, "stderr": stderr} {
			if strings.Contains(out, key) || strings.Contains(out, key[len(key)-40:]) {
				t.Errorf("%s: %s shows the key in the file name", format, what)
			}
		}
		redacted := "leak-" + rules.Redact(key) + ".env"
		if format != "text" && !strings.Contains(stderr, "xaiscan: "+redacted+": open: permission denied") {
			t.Errorf("%s: stderr does not name the file redacted:\n%s", format, stderr)
		}
		if !strings.Contains(stdout, redacted) {
			t.Errorf("%s: the report does not name the file redacted", format)
		}
	}
}

// -o onto a file the user may write but not chmod (another user's, mode
// 0666, in a directory the user may write): the report replaces it with
// a file of the user's own, mode 0600. In a sticky directory, where rename
// would be refused, xaiscan says so before scanning and keeps the old
// file.
func TestReportOntoFileUserCannotChmod(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the report file to another owner")
	}
	bin := binary(t)
	dir := sharedDir(t)
	writeShared(t, filepath.Join(dir, "tree", ".env"), "K="+rulestest.APIKey()+"\n", 0o644)
	for _, sticky := range []bool{false, true} {
		out := filepath.Join(dir, fmt.Sprintf("out-%v", sticky))
		mode := os.FileMode(0o777)
		if sticky {
			mode |= os.ModeSticky
		}
		if err := os.Mkdir(out, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(out, mode)
		target := filepath.Join(out, "report.json")
		writeShared(t, target, "old report\n", 0o666)

		stdout, stderr, code := run(t, xaiscan(t, bin, dir, "dir", "-f", "json", "-o", target, "tree"))
		got, _ := os.ReadFile(target)
		fi, _ := os.Stat(target)
		if !sticky {
			var v map[string]any
			if code != exitFindings || json.Unmarshal(got, &v) != nil {
				t.Errorf("exit %d, report %q\n%s", code, got, stderr)
			}
			if fi.Mode().Perm() != 0o600 || fi.Sys().(*syscall.Stat_t).Uid != nobody {
				t.Errorf("report mode %v owner %d, want 0600 and the user's own", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Uid)
			}
			continue
		}
		if code != exitError || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "cannot be replaced") {
			t.Errorf("sticky: exit %d, stdout %q, stderr %q; want exit 2 and one line, before the scan", code, stdout, stderr)
		}
		if string(got) != "old report\n" || fi.Mode().Perm() != 0o666 {
			t.Errorf("sticky: old report changed: %q %v", got, fi.Mode())
		}
	}
}

// Two scans writing one report file at once leave one whole report (the
// one renamed last), whichever finishes first. The reports differ in size,
// so a write into a file the other truncated would show.
func TestConcurrentReportWriters(t *testing.T) {
	bin := binary(t)
	dir := sharedDir(t)
	os.Chmod(dir, 0o777)
	// Big enough reports that encoding and writing take a while, and of
	// different sizes.
	sizes := map[string]int{"big": 1500, "small": 1400}
	for tree, n := range sizes {
		writeShared(t, filepath.Join(dir, tree, "keys.env"), strings.Repeat("K="+rulestest.APIKey()+"\n", n), 0o644)
	}
	for round := 0; round < 6; round++ {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for w, tree := range []string{"big", "small"} {
			wg.Go(func() {
				_, _, codes[w] = run(t, xaiscan(t, bin, dir, "dir", "-f", "json", "-o", "shared.json", tree))
			})
		}
		wg.Wait()
		data, err := os.ReadFile(filepath.Join(dir, "shared.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct{ Findings []json.RawMessage }
		err = json.Unmarshal(data, &rep)
		if n := len(rep.Findings); err != nil || (n != sizes["big"] && n != sizes["small"]) || codes[0] != 1 || codes[1] != 1 {
			t.Fatalf("round %d: exits %v, %d findings, %v", round, codes, n, err)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

// xaiscan ... | head: the reader goes away after one line. xaiscan stops
// printing, says so, still hands every key to the revoke hook, and exits 2.
func TestClosedStdoutStillHandsEveryKey(t *testing.T) {
	gittest.Require(t) // for sh, as the hook's shell; git itself is not used
	bin := binary(t)
	dir := sharedDir(t)
	os.Chmod(dir, 0o777)
	const keys, copies = 60, 60
	// Enough report (about 200 KB: each key on 60 lines) that it cannot
	// all sit in the pipe.
	for i := 0; i < keys; i++ {
		line := "XAI_API_KEY=" + rulestest.APIKey() + "\n"
		name := fmt.Sprintf("service-with-a-rather-long-name-%03d.env", i)
		writeShared(t, filepath.Join(dir, "tree", name), strings.Repeat(line, copies), 0o644)
	}
	handed := filepath.Join(dir, "handed")
	writeShared(t, handed, "", 0o666)
	hook := `cat >/dev/null; echo "$XAISCAN_FINGERPRINT" >> ` + handed
	cmd := xaiscan(t, bin, dir, "dir", "--revoke-hook", hook, "tree")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(pipe).ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "xAI API key xai-...") {
		t.Fatalf("first line %q, %v", first, err)
	}
	pipe.Close() // | head -n 1
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitError {
		t.Errorf("xaiscan ended with %v, want exit status 2 (a signal means SIGPIPE killed it)\n%s", err, tail(stderr.String(), 5))
	}
	data, _ := os.ReadFile(handed)
	fps := map[string]bool{}
	for _, l := range strings.Fields(string(data)) {
		fps[l] = true
	}
	if len(fps) != keys {
		t.Errorf("%d of %d keys handed to the hook", len(fps), keys)
	}
	if s := stderr.String(); !strings.Contains(s, "standard output was closed (broken pipe)") ||
		!strings.Contains(s, fmt.Sprintf("%d key(s) in %d location(s)", keys, keys*copies)) ||
		!strings.Contains(s, "every key is still handed to the revoke hook") {
		t.Errorf("stderr does not say what happened:\n%s", tail(s, 5))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
