package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

const schemaURL = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// sarifSchema compiles the SARIF 2.1.0 schema from the repository's
// testdata (no network).
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(filepath.Join("..", "..", "testdata", "sarif-schema-2.1.0.json"))
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource(schemaURL, doc); err != nil {
			schemaErr = err
			return
		}
		schema, schemaErr = c.Compile(schemaURL)
	})
	if schemaErr != nil {
		t.Fatalf("SARIF schema: %v", schemaErr)
	}
	return schema
}

func validateSARIF(t *testing.T, doc string) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v", err)
	}
	return sarifSchema(t).Validate(inst)
}

func TestSARIFValidatesAgainstSchema(t *testing.T) {
	fx := richFixture()
	k := rulestest.APIKey()
	cases := map[string]scanner.Result{
		"no findings": {},
		"git findings": {Findings: []scanner.Finding{
			gitFinding(k, "src/a b.go", 3, 7, commitA),
			gitFinding(k, "c:odd/path#x", 1, 1, commitB),
		}},
		"commit message": {Findings: []scanner.Finding{messageFinding(k, commitA)}},
		"skipped errors": {Coverage: scanner.Coverage{Skipped: []scanner.Skipped{
			{Path: "x", Reason: "permission denied", Kind: scanner.KindError},
			{Path: "", Reason: "corrupt pack", Kind: scanner.KindError},
			{Path: "l", Reason: "symlink", Kind: scanner.KindExcluded},
		}, Notes: []string{"shallow"}}},
		"verification and everything": fx.res,
		"interrupted":                 {Interrupted: true, Findings: fx.res.Findings},
		"no position": {Findings: []scanner.Finding{{Rule: rules.APIKey, Source: scanner.SourceStdin,
			Secret: rules.Redact(k), Fingerprint: rules.Fingerprint([]byte(k)), Key: k}}},
	}
	for name, res := range cases {
		for _, show := range []bool{false, true} {
			out := render(t, "sarif", res, Options{Version: "1.0.0", ShowSecrets: show})
			if err := validateSARIF(t, out); err != nil {
				t.Errorf("%s (show=%v): invalid SARIF: %v\n%s", name, show, err, out)
			}
		}
	}
	// An empty version is allowed (a dev build) and must still validate.
	if err := validateSARIF(t, render(t, "sarif", fx.res, Options{})); err != nil {
		t.Errorf("no version: %v", err)
	}
}

// The validation above must be able to fail.
func TestSARIFSchemaRejectsInvalid(t *testing.T) {
	out := render(t, "sarif", richFixture().res, Options{Version: "1"})
	for name, bad := range map[string]string{
		"version":     strings.Replace(out, `"version": "2.1.0"`, `"version": "9"`, 1),
		"start line":  strings.Replace(out, `"startLine": 2`, `"startLine": 0`, 1),
		"extra field": strings.Replace(out, `"runs": [`, `"bogus": 1, "runs": [`, 1),
	} {
		if bad == out {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if err := validateSARIF(t, bad); err == nil {
			t.Errorf("%s: invalid document accepted", name)
		}
	}
}

type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name, Version, InformationURI string
				Rules                         []struct {
					ID                   string
					Name                 string
					Help                 struct{ Text, Markdown string }
					DefaultConfiguration struct{ Level string }
					Properties           struct{ Tags []string }
				}
			}
		}
		Invocations []struct {
			ExecutionSuccessful        bool
			ToolExecutionNotifications []struct {
				Level   string
				Message struct{ Text string }
			}
		}
		Results []struct {
			RuleID    string
			RuleIndex int
			Level     string
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string }
					Region           *struct{ StartLine, StartColumn, EndColumn int }
				}
				LogicalLocations []struct{ Name string }
			}
			PartialFingerprints map[string]string
			Properties          map[string]any
		}
	}
}

func decodeSARIF(t *testing.T, s string) sarifDoc {
	t.Helper()
	var d sarifDoc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) != 1 {
		t.Fatalf("runs = %d, want 1", len(d.Runs))
	}
	return d
}

func TestSARIFContent(t *testing.T) {
	fx := richFixture()
	d := decodeSARIF(t, render(t, "sarif", fx.res, Options{Version: "1.2.3"}))
	if d.Schema != SARIFSchema || d.Version != "2.1.0" {
		t.Errorf("header: %q %q", d.Schema, d.Version)
	}
	run := d.Runs[0]
	drv := run.Tool.Driver
	if drv.Name != "xaiscan" || drv.Version != "1.2.3" || drv.InformationURI == "" {
		t.Errorf("driver: %+v", drv)
	}
	if len(drv.Rules) != len(rules.All) {
		t.Fatalf("rules = %d, want %d", len(drv.Rules), len(rules.All))
	}
	for i, r := range drv.Rules {
		if r.ID != rules.All[i].ID || r.DefaultConfiguration.Level != "error" ||
			strings.Join(r.Properties.Tags, ",") != "security,secret" {
			t.Errorf("rule %d: %+v", i, r)
		}
		if !strings.Contains(r.Help.Text, "Revoke") || !strings.Contains(r.Help.Text, "rotate") ||
			!strings.Contains(r.Help.Text, "history") {
			t.Errorf("rule %s: help lacks remediation: %q", r.ID, r.Help.Text)
		}
	}
	if len(run.Results) != len(fx.res.Findings) {
		t.Fatalf("results = %d, want %d", len(run.Results), len(fx.res.Findings))
	}
	for i, r := range run.Results {
		f := fx.res.Findings[i]
		if r.RuleID != f.Rule || drv.Rules[r.RuleIndex].ID != f.Rule || r.Level != "error" {
			t.Errorf("result %d: rule %q index %d level %q", i, r.RuleID, r.RuleIndex, r.Level)
		}
		if r.PartialFingerprints[FingerprintKey] != f.Fingerprint {
			t.Errorf("result %d: partialFingerprints %v", i, r.PartialFingerprints)
		}
		if !strings.Contains(r.Message.Text, rules.Redact(f.Key)) || !strings.Contains(r.Message.Text, f.Commit) {
			t.Errorf("result %d: message %q lacks the redacted key or commit", i, r.Message.Text)
		}
		if f.Author != "" && !strings.Contains(r.Message.Text, f.Author) {
			t.Errorf("result %d: message lacks the author: %q", i, r.Message.Text)
		}
		loc := r.Locations[0].PhysicalLocation
		uri := loc.ArtifactLocation.URI
		if uri == "" || strings.Contains(uri, "://") || strings.HasPrefix(uri, "/") {
			t.Errorf("result %d: uri %q must be relative", i, uri)
		}
		if f.Path == "" {
			if uri != MessageURIPrefix+f.Commit || len(r.Locations[0].LogicalLocations) != 1 {
				t.Errorf("commit-message result: uri %q, logical %v", uri, r.Locations[0].LogicalLocations)
			}
		} else if uri != f.Path {
			t.Errorf("result %d: uri %q, want %q", i, uri, f.Path)
		}
		reg := loc.Region
		if reg == nil || reg.StartLine != f.Line || reg.StartColumn != f.Column {
			t.Fatalf("result %d: region %+v", i, reg)
		}
		wantEnd := f.Column + len(f.Key)
		if f.Encoding != "" {
			wantEnd = 0 // unknown span of an encoded key
		}
		if reg.EndColumn != wantEnd {
			t.Errorf("result %d: endColumn %d, want %d", i, reg.EndColumn, wantEnd)
		}
		p := r.Properties
		if f.Commit != "" && (p["commit"] != f.Commit || p["author"] != f.Author || p["email"] != f.Email || p["date"] != f.Date) {
			t.Errorf("result %d: git properties %v", i, p)
		}
		if f.Verification != "" && p["verification"] != f.Verification {
			t.Errorf("result %d: verification %v", i, p["verification"])
		}
		if f.Reachable != nil && p["reachable"] != *f.Reachable {
			t.Errorf("result %d: reachable %v", i, p["reachable"])
		}
		if f.Encoding != "" && p["encoding"] != f.Encoding {
			t.Errorf("result %d: encoding %v", i, p["encoding"])
		}
		if p["secret"] != rules.Redact(f.Key) {
			t.Errorf("result %d: secret property %v", i, p["secret"])
		}
	}

	inv := run.Invocations[0]
	if inv.ExecutionSuccessful {
		t.Errorf("a scan with read errors must not be successful")
	}
	var errs []string
	for _, n := range inv.ToolExecutionNotifications {
		if n.Level == "error" {
			errs = append(errs, n.Message.Text)
		}
	}
	if len(errs) != 1 || !strings.Contains(errs[0], "private/key.pem") || !strings.Contains(errs[0], "permission denied") {
		t.Errorf("error notifications = %q", errs)
	}
}

func TestSARIFEmptyAndSuccessful(t *testing.T) {
	out := render(t, "sarif", scanner.Result{}, Options{})
	if !strings.Contains(out, `"results": []`) {
		t.Errorf("results must be an empty array:\n%s", out)
	}
	d := decodeSARIF(t, out)
	if !d.Runs[0].Invocations[0].ExecutionSuccessful {
		t.Errorf("a complete scan must be successful")
	}
	d = decodeSARIF(t, render(t, "sarif", scanner.Result{Interrupted: true}, Options{}))
	if d.Runs[0].Invocations[0].ExecutionSuccessful {
		t.Errorf("an interrupted scan must not be successful")
	}
}

func TestSARIFShowSecrets(t *testing.T) {
	k := rulestest.APIKey()
	res := scanner.Result{Findings: []scanner.Finding{gitFinding(k, "a", 1, 1, commitA)}}
	d := decodeSARIF(t, render(t, "sarif", res, Options{ShowSecrets: true}))
	r := d.Runs[0].Results[0]
	if !strings.Contains(r.Message.Text, k) || r.Properties["secret"] != k {
		t.Errorf("ShowSecrets: full key missing from message or properties")
	}
}
