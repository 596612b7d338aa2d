package known

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// entries lists a set's entries as ignore-file lines, sorted.
func (s Set) entries() []string {
	var out []string
	for fp := range s.anywhere {
		out = append(out, hexFP(fp))
	}
	for fp, gs := range s.scoped {
		for _, g := range gs {
			out = append(out, hexFP(fp)+" "+g.String())
		}
	}
	sort.Strings(out)
	return out
}

func hexFP(fp fingerprint) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 64)
	for i, c := range fp {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(b)
}

// mustNotLeak fails if an error holds a key or does not start with the
// file it is about.
func mustNotLeak(t *testing.T, err error, file string) {
	t.Helper()
	if len(rules.FindAll([]byte(err.Error()))) > 0 {
		t.Fatalf("error holds a key: %v", err)
	}
	if !strings.Contains(err.Error(), file) {
		t.Fatalf("error does not name %s: %v", file, err)
	}
}

// FuzzIgnoreFile: an ignore file parses to entries that, written out
// again, parse to the same entries; matching never panics; errors name
// the file and never hold a key.
func FuzzIgnoreFile(f *testing.F) {
	a, b := fp(rulestest.APIKey()), fp(rulestest.ManagementKey())
	f.Add("# keys\n" + a + "\n" + strings.ToUpper(b) + "  config/*.env  # here\n")
	f.Add("\ufeff" + a + " /vendor/\n\n\t# c\n" + b + " **/testdata/**\n")
	f.Add(a + " a/**/b/[c-d]?.txt\n" + a + " x.zip\n")
	f.Add("K=" + rulestest.APIKey() + "\n")
	f.Add(a + " " + rulestest.APIKey() + "[\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseIgnore("fuzz.ignore", strings.NewReader(text))
		if err != nil {
			mustNotLeak(t, err, "fuzz.ignore")
			return
		}
		if s.Len() > strings.Count(text, "\n")+1 {
			t.Fatalf("%d entries from %d lines", s.Len(), strings.Count(text, "\n")+1)
		}
		lines := s.entries()
		again, err := ParseIgnore("again", strings.NewReader(strings.Join(lines, "\n")))
		if err != nil {
			t.Fatalf("entries written out do not parse: %v\n%q", err, lines)
		}
		if got := again.entries(); strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Fatalf("round trip changed the entries:\n%q\n%q", lines, got)
		}
		for _, l := range lines {
			fpHex, pattern, _ := strings.Cut(l, " ")
			probe := scanner.Finding{Fingerprint: fpHex, Path: pattern}
			s.Contains(probe)
			probe.Path = pattern + "/x!y"
			s.Contains(probe)
		}
	})
}

// FuzzConfig: a configuration file never panics the loader, and its
// errors name the file (with a line) and never hold a key.
func FuzzConfig(f *testing.F) {
	a := fp(rulestest.APIKey())
	f.Add("version = 1\nbaseline = \"b.json\"\n[allow]\npaths = [\"testdata/**\", '*.md']\n")
	f.Add("[[ignore]]\nfingerprint = \"" + a + "\"\npath = \"config/*.env\"\nreason = \"\"\"multi\nline\"\"\"\nexpires = 2026-12-31\n")
	f.Add("[[ignore]]\nfingerprint = \"" + a + "\"\nexpires = 2026-01-01T10:00:00.5Z\n[[ignore]]\nfingerprint = \"" + a + "\"\n")
	f.Add("allow = { paths = [\"a\"] }\nignore = [ { fingerprint = \"" + a + "\" } ]\n")
	f.Add("x = [[[[[[[1]]]]]]]\n")
	f.Add("a.b.c.d.e = 1\n")
	f.Add(rulestest.APIKey() + " = 1\n")
	f.Add("baseline = " + rulestest.APIKey() + "\n")
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		if len(text) > MaxConfigSize {
			return
		}
		cfg, err := parseConfig("fuzz.toml", text, now)
		if err != nil {
			mustNotLeak(t, redact(err), "fuzz.toml")
			return
		}
		// Every entry needs its own "fingerprint = ..." pair, so at least
		// one '=' (TOML keys match fields case-insensitively and may be
		// quoted or escaped, so the word itself cannot be counted).
		entries := strings.Count(text, "=")
		if n := cfg.Ignore.Len() + len(cfg.Expired); n > entries {
			t.Fatalf("%d ignore entries from %d key/value pairs", n, entries)
		}
	})
}

// FuzzBaseline: the streaming decoder agrees with decoding the whole file
// with encoding/json (how baselines were read before): it loads exactly
// the reports whose findings all have a valid fingerprint, with the same
// keys. Errors name the file and never hold a key.
func FuzzBaseline(f *testing.F) {
	a, b := fp(rulestest.APIKey()), fp(rulestest.APIKey())
	f.Add([]byte(`{"tool":{"name":"xaiscan"},"findings":[{"rule":"xai-api-key","path":"a","fingerprint":"` + a + `"},{"fingerprint":"` + b + `","refs":["x"]}],"coverage":{"skipped":[]}}`))
	f.Add([]byte(`{"findings":null}`))
	f.Add([]byte(`{"findings":[{"fingerprint":"` + rulestest.APIKey() + `"}]}`))
	f.Add([]byte("{\n\"findings\": [\n  {\"fingerprint\": 12}\n]}"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		file := filepath.Join(dir, "b.json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := LoadBaseline(file)
		want, wantOK := decodeWhole(data)
		if err != nil {
			mustNotLeak(t, err, file)
			if wantOK {
				t.Fatalf("refused a report encoding/json reads: %v", err)
			}
			return
		}
		if !wantOK {
			t.Fatalf("loaded a report encoding/json refuses")
		}
		if got := s.entries(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("keys %q, want %q", got, want)
		}
	})
}

// decodeWhole reads a baseline the way it was read before streaming.
func decodeWhole(data []byte) ([]string, bool) {
	var rep struct {
		Findings *[]struct {
			Fingerprint *string `json:"fingerprint"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, false
	}
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return nil, false // null decodes to nothing; it is no report
	}
	var s Set
	if rep.Findings != nil {
		for _, f := range *rep.Findings {
			if f.Fingerprint == nil || !isFingerprint(*f.Fingerprint) {
				return nil, false
			}
			s.Add(Entry{Fingerprint: *f.Fingerprint})
		}
	}
	return s.entries(), true
}
