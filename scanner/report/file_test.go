package report

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func writeReportFile(t *testing.T, path, content string) error {
	t.Helper()
	f, err := CreateFile(path)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(content)); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

func readString(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// leftovers lists the temporary files left in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, e.Name())
		}
	}
	return out
}

func wantMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != want {
		t.Errorf("%s: mode %v, want a regular file with %v", p, fi.Mode(), want)
	}
}

func TestFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := CreateFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("new report"))
	// Until the report is complete, the old file is untouched.
	if got := readString(t, p); got != "old" {
		t.Errorf("target changed before Commit: %q", got)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, p); got != "new report" {
		t.Errorf("after Commit: %q", got)
	}
	wantMode(t, p, 0o600)
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
	f.Abort() // after Commit: nothing happens
	if got := readString(t, p); got != "new report" {
		t.Errorf("Abort after Commit changed the file")
	}
}

func TestFileAbortKeepsOldReport(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	os.WriteFile(p, []byte("old"), 0o600)
	f, err := CreateFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half a rep"))
	f.Abort()
	if got := readString(t, p); got != "old" {
		t.Errorf("Abort changed the target: %q", got)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

// A symlink at the target is replaced by the report; the file it points
// to keeps its content and mode.
func TestFileReplacesSymlinkNotItsTarget(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	link := filepath.Join(dir, "report.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if err := writeReportFile(t, link, "{}"); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, victim); got != "precious" {
		t.Errorf("the link's target was written: %q", got)
	}
	wantMode(t, victim, 0o644)
	wantMode(t, link, 0o600)
	if got := readString(t, link); got != "{}" {
		t.Errorf("report = %q", got)
	}
	// A dangling link is replaced too, nothing created where it points.
	dangling := filepath.Join(dir, "dangling")
	os.Symlink(filepath.Join(dir, "nowhere"), dangling)
	if err := writeReportFile(t, dangling, "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
		t.Errorf("the dangling link was followed")
	}
}

// What can be known before a scan fails at CreateFile.
func TestFileFailsEarly(t *testing.T) {
	dir := t.TempDir()
	for name, p := range map[string]string{
		"missing directory": filepath.Join(dir, "no", "such", "r.json"),
		"directory":         dir,
	} {
		f, err := CreateFile(p)
		if err == nil {
			f.Abort()
			t.Errorf("%s: CreateFile succeeded", name)
			continue
		}
		if strings.Contains(err.Error(), ".tmp") || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%s: error names the temporary file or spans lines: %v", name, err)
		}
	}
}

// Streams named directly, and the system's aliases of open streams, are
// written in place.
func TestFileStreams(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no /dev/null")
	}
	if err := writeReportFile(t, os.DevNull, "discarded"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(os.DevNull)
	if err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", fi.Mode(), err)
	}
	if !isStreamAlias("/dev/stdout") || !isStreamAlias("/proc/self/fd/1") || isStreamAlias("report.json") {
		t.Errorf("isStreamAlias misjudges")
	}
}

// Two writers of one file each leave a whole report behind: the last
// rename wins, nothing interleaves.
func TestFileConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.json")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			doc := fmt.Sprintf(`{"writer": %d, "pad": %q}`, i, strings.Repeat("x", 200_000+i))
			f, err := CreateFile(p)
			if err != nil {
				errs <- err
				return
			}
			for j := 0; j < len(doc); j += 4096 {
				f.Write([]byte(doc[j:min(j+4096, len(doc))]))
			}
			errs <- f.Commit()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(readString(t, p)), &v); err != nil {
		t.Fatalf("the report is not one whole JSON document: %v", err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}
