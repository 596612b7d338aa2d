package fleet

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/scanner"
)

func TestReadList(t *testing.T) {
	in := "# our repositories\n\n  https://u:tok@git.example.com/a.git  \n./local/repo\n\t# indented comment\nftp://nope/x\ngit@github.com:org/b.git\n"
	repos, err := ReadList("repos.txt", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, r := range repos {
		labels = append(labels, r.Label)
	}
	want := []string{"https://git.example.com/a.git", "local/repo", "repos.txt:6", "git@github.com:org/b.git"}
	if !slices.Equal(labels, want) {
		t.Fatalf("labels %q, want %q", labels, want)
	}
	if repos[0].Remote == nil || !repos[0].Remote.HasCredentials() || repos[1].Path != "./local/repo" {
		t.Errorf("entries not parsed as URL with credentials and path: %+v %+v", repos[0], repos[1])
	}
	bad := repos[2].Skip
	if bad == nil || !bad.IsError() || !strings.Contains(bad.Reason, "unsupported scheme") {
		t.Errorf("bad line: %+v, want an error entry naming the problem", bad)
	}
}

func TestParseShard(t *testing.T) {
	for in, want := range map[string]Shard{"0/1": {0, 1}, "0/4": {0, 4}, "3/4": {3, 4}} {
		got, err := ParseShard(in)
		if err != nil || got != want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1", "4/4", "-1/4", "1/0", "a/b", "1/4/2", " 1/4", "1/-3"} {
		if _, err := ParseShard(in); err == nil {
			t.Errorf("ParseShard(%q) succeeded", in)
		}
	}
}

// TestSelectShards: shards of one list are disjoint, together the whole
// (sorted, de-duplicated) list, and each is every N-th entry from the K-th.
func TestSelectShards(t *testing.T) {
	var repos []Repo
	for i := 0; i < 23; i++ {
		r, _ := ParseRepo(fmt.Sprintf("https://git.example.com/r%02d.git", (i*7)%23))
		repos = append(repos, r)
	}
	// Duplicates: the same URL with credentials, and an excluded twin.
	dup, _ := ParseRepo("https://u:p@git.example.com/r05.git")
	skip := scanner.ExcludedAt("https://git.example.com/r06.git", "fork")
	repos = append(repos, dup, Repo{Label: skip.Path, Skip: &skip})
	whole := Select(repos, Shard{})
	if len(whole) != 23 {
		t.Fatalf("whole list has %d entries, want 23 distinct", len(whole))
	}
	for i := 1; i < len(whole); i++ {
		if whole[i-1].Label >= whole[i].Label {
			t.Fatalf("not sorted at %d: %s >= %s", i, whole[i-1].Label, whole[i].Label)
		}
	}
	if r := whole[6]; r.Skip != nil {
		t.Errorf("an entry to scan lost to its excluded twin: %+v", r)
	}
	for _, n := range []int{1, 2, 3, 5, 23, 40} {
		seen := map[string]int{}
		for k := 0; k < n; k++ {
			part := Select(repos, Shard{K: k, N: n})
			for i, r := range part {
				if want := whole[k+i*n].Label; r.Label != want {
					t.Fatalf("shard %d/%d entry %d = %s, want %s", k, n, i, r.Label, want)
				}
				seen[r.Label]++
			}
		}
		if len(seen) != len(whole) {
			t.Errorf("N=%d: shards cover %d entries, want %d", n, len(seen), len(whole))
		}
		for l, c := range seen {
			if c != 1 {
				t.Errorf("N=%d: %s in %d shards", n, l, c)
			}
		}
	}
}

func TestFromListing(t *testing.T) {
	got := FromListing([]Listed{
		{Name: "o/a", CloneURL: "https://git.example.com/o/a.git"},
		{Name: "o/old", CloneURL: "https://git.example.com/o/old.git", Archived: true},
		{Name: "o/fork", CloneURL: "https://git.example.com/o/fork.git", Fork: true},
		{Name: "o/bad", CloneURL: "gopher://x"},
	}, false)
	if len(got) != 4 || got[0].Skip != nil || got[1].Skip != nil {
		t.Fatalf("archived repositories must be audited: %+v", got)
	}
	if s := got[2].Skip; s == nil || s.Kind != scanner.KindExcluded || !strings.Contains(s.Reason, "--include-forks") {
		t.Errorf("fork: %+v, want an exclusion naming --include-forks", s)
	}
	if s := got[3].Skip; s == nil || !s.IsError() || s.Path != "o/bad" {
		t.Errorf("bad clone URL: %+v, want an error for o/bad", s)
	}
	if withForks := FromListing([]Listed{{Name: "o/fork", CloneURL: "https://git.example.com/o/fork.git", Fork: true}}, true); withForks[0].Skip != nil {
		t.Error("--include-forks still skipped the fork")
	}
}
