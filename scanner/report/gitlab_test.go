package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// The schema is GitLab's own, as GitLab's Rails application vendors it
// (lib/gitlab/ci/parsers/security/validators/schemas/15.2.1/
// secret-detection-report-format.json in gitlab-org/gitlab), MIT-licensed;
// GitLab validates uploaded reports against the version they declare.
var (
	glSchemaOnce sync.Once
	glSchema     *jsonschema.Schema
	glSchemaErr  error
)

func gitlabSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	glSchemaOnce.Do(func() {
		f, err := os.Open(filepath.Join("..", "..", "testdata", "gitlab-secret-detection-report-format-"+GitLabSchemaVersion+".json"))
		if err != nil {
			glSchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			glSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if err := c.AddResource(GitLabSchemaURL, doc); err != nil {
			glSchemaErr = err
			return
		}
		glSchema, glSchemaErr = c.Compile(GitLabSchemaURL)
	})
	if glSchemaErr != nil {
		t.Fatalf("GitLab schema: %v", glSchemaErr)
	}
	return glSchema
}

func validateGitLab(t *testing.T, doc string) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("GitLab report is not JSON: %v", err)
	}
	return gitlabSchema(t).Validate(inst)
}

var scanTimes = Options{
	Version:  "1.2.3",
	Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600)),
	Finished: time.Date(2026, 1, 2, 2, 5, 0, 0, time.UTC),
}

func TestGitLabValidatesAgainstSchema(t *testing.T) {
	fx := richFixture()
	k := rulestest.APIKey()
	cases := map[string]scanner.Result{
		"no findings":                 {},
		"verification and everything": fx.res,
		"interrupted":                 {Interrupted: true, Findings: fx.res.Findings},
		"odd paths": {Findings: []scanner.Finding{
			gitFinding(k, "src/a b.go", 3, 7, commitA),
			gitFinding(k, "a.zip!inner/\x1b[2Jx.env", 1, 1, commitB),
		}},
		"stdin, no position": {Findings: []scanner.Finding{{Rule: rules.APIKey, Source: scanner.SourceStdin,
			Secret: rules.Redact(k), Fingerprint: rules.Fingerprint([]byte(k)), Key: k}}},
	}
	for name, res := range cases {
		for _, o := range []Options{scanTimes, {}} {
			out := render(t, "gitlab", res, o)
			if err := validateGitLab(t, out); err != nil {
				t.Errorf("%s: invalid GitLab report: %v\n%s", name, err, out)
			}
		}
	}
}

// The validation above must be able to fail.
func TestGitLabSchemaRejectsInvalid(t *testing.T) {
	out := render(t, "gitlab", richFixture().res, scanTimes)
	for name, bad := range map[string]string{
		"scan type":  strings.Replace(out, `"type": "secret_detection"`, `"type": "sast"`, 1),
		"time":       strings.Replace(out, `"start_time": "2026-01-02T02:04:05"`, `"start_time": "2026-01-02T02:04:05Z"`, 1),
		"severity":   strings.Replace(out, `"severity": "Critical"`, `"severity": "critical"`, 1),
		"no commit":  regexp.MustCompile(`"commit": \{[^}]*\}`).ReplaceAllString(out, `"commitx": {}`),
		"no version": strings.Replace(out, `"version": "`+GitLabSchemaVersion+`"`, `"versionx": "1"`, 1),
	} {
		if bad == out {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if err := validateGitLab(t, bad); err == nil {
			t.Errorf("%s: invalid document accepted", name)
		}
	}
}

type glDoc struct {
	Version string `json:"version"`
	Scan    struct {
		Type      string `json:"type"`
		Status    string `json:"status"`
		StartTime string `json:"start_time"`
		EndTime   string `json:"end_time"`
		Analyzer  struct {
			ID, Name, Version string
			Vendor            struct{ Name string }
		} `json:"analyzer"`
		Messages []struct{ Level, Value string } `json:"messages"`
	} `json:"scan"`
	Vulnerabilities []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
		Severity    string `json:"severity"`
		Identifiers []struct{ Type, Name, Value string }
		Location    struct {
			File      string `json:"file"`
			StartLine int    `json:"start_line"`
			Commit    struct{ SHA, Author, Date string }
		} `json:"location"`
		Raw     string `json:"raw_source_code_extract"`
		Details map[string]struct{ Name, Type, Value string }
	} `json:"vulnerabilities"`
}

func decodeGitLab(t *testing.T, out string) glDoc {
	t.Helper()
	var d glDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestGitLabFields(t *testing.T) {
	fx := richFixture()
	d := decodeGitLab(t, render(t, "gitlab", fx.res, scanTimes))
	s := d.Scan
	if s.Type != "secret_detection" || s.StartTime != "2026-01-02T02:04:05" || s.EndTime != "2026-01-02T02:05:00" {
		t.Errorf("scan = %+v", s)
	}
	if s.Analyzer.ID != "xaiscan" || s.Analyzer.Version != "1.2.3" || s.Analyzer.Vendor.Name == "" {
		t.Errorf("analyzer = %+v", s.Analyzer)
	}
	// The fixture has an unreadable path: the scan is partial.
	if s.Status != "failure" {
		t.Errorf("status %q for a partial scan", s.Status)
	}
	if !hasMessage(s.Messages, "warn", "private/key.pem") || !hasMessage(s.Messages, "info", "shallow clone") {
		t.Errorf("messages = %+v", s.Messages)
	}
	if len(d.Vulnerabilities) != len(fx.res.Findings) {
		t.Fatalf("%d vulnerabilities for %d findings", len(d.Vulnerabilities), len(fx.res.Findings))
	}
	ids := map[string]bool{}
	for i, v := range d.Vulnerabilities {
		f := fx.res.Findings[i]
		ids[v.ID] = true
		if v.Severity != "Critical" || !strings.HasPrefix(v.Name, "Leaked ") || v.Location.StartLine != f.Line {
			t.Errorf("vulnerability %d: %+v", i, v)
		}
		if v.Identifiers[0].Value != f.Rule || v.Identifiers[1].Value != f.Fingerprint || v.Details["fingerprint"].Value != f.Fingerprint {
			t.Errorf("vulnerability %d identifiers %+v", i, v.Identifiers)
		}
		if v.Raw != rules.Redact(f.Key) {
			t.Errorf("vulnerability %d extract %q", i, v.Raw)
		}
		switch {
		case f.Commit == "":
			if v.Location.Commit.SHA != gitlabNoCommit || v.Location.File != f.Path {
				t.Errorf("file finding %d: %+v", i, v.Location)
			}
		case f.Path == "":
			if v.Location.File != MessageURIPrefix+f.Commit {
				t.Errorf("message finding %d file %q", i, v.Location.File)
			}
		default:
			if v.Location.Commit.SHA != f.Commit || v.Location.Commit.Author != "Ada <ada@example.com>" || v.Location.Commit.Date != f.Date {
				t.Errorf("git finding %d commit %+v", i, v.Location.Commit)
			}
		}
		if f.Verification != "" && v.Details["verification"].Value != f.Verification {
			t.Errorf("vulnerability %d verification %+v", i, v.Details)
		}
	}
	if len(ids) != len(d.Vulnerabilities) {
		t.Errorf("vulnerability ids are not unique: %v", ids)
	}
	// Stable across runs: the id is the finding's, not the run's.
	again := decodeGitLab(t, render(t, "gitlab", fx.res, Options{}))
	if again.Vulnerabilities[0].ID != d.Vulnerabilities[0].ID {
		t.Error("vulnerability id changed between runs")
	}
	clean := decodeGitLab(t, render(t, "gitlab", scanner.Result{}, scanTimes))
	if clean.Scan.Status != "success" || clean.Vulnerabilities == nil {
		t.Errorf("clean scan: %+v", clean)
	}
}

func hasMessage(ms []struct{ Level, Value string }, level, sub string) bool {
	for _, m := range ms {
		if m.Level == level && strings.Contains(m.Value, sub) {
			return true
		}
	}
	return false
}

// GitLab shows raw_source_code_extract and the description in its UI: no
// full key, even with --show-secrets, and names from the scanned content
// cannot inject Markdown into the description.
func TestGitLabNeverShowsKeysAndQuotesNames(t *testing.T) {
	fx := richFixture()
	out := render(t, "gitlab", fx.res, Options{ShowSecrets: true})
	for _, k := range fx.keys {
		if strings.Contains(out, k) {
			t.Fatalf("full key in the GitLab report")
		}
	}
	k := rulestest.APIKey()
	f := fileFinding(k, "x\n\n![img](https://evil.example/p.png) @all `tick`.env", 1, 1)
	d := decodeGitLab(t, render(t, "gitlab", scanner.Result{Findings: []scanner.Finding{f}}, Options{}))
	desc := d.Vulnerabilities[0].Description
	if strings.Contains(desc, "\n\n![") || !strings.Contains(desc, "``x\\n\\n![img](https://evil.example/p.png) @all `tick`.env``") {
		t.Errorf("description does not quote the name:\n%s", desc)
	}
	if d.Vulnerabilities[0].Location.File != f.Path {
		t.Errorf("location.file %q, want the exact name", d.Vulnerabilities[0].Location.File)
	}
}
