package files_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/known"
)

// nameFindings lists the part-"name" findings as "path@column".
func nameFindings(t *testing.T, res scanner.Result, key string) []string {
	t.Helper()
	var out []string
	for _, f := range res.Findings {
		if f.Part != "name" {
			continue
		}
		if f.Key != key || f.Line != 1 || f.Source != scanner.SourceFile {
			t.Errorf("name finding %+v: want key, line 1, source file", f)
		}
		out = append(out, fmt.Sprintf("%s@%d", f.Path, f.Column))
	}
	sort.Strings(out)
	return out
}

// A key in a file's or a directory's name is a finding at that path, once
// (not again for every file below the directory), located by its byte
// offset in the path; a file whose content holds the key as well has both.
func TestKeyInNames(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	write(t, dir, "leak-"+key+".txt", "nothing here\n")
	write(t, dir, "a/"+key+"/one.txt", "x\n")
	write(t, dir, "a/"+key+"/two.txt", "y\n")
	write(t, dir, "b/both-"+key, key+"\n")
	res := scan(t, []string{dir}, files.Options{})
	got := nameFindings(t, res, key)
	want := []string{"a/" + key + "@3", "b/both-" + key + "@8", "leak-" + key + ".txt@6"}
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("name findings:\n got %q\nwant %q", got, want)
	}
	content := 0
	for _, f := range res.Findings {
		if f.Part == "" {
			content++
			if f.Path != "b/both-"+key {
				t.Errorf("content finding at %q", f.Path)
			}
		}
	}
	if content != 1 || len(res.Findings) != 4 {
		t.Fatalf("want 3 name findings and 1 content finding, got %d findings", len(res.Findings))
	}
	if res.Coverage.Files != 4 {
		t.Errorf("files = %d, want 4: names are not counted as files", res.Coverage.Files)
	}
}

// Names are read for everything the walk meets, whether or not its content
// is read — a symlink not followed, a FIFO, a file over the size limit,
// git's object storage — but not for what the user excluded by path.
func TestKeyInNamesOfEntriesNotRead(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	write(t, dir, "big-"+key, strings.Repeat("z", 100))
	if err := os.Symlink("nowhere", filepath.Join(dir, "link-"+key)); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "vendor/lib-"+key+".txt", "x")
	write(t, dir, "vendor-"+key+"/x", "x")
	g, err := known.ParseGlob("vendor/**")
	if err != nil {
		t.Fatal(err)
	}
	res := scan(t, []string{dir}, files.Options{MaxFileSize: 10,
		Exclude: []files.Exclusion{{Glob: g, Origin: "--exclude"}}})
	var got []string
	for _, f := range res.Findings {
		got = append(got, f.Path)
	}
	sort.Strings(got)
	want := []string{"big-" + key, "link-" + key, "vendor-" + key}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("findings at\n%q\nwant\n%q", got, want)
	}
}

// A file named on the command line is a name too; a name with no key, or
// with a look-alike, is not a finding.
func TestKeyInNamedFileAndLookAlikes(t *testing.T) {
	dir := t.TempDir()
	key := rulestest.APIKey()
	write(t, dir, "named-"+key, "")
	write(t, dir, "short-"+key[:len(key)-1], "")
	write(t, dir, "ta"+key, "")
	write(t, dir, "placeholder-"+rules.Prefix+strings.Repeat("x", rules.BodyLen), "")
	res := scan(t, []string{filepath.Join(dir, "named-"+key)}, files.Options{})
	if len(res.Findings) != 1 || res.Findings[0].Part != "name" || res.Findings[0].Key != key {
		t.Fatalf("named file: %+v", res.Findings)
	}
	res = scan(t, []string{dir}, files.Options{})
	if len(res.Findings) != 1 || res.Findings[0].Path != "named-"+key {
		t.Fatalf("look-alikes reported: %+v", res.Findings)
	}
}
