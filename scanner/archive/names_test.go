package archive

import (
	"archive/zip"
	"bytes"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// findingsAt lists findings as "part:path@column".
func findingsAt(res scanner.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, fmt.Sprintf("%s:%s@%d", f.Part, f.Path, f.Column))
	}
	sort.Strings(out)
	return out
}

// A key in a member's name, or in a directory of the member's path, is a
// finding at that path inside the container (once per directory, however
// many members lie below it), and not also at the container's raw bytes
// where a zip or tar stores the name uncompressed. A member whose name
// and content both hold the key has both findings.
func TestKeyInMemberNames(t *testing.T) {
	key := rulestest.APIKey()
	members := []file{
		{"leak-" + key + ".txt", []byte("nothing\n")},
		{"d/" + key + "/a.txt", []byte("a\n")},
		{"d/" + key + "/b.txt", []byte("b\n")},
		{"both-" + key, []byte(key + "\n")},
	}
	want := func(outer string) []string {
		w := []string{
			"name:" + outer + "!leak-" + key + ".txt@" + fmt.Sprint(len(outer)+7),
			"name:" + outer + "!d/" + key + "@" + fmt.Sprint(len(outer)+4),
			"name:" + outer + "!both-" + key + "@" + fmt.Sprint(len(outer)+7),
			":" + outer + "!both-" + key + "@1",
		}
		sort.Strings(w)
		return w
	}
	for _, tc := range []struct {
		outer string
		data  []byte
	}{
		{"x.zip", makeZip(t, zip.Store, members...)},
		{"x.zip", makeZip(t, zip.Deflate, members...)},
		{"x.tar", makeTar(t, members...)},
		{"x.tgz", gz(t, "", makeTar(t, members...))},
	} {
		for _, it := range []scanner.Item{dataItem(tc.outer, tc.data), streamItem(tc.outer, tc.data)} {
			got := findingsAt(scan(t, Options{}, it))
			if strings.Join(got, "\n") != strings.Join(want(tc.outer), "\n") {
				t.Errorf("%s (%s):\n got %q\nwant %q", tc.outer, it.Source, got, want(tc.outer))
			}
		}
	}
}

// A gzip header's own name is a member name; the name of the one member
// of a compressed file, when it is the container's own name, is not
// reported again (the container's name is scanned where it was met). A
// header that stores that name still holds the key in the container's raw
// bytes, which is reported as such.
func TestKeyInGzipHeaderName(t *testing.T) {
	key := rulestest.APIKey()
	got := findingsAt(scan(t, Options{}, dataItem("logs/app.gz", gz(t, "dump-"+key+".sql", []byte("plain\n")))))
	if want := "name:logs/app.gz!dump-" + key + ".sql@18"; len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	outer := "leak-" + key + ".log.gz"
	if got := findingsAt(scan(t, Options{}, dataItem(outer, gz(t, "", []byte("plain\n"))))); len(got) != 0 {
		t.Errorf("derived name: %q", got)
	}
	got = findingsAt(scan(t, Options{}, dataItem(outer, gz(t, "leak-"+key+".log", []byte("plain\n")))))
	if want := ":" + outer + "@16"; len(got) != 1 || got[0] != want {
		t.Errorf("header with the outer name: %q, want %q", got, want)
	}
}

// A key in a member name of an archive in a git blob keeps the blob's
// attribution fields, for the git source to place at the blob's path.
func TestKeyInMemberNameOfGitBlob(t *testing.T) {
	key := rulestest.APIKey()
	obj := strings.Repeat("cd", 20)
	blob := scanner.Item{Source: scanner.SourceGit, Object: obj, Size: -1, Counts: scanner.CountBlob,
		Template: scanner.Finding{Commit: "c0ffee"},
		Data:     makeZip(t, zip.Deflate, file{"conf/" + key + ".env", []byte("nothing\n")})}
	res := scan(t, Options{}, blob)
	if len(res.Findings) != 1 {
		t.Fatalf("%d findings", len(res.Findings))
	}
	f := res.Findings[0]
	if f.Path != obj+"!conf/"+key+".env" || f.Part != "name" || f.Object != obj || f.Commit != "c0ffee" || f.Source != scanner.SourceGit {
		t.Errorf("%+v", f)
	}
}

// Entries that are no members — an empty file in a tar, an empty
// directory, a symlink — are in the archive's listing: their names are
// scanned too.
func TestKeyInNamesOfEntriesWithoutData(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	if _, err := zw.Create("empty-" + k2 + "/"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		outer string
		data  []byte
		want  []string
	}{
		{"e.tar", makeTar(t, file{"empty-" + k1 + ".txt", nil}, file{"empty-" + k2 + "/", nil}),
			[]string{"name:e.tar!empty-" + k1 + ".txt@13", "name:e.tar!empty-" + k2 + "@13"}},
		{"e.zip", zb.Bytes(), []string{"name:e.zip!empty-" + k2 + "@13"}},
	} {
		got := findingsAt(scan(t, Options{}, dataItem(tc.outer, tc.data)))
		sort.Strings(tc.want)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s:\n got %q\nwant %q", tc.outer, got, tc.want)
		}
	}
}
