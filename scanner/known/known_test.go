package known

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// files is a tiny Source over in-memory files.
type files map[string]string

func (fs files) Items(ctx context.Context, feed scanner.Feed) error {
	for p, c := range fs {
		if err := feed.Send(ctx, scanner.Item{Path: p, Source: scanner.SourceFile, Data: []byte(c), Counts: scanner.CountFile}); err != nil {
			return err
		}
	}
	return nil
}

func scan(t *testing.T, fs files) []scanner.Finding {
	t.Helper()
	res, err := scanner.New(scanner.Options{Workers: 2}).Run(context.Background(), fs)
	if err != nil {
		t.Fatal(err)
	}
	return res.Findings
}

func fp(key string) string { return rules.Fingerprint([]byte(key)) }

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func paths(fs []scanner.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

func TestBaseline(t *testing.T) {
	dir := t.TempDir()
	a, b := rulestest.APIKey(), rulestest.ManagementKey()
	before := scan(t, files{"config/app.env": "K=" + a + "\n"})
	rep, _ := json.Marshal(map[string]any{"tool": map[string]string{"name": "xaiscan"}, "findings": before, "coverage": map[string]any{}})
	if strings.Contains(string(rep), a) {
		t.Fatal("report carries the full key")
	}
	base := write(t, dir, "base.json", string(rep))
	set, err := LoadBaseline(base)
	if err != nil {
		t.Fatal(err)
	}
	// Later: the old key moved (other line, other file), a new key added.
	after := scan(t, files{"config/app.env": "\n\nK=" + a + "\nM=" + b + "\n", "other.txt": a})
	kept, n := NewFilter(nil, set).Apply(after)
	if n != 2 || len(kept) != 1 || kept[0].Key != b {
		t.Errorf("kept %v, suppressed %d", paths(kept), n)
	}

	for name, content := range map[string]string{
		"garbage":      "{not json",
		"no fp":        `{"findings":[{"path":"x"}]}`,
		"bad fp":       `{"findings":[{"fingerprint":"abc"}]}`,
		"wrong shape":  `{"findings":{"a":1}}`,
		"top is array": `[]`,
	} {
		if _, err := LoadBaseline(write(t, dir, "bad.json", content)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadBaseline(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing baseline: no error")
	}
	if s, err := LoadBaseline(write(t, dir, "empty.json", `{"findings":[]}`)); err != nil || s.Len() != 0 {
		t.Errorf("empty baseline: %v %d", err, s.Len())
	}
}

func TestIgnoreFile(t *testing.T) {
	k1, k2, k3 := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	text := "# known keys\n\n" +
		fp(k1) + "\n" +
		strings.ToUpper(fp(k2)) + "  config/*.env   # only there\n" +
		"\t# indented comment\n"
	set, err := ParseIgnore(".xaiscanignore", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("entries = %d", set.Len())
	}
	fs := scan(t, files{
		"a.txt":          "x\ny\n" + k1 + "\n",         // unscoped: suppressed anywhere
		"config/x.env":   "K=" + k2 + "\n",             // scoped and in scope: suppressed
		"src/x.env":      "K=" + k2 + "\n",             // out of scope: reported
		"config/ok.env":  "K=" + k3 + "\n",             // not listed: reported
		"moved/deep.txt": "\n\n\n\n\n\n  " + k1 + "\n", // moved: still suppressed
	})
	kept, n := NewFilter(nil, set).Apply(fs)
	if n != 3 || strings.Join(paths(kept), ",") != "config/ok.env,src/x.env" {
		t.Errorf("kept %v, suppressed %d", paths(kept), n)
	}
	// A different key written on the line of an ignored one is caught:
	// entries are keys, not positions.
	fs = scan(t, files{"a.txt": "x\ny\n" + k3 + "\n"})
	if kept, _ := NewFilter(nil, set).Apply(fs); len(kept) != 1 {
		t.Errorf("a different key on an ignored line was suppressed")
	}
}

func TestIgnoreFileErrors(t *testing.T) {
	key := rulestest.APIKey()
	good := fp(rulestest.APIKey())
	for name, tc := range map[string]struct{ text, want string }{
		"short":       {"# c\n\nabc123\n", ".xaiscanignore:3: expected a key fingerprint"},
		"extra":       {good + " a b\n", ".xaiscanignore:1: expected \"<fingerprint> [path pattern]\""},
		"bad glob":    {"\n" + good + " [oops\n", ".xaiscanignore:2: path pattern"},
		"double star": {good + " a**b\n", ".xaiscanignore:1:"},
		"key itself":  {"K=" + key + "\n", ".xaiscanignore:1: this line holds a key itself"},
	} {
		_, err := ParseIgnore(".xaiscanignore", strings.NewReader(tc.text))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want prefix %q", name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("%s: the error prints the key", name)
		}
	}
	// Missing file: empty, no error.
	if s, err := LoadIgnoreFile(filepath.Join(t.TempDir(), IgnoreFileName)); err != nil || s.Len() != 0 {
		t.Errorf("missing ignore file: %v", err)
	}
}

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		pat string
		yes []string
		no  []string
	}{
		{"testdata/**", []string{"testdata/a", "testdata/x/y/z.go"}, []string{"src/testdata2/a", "a/testdata/x", ""}},
		{"**/testdata/**", []string{"testdata/a", "a/b/testdata/c"}, []string{"a/testdatax/c"}},
		{"testdata", []string{"testdata/a", "a/b/testdata/c", "testdata"}, []string{"testdata2/a"}},
		{"*.md", []string{"README.md", "docs/a/b.md"}, []string{"README.mdx", "md"}},
		{"docs/**/*.md", []string{"docs/a.md", "docs/x/y/a.md"}, []string{"a/docs/a.md", "docs/a.txt"}},
		{"/config/*.env", []string{"config/a.env"}, []string{"x/config/a.env", "config/sub/a.env"}},
		{"vendor/", []string{"vendor/a/b.go", "src/vendor/a.go"}, []string{"vendors/a.go", "vendor", "src/vendor"}},
		{"/vendor", []string{"vendor/a/b.go"}, []string{"src/vendor/a.go"}},
		{"fixtures/*.zip", []string{"fixtures/a.zip!inner/key.txt", "fixtures/a.zip"}, []string{"fixtures/a.tar!x"}},
		{"**", []string{"a", "a/b"}, []string{""}},
		{"a/**/b/**/c", []string{"a/b/c", "a/x/b/y/z/c"}, []string{"a/c"}},
	} {
		g, err := ParseGlob(tc.pat)
		if err != nil {
			t.Fatalf("%s: %v", tc.pat, err)
		}
		for _, p := range tc.yes {
			if !g.Match(p) {
				t.Errorf("%q should match %q", tc.pat, p)
			}
		}
		for _, p := range tc.no {
			if g.Match(p) {
				t.Errorf("%q should not match %q", tc.pat, p)
			}
		}
	}
	// MatchDir: a directory-only pattern matches the directory itself,
	// though Match (which cannot tell a file from a directory) does not.
	if g, _ := ParseGlob("build/"); !g.MatchDir("src/build") || g.Match("src/build") || !g.MatchDir("build") {
		t.Error(`"build/" should match the directory build, and not a file named build`)
	}
	if g, _ := ParseGlob("build"); !g.MatchDir("build") || !g.Match("build") {
		t.Error(`"build" should match a file or a directory named build`)
	}
	for _, bad := range []string{"", "  ", "/", "a//b", "[x", "a**"} {
		if _, err := ParseGlob(bad); err == nil {
			t.Errorf("ParseGlob(%q): no error", bad)
		}
	}
	// Adversarial pattern stays fast.
	g, _ := ParseGlob(strings.Repeat("**/", 30) + "x")
	start := time.Now()
	g.Match(strings.Repeat("a/", 200) + "y")
	if time.Since(start) > time.Second {
		t.Error("glob matching is exponential")
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	k1, k2, k3, k4 := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.Local)
	write(t, dir, ConfigFileName, `# team config
version = 1

[allow]
paths = ["testdata/**", "*.md"]

[[ignore]]
fingerprint = "`+fp(k1)+`"
reason = "revoked, kept in a fixture"

[[ignore]]
fingerprint = "`+fp(k2)+`"
path = "config/**"
expires = 2026-12-31

[[ignore]]
fingerprint = "`+fp(k3)+`"
expires = 2026-05-31
`)
	cfg, err := LoadConfig(dir, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Expired) != 1 || !strings.Contains(cfg.Expired[0], ConfigFileName+":16: ignore entry expired on 2026-05-31") {
		t.Errorf("expired = %q", cfg.Expired)
	}
	fs := scan(t, files{
		"testdata/deep/x.txt": k4,         // allowed path
		"docs/README.md":      k4,         // allowed by name
		"a.go":                k1,         // ignored anywhere
		"config/b.env":        k2,         // ignored in scope
		"b.env":               k2,         // out of scope
		"c.txt":               k3,         // expired: reported
		"d.txt":               "x\n" + k4, // reported
	})
	f := NewFilter(cfg)
	kept, n := f.Apply(fs)
	if n != 4 || strings.Join(paths(kept), ",") != "b.env,c.txt,d.txt" {
		t.Errorf("kept %v, suppressed %d", paths(kept), n)
	}
	if len(f.Notes()) != 1 {
		t.Errorf("notes = %q", f.Notes())
	}

	// No default file: empty config; explicit file must exist.
	empty := t.TempDir()
	if cfg, err := LoadConfig(empty, "", now); err != nil || cfg.File != "" {
		t.Errorf("no config: %v %+v", err, cfg)
	}
	if _, err := LoadConfig(empty, filepath.Join(empty, "nope.toml"), now); err == nil {
		t.Error("missing explicit config: no error")
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	good := fp(rulestest.APIKey())
	for name, tc := range map[string]struct{ text, want string }{
		"unknown top key":    {"version = 1\nbaslein = \"x\"\n", "c.toml:2: unknown key \"baslein\""},
		"unknown allow key":  {"[allow]\npaths = []\npath = [\"x\"]\n", "c.toml:3: unknown key \"allow.path\""},
		"unknown ignore key": {"[[ignore]]\nfingerprint = \"" + good + "\"\n\n[[ignore]]\nfingerprint = \"" + good + "\"\nreasn = \"x\"\n", "c.toml:6: unknown key \"ignore.reasn\""},
		"unknown table":      {"[scan]\nx = 1\n", "c.toml:1: unknown key \"scan"},
		"syntax":             {"[allow]\npaths = [\"a\",\n", "c.toml:"},
		"type":               {"[allow]\npaths = \"a\"\n", "c.toml:2:"},
		"bad fingerprint":    {"\n[[ignore]]\nfingerprint = \"abc\"\n", "c.toml:2: [[ignore]] entry 1: fingerprint"},
		"no fingerprint":     {"[[ignore]]\npath = \"a\"\n", "c.toml:1: [[ignore]] entry 1 has no fingerprint"},
		"bad glob":           {"[allow]\npaths = [\"ok\",\n  \"[bad\"]\n", "c.toml:3: [allow] paths"},
		"bad version":        {"version = 7\n", "c.toml:1: unsupported version 7"},
		"expires string":     {"[[ignore]]\nfingerprint = \"" + good + "\"\nexpires = \"soon\"\n", "c.toml:3:"},
	} {
		p := write(t, dir, "c.toml", tc.text)
		_, err := LoadConfig(dir, p, time.Time{})
		if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tc.want)) {
			t.Errorf("%s: error %v, want prefix %q", name, err, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	k1, k2, k3 := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	write(t, root, IgnoreFileName, fp(k1)+"\n")
	rep, _ := json.Marshal(map[string]any{"findings": []map[string]string{{"fingerprint": fp(k2), "path": "x"}}})
	write(t, root, "base.json", string(rep))
	write(t, root, ConfigFileName, "baseline = \"base.json\"\n")
	f, err := Load(Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	fs := scan(t, files{"a": k1, "b": k2, "c": k3, "msg": ""})
	// A commit-message finding (empty path) with an unscoped entry.
	msg := scanner.Finding{Path: "", Fingerprint: fp(k1)}
	if !f.Suppresses(msg) {
		t.Error("unscoped entry does not apply to a commit message")
	}
	kept, n := f.Apply(fs)
	if n != 2 || len(kept) != 1 || kept[0].Path != "c" {
		t.Errorf("kept %v suppressed %d", paths(kept), n)
	}
	// Errors propagate with the file named.
	write(t, root, IgnoreFileName, "nope\n")
	if _, err := Load(Options{Root: root}); err == nil || !strings.Contains(err.Error(), IgnoreFileName+":1:") {
		t.Errorf("Load with a bad ignore file: %v", err)
	}
	write(t, root, IgnoreFileName, "")
	write(t, root, ConfigFileName, "baseline = \"gone.json\"\n")
	if _, err := Load(Options{Root: root}); err == nil {
		t.Error("missing configured baseline: no error")
	}
	var nilFilter *Filter
	if nilFilter.Suppresses(msg) || !nilFilter.Empty() {
		t.Error("nil filter")
	}
}
