package report

import (
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// SARIF constants.
const (
	// SARIFSchema is the schema URI written into "$schema"; GitHub code
	// scanning and most viewers recognise it.
	SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"
	// SARIFVersion is the SARIF version written.
	SARIFVersion = "2.1.0"
	// FingerprintKey names xaiscan's entry in partialFingerprints. Its
	// value is Finding.Fingerprint, which must never change meaning; a new
	// scheme would get a new key.
	FingerprintKey = "xaiscan/v1"
	// MessageURIPrefix is the artifact URI prefix of a key found in a
	// commit or tag message: ".git/messages/<commit>". Code scanning wants
	// a relative physical location for every result, a message has no
	// file, and no tracked file can live under .git/, so the URI cannot be
	// mistaken for (or collide with) a file of the repository.
	MessageURIPrefix = ".git/messages/"
	// srcRoot is the uriBaseId of repository-relative URIs, the name
	// GitHub's documentation uses.
	srcRoot = "%SRCROOT%"
)

// remediation is the help every rule carries, in text and Markdown.
const (
	remediationText = "Treat the key as compromised. Revoke it in the xAI console (console.x.ai, API Keys; " +
		"Management keys under Settings), create a new key and rotate it into the services that used the old one, " +
		"then purge the key from the repository's history (git filter-repo or BFG) and from any copies, forks and CI logs. " +
		"Purging history alone does not help: anyone who cloned or fetched the repository still has the key, so revoke it first. " +
		"Keep keys out of source: load them from the environment or a secret manager."
	remediationMarkdown = "**Treat the key as compromised.**\n\n" +
		"1. Revoke it in the [xAI console](https://console.x.ai) (API Keys; Management keys under Settings).\n" +
		"2. Create a new key and rotate it into the services that used the old one.\n" +
		"3. Purge the key from the repository's history (`git filter-repo` or BFG) and from any copies, forks and CI logs.\n\n" +
		"Purging history alone does not help: anyone who cloned or fetched the repository still has the key, so revoke it first. " +
		"Keep keys out of source: load them from the environment or a secret manager."
)

// The SARIF types below cover the subset xaiscan writes. Struct field
// order is output order; maps (property bags) are sorted by encoding/json,
// so the output is deterministic.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
	Properties  map[string]any    `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name"`
	ShortDescription     sarifText          `json:"shortDescription"`
	FullDescription      sarifText          `json:"fullDescription"`
	Help                 sarifText          `json:"help"`
	DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
	Properties           map[string]any     `json:"properties"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           *int              `json:"ruleIndex,omitempty"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

type sarifLogicalLocation struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// WriteSARIF writes res as a SARIF 2.1.0 log with one run, suitable for
// GitHub code scanning: one rule per built-in rule id, relative artifact
// URIs, and partialFingerprints from the key's fingerprint. Keys are
// redacted exactly as in WriteJSON; URIs are percent-encoded from the raw
// name, so a name that is not UTF-8 keeps its bytes. The invocation is successful only when
// the scan read everything it was asked to and was not interrupted; read
// errors become toolExecutionNotifications.
func WriteSARIF(w io.Writer, res scanner.Result, o Options) error {
	sr := exactCleaner(o).result(res)
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name:           ToolName,
			Version:        o.Version,
			InformationURI: InformationURI,
			Rules:          sarifRules(),
		}},
		Invocations: []sarifInvocation{sarifInvocationOf(sr)},
		Results:     make([]sarifResult, 0, len(res.Findings)),
		Properties: map[string]any{
			"coverage": map[string]int64{
				"files":   res.Coverage.Files,
				"blobs":   res.Coverage.Blobs,
				"commits": res.Coverage.Commits,
				"bytes":   res.Coverage.Bytes,
			},
		},
	}
	for _, f := range sr.findings {
		run.Results = append(run.Results, sarifResultOf(f))
	}
	log := sarifLog{Schema: SARIFSchema, Version: SARIFVersion, Runs: []sarifRun{run}}
	return encodeJSON(w, "sarif", log)
}

func sarifRules() []sarifRule {
	out := make([]sarifRule, 0, len(rules.All))
	for _, rl := range rules.All {
		out = append(out, sarifRule{
			ID:               rl.ID,
			Name:             pascalCase(rl.ID),
			ShortDescription: sarifText{Text: "Leaked " + rl.Name},
			FullDescription:  sarifText{Text: rl.Description},
			Help: sarifText{
				Text:     rl.Description + " " + remediationText,
				Markdown: rl.Description + "\n\n" + remediationMarkdown,
			},
			DefaultConfiguration: sarifConfiguration{Level: "error"},
			Properties: map[string]any{
				"tags": []string{"security", "secret"},
				// GitHub code scanning ranks alerts by security-severity
				// (a CVSS-like score as a string); a live credential is
				// critical.
				"security-severity": "9.5",
				"precision":         "very-high",
			},
		})
	}
	return out
}

// pascalCase turns a rule id ("xai-api-key") into the identifier-like form
// SARIF recommends for reportingDescriptor.name ("XaiApiKey").
func pascalCase(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func sarifInvocationOf(res shownResult) sarifInvocation {
	inv := sarifInvocation{ExecutionSuccessful: !res.coverage.Partial() && !res.interrupted}
	if res.interrupted {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "error",
			Message: sarifMessage{Text: "Scan interrupted: the results are incomplete."},
		})
	}
	for _, s := range res.skipped {
		if !s.IsError() {
			continue
		}
		n := sarifNotification{Level: "error"}
		if s.Path == "" {
			n.Message.Text = "Could not read: " + s.Reason
		} else {
			n.Message.Text = "Could not read " + s.Path + ": " + s.Reason
			n.Locations = []sarifLocation{{PhysicalLocation: &sarifPhysicalLocation{
				ArtifactLocation: sarifArtifactLocation{URI: relativeURI(s.rawPath), URIBaseID: srcRoot},
			}}}
		}
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, n)
	}
	for _, line := range skipSummaries(res.skipped) {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "note",
			Message: sarifMessage{Text: line},
		})
	}
	for _, note := range res.coverage.Notes {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level:   "warning",
			Message: sarifMessage{Text: note},
		})
	}
	return inv
}

// sarifResultOf converts a cleaned finding (Secret and free-form fields
// are safe to write).
func sarifResultOf(f shownFinding) sarifResult {
	res := sarifResult{
		RuleID:    f.Rule,
		Level:     "error",
		Message:   sarifMessage{Text: sarifMessageText(f)},
		Locations: []sarifLocation{sarifLocationOf(f)},
	}
	if i := ruleIndex(f.Rule); i >= 0 {
		res.RuleIndex = &i
	}
	if f.Fingerprint != "" {
		res.PartialFingerprints = map[string]string{FingerprintKey: f.Fingerprint}
	}
	props := map[string]any{"secret": f.Secret}
	if f.Source != "" {
		props["source"] = f.Source
	}
	if f.Entropy != 0 {
		props["entropy"] = f.Entropy
	}
	set := func(k, v string) {
		if v != "" {
			props[k] = v
		}
	}
	set("encoding", f.Encoding)
	set("commit", f.Commit)
	set("author", f.Author)
	set("email", f.Email)
	set("date", f.Date)
	set("verification", f.Verification)
	if f.Reachable != nil {
		props["reachable"] = *f.Reachable
	}
	if f.AtHead != nil {
		props["at_head"] = *f.AtHead
	}
	if len(f.VerificationDetail) > 0 {
		props["verification_detail"] = f.VerificationDetail
	}
	res.Properties = props
	return res
}

func sarifMessageText(f shownFinding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Leaked %s %s", ruleName(f.Rule), f.Secret)
	switch {
	case f.Path == "" && f.Commit != "":
		fmt.Fprintf(&b, " in the message of commit %s", f.Commit)
	case f.Commit != "":
		fmt.Fprintf(&b, " added in commit %s", f.Commit)
	}
	if f.Author != "" || f.Email != "" {
		b.WriteString(" by ")
		b.WriteString(f.Author)
		if f.Email != "" {
			if f.Author != "" {
				b.WriteString(" ")
			}
			b.WriteString("<" + f.Email + ">")
		}
	}
	if f.Date != "" {
		b.WriteString(" on " + f.Date)
	}
	if f.Encoding != "" {
		fmt.Fprintf(&b, " (%s-encoded)", f.Encoding)
	}
	if f.Reachable != nil && !*f.Reachable {
		b.WriteString(", in objects no ref reaches")
	}
	if f.AtHead != nil {
		if *f.AtHead {
			b.WriteString(", still present at HEAD")
		} else {
			b.WriteString(", removed since")
		}
	}
	b.WriteString(".")
	switch f.Verification {
	case "live":
		b.WriteString(" The key is live: revoke it in the xAI console and rotate it now.")
	case "dead":
		// Nothing left to revoke; the key still belongs out of history.
		b.WriteString(" xAI rejects the key (revoked, disabled or blocked); purge it from history.")
	case "unknown":
		b.WriteString(" Its status could not be verified: revoke it in the xAI console and rotate it.")
	default:
		b.WriteString(" Revoke it in the xAI console and rotate it.")
	}
	return b.String()
}

func sarifLocationOf(f shownFinding) sarifLocation {
	loc := sarifLocation{PhysicalLocation: &sarifPhysicalLocation{}}
	pl := loc.PhysicalLocation
	switch {
	case f.Path != "":
		pl.ArtifactLocation = sarifArtifactLocation{URI: relativeURI(f.rawPath), URIBaseID: srcRoot}
	case f.Commit != "":
		pl.ArtifactLocation = sarifArtifactLocation{URI: relativeURI(MessageURIPrefix + f.Commit), URIBaseID: srcRoot}
		loc.LogicalLocations = []sarifLogicalLocation{{
			Name:               f.Commit,
			FullyQualifiedName: "commit " + f.Commit + " message",
			Kind:               "message",
		}}
	case f.Source == scanner.SourceStdin:
		pl.ArtifactLocation = sarifArtifactLocation{URI: "stdin"}
	default:
		pl.ArtifactLocation = sarifArtifactLocation{URI: "unknown"}
	}
	// The schema requires positive line and column numbers; a producer
	// that could not tell them gets no region rather than an invalid one.
	if f.Line >= 1 {
		reg := &sarifRegion{StartLine: f.Line}
		if f.Column >= 1 {
			reg.StartColumn = f.Column
			// An encoded key's length in the source is not the key's
			// length, so only a plain key gets an end column.
			if f.Encoding == "" {
				reg.EndColumn = f.Column + keyLen(f.Finding)
			}
		}
		pl.Region = reg
	}
	return loc
}

// relativeURI turns a slash path into a relative URI reference: segments
// percent-encoded, a colon in the first segment guarded with "./" (so it is
// not read as a scheme), and a leading "//" collapsed (so it is not read as
// a host).
func relativeURI(p string) string {
	if strings.HasPrefix(p, "//") {
		p = "/" + strings.TrimLeft(p, "/")
	}
	return (&url.URL{Path: p}).String()
}
