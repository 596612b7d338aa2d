package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// Commit ids and other fixtures are built, not written down, so nothing in
// this file looks like a key to any scanner.
var (
	commitA = strings.Repeat("a1b2c3d4e5", 4)
	commitB = strings.Repeat("0f9e8d7c6b", 4)
)

func ptr[T any](v T) *T { return &v }

// fileFinding is a key found in a working-tree file.
func fileFinding(key, path string, line, col int) scanner.Finding {
	rule := rules.APIKey
	if strings.HasPrefix(key, rules.ManagementPrefix) {
		rule = rules.ManagementKey
	}
	return scanner.Finding{
		Rule:        rule,
		Source:      scanner.SourceFile,
		Path:        path,
		Line:        line,
		Column:      col,
		Secret:      rules.Redact(key),
		Fingerprint: rules.Fingerprint([]byte(key)),
		Entropy:     5.71,
		Key:         key,
	}
}

// gitFinding is a key found in history, with full attribution.
func gitFinding(key, path string, line, col int, commit string) scanner.Finding {
	f := fileFinding(key, path, line, col)
	f.Source = scanner.SourceGit
	f.Commit = commit
	f.Author = "Ada"
	f.Email = "ada@example.com"
	f.Date = "2026-01-02T03:04:05Z"
	f.Reachable = ptr(true)
	f.AtHead = ptr(false)
	f.Object = "blob-id"
	return f
}

// messageFinding is a key in a commit message: no path.
func messageFinding(key string, commit string) scanner.Finding {
	f := gitFinding(key, "", 1, 20, commit)
	f.AtHead = nil
	f.Reachable = ptr(false)
	return f
}

// fixture is a Result that exercises every shape of finding and coverage
// the writers know, plus the keys it holds.
type fixture struct {
	res  scanner.Result
	keys []string // every full key in res
}

func richFixture() fixture {
	k1, k2, k3 := rulestest.APIKey(), rulestest.ManagementKey(), rulestest.APIKey()
	live := fileFinding(k1, "config/.env", 2, 13)
	live.Verification = "live"
	live.VerificationDetail = map[string]any{
		"name":             "ci-bot",
		"acls":             []any{"api-key:model:*", "api-key:endpoint:*"},
		"redacted_api_key": rules.Redact(k1),
		"api_key_blocked":  false,
	}
	again := gitFinding(k1, "src/app.go", 10, 5, commitA)
	again.AtHead = ptr(true)
	again.Verification = "live"
	enc := gitFinding(k2, "deploy/values.yaml", 7, 3, commitB)
	enc.Encoding = "base64"
	enc.Verification = "unknown"
	enc.VerificationDetail = map[string]any{"error": "timeout"}
	msg := messageFinding(k3, commitB)
	msg.Verification = "dead"
	fs := []scanner.Finding{live, enc, again, msg}
	scanner.SortFindings(fs)
	return fixture{
		res: scanner.Result{
			Findings: fs,
			Coverage: scanner.Coverage{
				Files: 3, Blobs: 340, Commits: 56, Bytes: 1536,
				Skipped: []scanner.Skipped{
					{Path: "link1", Reason: "symlink (not followed)", Kind: scanner.KindExcluded},
					{Path: "link2", Reason: "symlink (not followed)", Kind: scanner.KindExcluded},
					{Path: "private/key.pem", Reason: "open: permission denied", Kind: scanner.KindError},
					{Path: "pipe", Reason: "not a regular file", Kind: scanner.KindExcluded},
				},
				Notes: []string{"shallow clone: history before the graft is not scanned"},
			},
		},
		keys: []string{k1, k2, k3},
	}
}

// render runs one writer into a string, failing the test on error.
func render(t *testing.T, format string, res scanner.Result, o Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, res, o); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return buf.String()
}
