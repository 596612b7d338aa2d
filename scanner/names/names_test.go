package names_test

import (
	"context"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/names"
)

// Only the element at start is scanned (a key in a parent directory's name
// belongs to the parent's own item), line is 1 and column is the key's
// byte offset in the whole path plus one, even after a newline in a name.
func TestItemScansOneElement(t *testing.T) {
	key := rulestest.APIKey()
	for _, tc := range []struct {
		path  string
		start int
		col   int // 0: no finding
	}{
		{"a/" + key + "/b.txt", len("a/" + key + "/"), 0},
		{"a/" + key, 2, 3},
		{"dir/x\nleak-" + key, 4, 12},
		{"plain/name.txt", 6, 0},
	} {
		it, ok := names.Item(tc.path, tc.start, scanner.SourceFile, "obj", scanner.Finding{Commit: "c"})
		if !ok {
			if tc.col != 0 && names.Holds(tc.path[tc.start:]) {
				t.Errorf("%q: no item", tc.path)
			}
			continue
		}
		res, err := scanner.New(scanner.Options{}).Run(context.Background(), scanner.ItemList{it})
		if err != nil {
			t.Fatal(err)
		}
		if tc.col == 0 {
			if len(res.Findings) != 0 {
				t.Errorf("%q: %d findings, want none", tc.path, len(res.Findings))
			}
			continue
		}
		if len(res.Findings) != 1 {
			t.Fatalf("%q: %d findings", tc.path, len(res.Findings))
		}
		f := res.Findings[0]
		if f.Path != tc.path || f.Line != 1 || f.Column != tc.col || f.Part != names.Part || f.Object != "obj" || f.Commit != "c" || f.Key != key {
			t.Errorf("%q: path=%q line=%d col=%d part=%q", tc.path, f.Path, f.Line, f.Column, f.Part)
		}
		if res.Coverage.Files != 0 || res.Coverage.Blobs != 0 {
			t.Errorf("a name counted as a file or blob: %+v", res.Coverage)
		}
	}
}
