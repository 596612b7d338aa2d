package staged

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// nameLocs lists the part-"name" findings as "path@column".
func nameLocs(res scanner.Result) []string {
	var out []string
	for _, f := range res.Findings {
		if f.Part == "name" && f.Line == 1 && f.Source == scanner.SourceStaged {
			out = append(out, fmt.Sprintf("%s@%d", f.Path, f.Column))
		}
	}
	sort.Strings(out)
	return out
}

// A key in the path of a staged file — its own name, even when it is
// empty, or a new directory's — is reported once per path; a name HEAD
// already has (a directory committed before) is not reported again, as a
// key HEAD already holds is not.
func TestKeyInStagedPaths(t *testing.T) {
	r := newRepo(t)
	old, k1, k2 := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	r.write("cfg-"+old+"/a.txt", "a\n")
	r.commitAll("first")
	r.write("cfg-"+old+"/b.txt", "b\n")
	r.write("leak-"+k1+".txt", "")
	r.write("d/"+k2+"/x.txt", "x\n")
	r.write("d/"+k2+"/y.txt", "y\n")
	r.git("add", "-A")
	res := scan(t, r.dir)
	got := nameLocs(res)
	want := []string{"d/" + k2 + "@3", "leak-" + k1 + ".txt@6"}
	if strings.Join(got, " ") != strings.Join(want, " ") || len(res.Findings) != 2 {
		t.Fatalf("got %d findings, names %d: want %d", len(res.Findings), len(got), len(want))
	}
	// Checking named files reports every name they hold, committed or not.
	res = scanNamed(t, r.dir, nil, "cfg-"+old+"/a.txt")
	if got := nameLocs(res); len(got) != 1 || got[0] != "cfg-"+old+"@5" {
		t.Fatalf("named file: %d name findings", len(got))
	}
}
