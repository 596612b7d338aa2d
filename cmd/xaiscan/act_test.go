package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

// brokenPipe is a stdout whose reader went away (`xaiscan … | head`).
type brokenPipe struct{ writes int }

func (b *brokenPipe) Write([]byte) (int, error) {
	b.writes++
	return 0, syscall.EPIPE
}

// savedReport writes a JSON report holding keys in full, as
// `-f json --show-secrets -o FILE` would.
func savedReport(t *testing.T, keys ...string) string {
	t.Helper()
	var fs []map[string]any
	for i, k := range keys {
		fs = append(fs, map[string]any{
			"rule": rules.APIKey, "source": "file", "path": "x.env", "line": i + 1, "column": 1,
			"secret": k, "fingerprint": rules.Fingerprint([]byte(k)),
		})
	}
	b, err := json.Marshal(map[string]any{"findings": fs, "coverage": map[string]any{"skipped": []any{}}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "leaks.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func brokenStdoutApp(t *testing.T, fake *xaitest.Server, env map[string]string) (*app, *brokenPipe, *bytes.Buffer) {
	t.Helper()
	t.Setenv("XAI_API_BASE_URL", fake.API.URL)
	t.Setenv("XAI_MANAGEMENT_API_BASE_URL", fake.Mgmt.URL)
	out, errs := &brokenPipe{}, &bytes.Buffer{}
	return &app{stdin: strings.NewReader(""), stdout: out, stderr: errs, getenv: func(k string) string { return env[k] }}, out, errs
}

// TestClosedStdoutStillHandsEveryKeyOver: `xaiscan verify --revoke-hook`
// whose report cannot be written still runs the hook for every live key,
// says why the report is missing, and exits 2.
func TestClosedStdoutStillHandsEveryKeyOver(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the hook is POSIX shell")
	}
	fake := xaitest.New(t)
	var keys []string
	for range 3 {
		k := rulestest.APIKey()
		keys = append(keys, k)
		fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: "id-" + k[len(k)-6:]})
	}
	dir := t.TempDir()
	a, out, errs := brokenStdoutApp(t, fake, nil)
	code := a.run(context.Background(), []string{"verify", "--revoke-hook", `cat > "` + dir + `/$XAISCAN_FINGERPRINT.json"`, savedReport(t, keys...)})
	if code != exitError {
		t.Errorf("exit %d, want 2", code)
	}
	if out.writes == 0 {
		t.Error("the report was never attempted")
	}
	for _, k := range keys {
		b, err := os.ReadFile(filepath.Join(dir, rules.Fingerprint([]byte(k))+".json"))
		if err != nil || !strings.Contains(string(b), k) {
			t.Errorf("the hook did not get %s: %v", rules.Redact(k), err)
		}
	}
	if !strings.Contains(errs.String(), "still handed to the revoke hook") {
		t.Errorf("stderr does not say the report failed: %s", errs.String())
	}
	for _, k := range keys {
		if strings.Contains(errs.String(), k) {
			t.Error("stderr holds a full key")
		}
	}
}

// TestClosedStdoutDoesNotStopTheRevoker: `xaiscan revoke` with stdout
// closed deletes every key and reports on stderr only.
func TestClosedStdoutDoesNotStopTheRevoker(t *testing.T) {
	fake := xaitest.New(t)
	mk := rulestest.ManagementKey()
	fake.AddMgmtKey(mk, xaitest.MgmtKey{Mode: xaitest.Live})
	var keys, ids []string
	for i := range 3 {
		k := rulestest.APIKey()
		keys = append(keys, k)
		ids = append(ids, "id-"+string(rune('a'+i)))
		fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: ids[i]})
	}
	a, out, errs := brokenStdoutApp(t, fake, map[string]string{"XAI_MANAGEMENT_API_KEY": mk})
	if code := a.run(context.Background(), []string{"revoke", savedReport(t, keys...)}); code != exitClean {
		t.Errorf("exit %d, want 0; stderr: %s", code, errs.String())
	}
	got := fake.Deleted()
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Errorf("deleted %v, want %v", got, ids)
	}
	if out.writes != 0 {
		t.Errorf("%d writes to stdout while revoking", out.writes)
	}
}

// TestActorWritesNothingToStdout: the hook, the revoker, their failures
// and the audit trail go to stderr; a scan's act step never touches
// stdout.
func TestActorWritesNothingToStdout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the hook is POSIX shell")
	}
	fake := xaitest.New(t)
	mk := rulestest.ManagementKey()
	fake.AddMgmtKey(mk, xaitest.MgmtKey{Mode: xaitest.Live})
	good, bad := rulestest.APIKey(), rulestest.APIKey()
	fake.AddAPIKey(good, xaitest.APIKey{Mode: xaitest.Live, ID: "id-good"})
	fake.AddAPIKey(bad, xaitest.APIKey{Mode: xaitest.Forbidden})
	a, out, errs := brokenStdoutApp(t, fake, map[string]string{"XAI_MANAGEMENT_API_KEY": mk})
	af := &actFlags{verify: true, revoke: true, revokeHook: "echo to stdout; echo to stderr >&2", hookTimeout: 10e9, auditLog: "-"}
	ctx := context.Background()
	ac, err := a.newActor(ctx, af)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.close(a)
	findings := []scanner.Finding{
		{Rule: rules.APIKey, Source: scanner.SourceFile, Path: "a", Line: 1, Column: 1, Secret: rules.Redact(good), Key: good},
		{Rule: rules.APIKey, Source: scanner.SourceFile, Path: "b", Line: 1, Column: 1, Secret: rules.Redact(bad), Key: bad},
	}
	ac.verify(ctx, findings)
	if failed := ac.act(ctx, a, findings); !failed {
		t.Error("the key that could not be revoked is not a failure")
	}
	if out.writes != 0 {
		t.Errorf("%d writes to stdout", out.writes)
	}
	if got := fake.Deleted(); !slices.Equal(got, []string{"id-good"}) {
		t.Errorf("deleted %v", got)
	}
	for _, want := range []string{"to stdout", "to stderr", "revoked " + rules.Redact(good), "revoke failed for " + rules.Redact(bad), `"action":"hook"`} {
		if !strings.Contains(errs.String(), want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}
