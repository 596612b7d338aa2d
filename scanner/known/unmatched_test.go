package known

import (
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// Entries that matched nothing are named (ignore entries) or counted
// (baselines); entries that matched, scoped or not, are not.
func TestUnmatchedEntries(t *testing.T) {
	dir := t.TempDir()
	found, gone, elsewhere, cfgGone, baseGone := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	findings := scan(t, files{
		"app/a.env":  "K=" + found + "\n",
		"src/b.go":   "k := \"" + elsewhere + "\"\n",
		"docs/c.txt": "token " + found + "\n",
	})
	write(t, dir, IgnoreFileName, fp(found)+"  app/**\n"+fp(gone)+"\n"+fp(elsewhere)+"  testdata/**\n")
	write(t, dir, ConfigFileName, "[[ignore]]\nfingerprint = \""+fp(cfgGone)+"\"\n[[ignore]]\nfingerprint = \""+fp(found)+"\"\n")
	base := write(t, dir, "old.json", `{"findings": [{"fingerprint": "`+fp(found)+`", "path": "x"}, {"fingerprint": "`+fp(baseGone)+`", "path": "y"}, {"fingerprint": "`+fp(baseGone)+`", "path": "z"}]}`)
	f, err := Load(Options{Root: dir, BaselinePaths: []string{base}})
	if err != nil {
		t.Fatal(err)
	}
	notes := f.Unmatched(findings)
	all := strings.Join(notes, "\n")
	for _, want := range []string{
		IgnoreFileName + ": entry " + fp(gone)[:12] + "… matched nothing",
		// In the scan, but not where the entry allows it.
		IgnoreFileName + ": entry " + fp(elsewhere)[:12] + "… testdata/** matched nothing",
		ConfigFileName + ": entry " + fp(cfgGone)[:12] + "… matched nothing",
		"baseline " + base + ": 1 of its 2 key(s) were not found",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, fp(found)[:12]) {
		t.Errorf("an entry that matched is reported:\n%s", all)
	}
	if len(notes) != 4 {
		t.Errorf("%d notes, want 4:\n%s", len(notes), all)
	}
	// Nothing loaded, nothing to say.
	empty, err := Load(Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if n := empty.Unmatched(findings); len(n) != 0 {
		t.Errorf("no files, notes %q", n)
	}
}
