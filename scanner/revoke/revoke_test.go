package revoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
	"github.com/xaiscan/xaiscan/scanner/verify"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

// findingsFor returns n findings per key, interleaved, on distinct lines.
func findingsFor(n int, keys ...string) []scanner.Finding {
	var out []scanner.Finding
	for i := 0; i < n; i++ {
		for _, k := range keys {
			out = append(out, scanner.Finding{
				Rule: ruleOf(k), Source: scanner.SourceFile, Path: "cfg/.env", Line: i + 1, Column: 7,
				Secret: rules.Redact(k), Fingerprint: rules.Fingerprint([]byte(k)), Key: k,
				Entropy: 5.7,
			})
		}
	}
	return out
}

func assertNoKey(t *testing.T, what, text string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(text, k) || strings.Contains(text, k[:40]) || strings.Contains(text, k[len(k)-40:]) {
			t.Errorf("%s contains (part of) a full key", what)
		}
	}
}

func testConfig(fake *xaitest.Server, log *audit.Log) verify.Config {
	return verify.Config{
		APIBase: fake.API.URL, MgmtBase: fake.Mgmt.URL,
		Timeout: 2 * time.Second, Retries: 1, Backoff: time.Millisecond,
		UserAgent: "xaiscan/test", Audit: log,
	}
}

func needShell(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("hook scripts in these tests are POSIX shell")
	}
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHookGetsEachLiveKeyOnceOnStdin(t *testing.T) {
	needShell(t)
	live1, live2, dead := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	// The leaked key is often also in the user's environment: the hook
	// must not inherit it there.
	t.Setenv("XAI_API_KEY", live1)
	t.Setenv("SOME_CONFIG", "prefix-"+live2+"-suffix")

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	script := writeScript(t, dir, "hook.sh", `out="$1"
fp="$XAISCAN_FINGERPRINT"
cat > "$out/stdin.$fp"
env > "$out/env.$fp"
{ printf '%s\n' "$0" "$@"; if [ -r /proc/$$/cmdline ]; then tr '\0' ' ' < /proc/$$/cmdline; tr '\0' ' ' < /proc/$PPID/cmdline; fi; } > "$out/argv.$fp"
echo "hook saw $XAISCAN_SECRET"
`)
	findings := findingsFor(3, live1, dead, live2)
	for i := range findings {
		if findings[i].Key == dead {
			findings[i].Verification = verify.Dead
		} else {
			findings[i].Verification = verify.Live
			findings[i].VerificationDetail = map[string]any{"name": "k"}
		}
	}
	var auditBuf, output bytes.Buffer
	h := &Hook{
		Command: "'" + script + "' '" + outDir + "'",
		Timeout: 10 * time.Second, Output: &output, Audit: audit.New(&auditBuf, nil),
	}
	if fails := h.Run(context.Background(), findings); len(fails) != 0 {
		t.Fatalf("failures: %v", fails)
	}

	entries, _ := os.ReadDir(outDir)
	if len(entries) != 6 {
		t.Errorf("%d files written by the hook, want 6 (3 per live key)", len(entries))
	}
	if _, err := os.Stat(filepath.Join(outDir, "stdin."+rules.Fingerprint([]byte(dead)))); err == nil {
		t.Error("the hook ran for a dead key")
	}
	for _, k := range []string{live1, live2} {
		fp := rules.Fingerprint([]byte(k))
		raw, err := os.ReadFile(filepath.Join(outDir, "stdin."+fp))
		if err != nil {
			t.Fatalf("hook stdin for a live key: %v", err)
		}
		var in map[string]any
		if err := json.Unmarshal(raw, &in); err != nil {
			t.Fatalf("hook stdin is not one JSON object: %v", err)
		}
		if in["secret"] != k {
			t.Error("stdin secret is not the full key")
		}
		if in["occurrences"] != float64(3) || in["fingerprint"] != fp || in["path"] != "cfg/.env" ||
			in["line"] != float64(1) || in["rule"] != rules.APIKey || in["verification"] != verify.Live {
			t.Errorf("stdin = %v", redactMap(in))
		}
		for _, name := range []string{"env.", "argv."} {
			b, err := os.ReadFile(filepath.Join(outDir, name+fp))
			if err != nil {
				t.Fatal(err)
			}
			assertNoKey(t, name+" of the hook", string(b), live1, live2, dead)
		}
		env, _ := os.ReadFile(filepath.Join(outDir, "env."+fp))
		if !strings.Contains(string(env), "XAISCAN_FINGERPRINT="+fp) || !strings.Contains(string(env), "XAISCAN_SECRET="+rules.Redact(k)) {
			t.Error("hook env lacks XAISCAN_FINGERPRINT / XAISCAN_SECRET")
		}
	}
	if !strings.Contains(output.String(), "hook saw "+rules.Redact(live1)) {
		t.Errorf("hook output not forwarded: %q", output.String())
	}
	lines := strings.Split(strings.TrimSpace(auditBuf.String()), "\n")
	if len(lines) != 3 {
		t.Errorf("%d audit lines, want 3", len(lines))
	}
	if !strings.Contains(auditBuf.String(), `"outcome":"skipped"`) || !strings.Contains(auditBuf.String(), `"outcome":"handled"`) {
		t.Errorf("audit: %s", auditBuf.String())
	}
	assertNoKey(t, "audit log", auditBuf.String(), live1, live2, dead)
}

func redactMap(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			v = audit.Scrub(s)
		}
		out[k] = v
	}
	return out
}

func TestHookFailureReportsStatusAndScrubbedStderr(t *testing.T) {
	needShell(t)
	key := rulestest.APIKey()
	dir := t.TempDir()
	// The hook leaks the key it read to stderr and output, then fails.
	script := writeScript(t, dir, "fail.sh", `in=$(cat)
secret=$(printf '%s' "$in" | sed 's/.*"secret":"\([^"]*\)".*/\1/')
i=0; while [ $i -lt 15 ]; do echo "noise $i" >&2; i=$((i+1)); done
echo "cannot revoke $secret: permission denied" >&2
echo "stdout says $secret"
exit 3
`)
	var auditBuf, output bytes.Buffer
	h := &Hook{Command: "'" + script + "'", Timeout: 10 * time.Second, Output: &output, Audit: audit.New(&auditBuf, nil)}
	fails := h.Run(context.Background(), findingsFor(2, key))
	if len(fails) != 1 {
		t.Fatalf("%d failures, want 1", len(fails))
	}
	f := fails[0]
	if f.ExitStatus != 3 || f.Reason != "exit status 3" || f.Action != audit.ActionHook {
		t.Errorf("failure %+v", f)
	}
	if f.Secret != rules.Redact(key) || f.Fingerprint != rules.Fingerprint([]byte(key)) {
		t.Errorf("failure names the key as %q %q", f.Secret, f.Fingerprint)
	}
	tail := strings.Split(f.StderrTail, "\n")
	if len(tail) != tailLines || tail[len(tail)-1] != "cannot revoke "+rules.Redact(key)+": permission denied" {
		t.Errorf("stderr tail = %q", f.StderrTail)
	}
	var report bytes.Buffer
	if err := WriteFailures(&report, fails); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(report.String(), "exit status 3") || !strings.Contains(report.String(), "    | noise 14") {
		t.Errorf("WriteFailures: %q", report.String())
	}
	for what, s := range map[string]string{
		"stderr tail": f.StderrTail, "error": f.Error(), "report": report.String(),
		"output": output.String(), "audit": auditBuf.String(),
	} {
		assertNoKey(t, what, s, key)
	}
	if !strings.Contains(output.String(), "stdout says "+rules.Redact(key)) {
		t.Errorf("output %q", output.String())
	}
}

func TestHookTimeoutKillsIt(t *testing.T) {
	needShell(t)
	key := rulestest.APIKey()
	h := &Hook{Command: "echo starting >&2; sleep 30; sleep 30", Timeout: 300 * time.Millisecond}
	start := time.Now()
	fails := h.Run(context.Background(), findingsFor(1, key))
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("hook ran %v despite the timeout", took)
	}
	if len(fails) != 1 {
		t.Fatalf("%d failures", len(fails))
	}
	if f := fails[0]; f.ExitStatus != -1 || !strings.Contains(f.Reason, "timed out after 300ms") || f.StderrTail != "starting" {
		t.Errorf("failure %+v", f)
	}
}

func TestHookWithoutFullKeyFails(t *testing.T) {
	needShell(t)
	key := rulestest.APIKey()
	f := findingsFor(1, key)
	f[0].Key = ""
	h := &Hook{Command: "exit 0"}
	fails := h.Run(context.Background(), f)
	if len(fails) != 1 || !strings.Contains(fails[0].Reason, "--show-secrets") {
		t.Errorf("failures %v", fails)
	}
}

func TestHookCommandNotFound(t *testing.T) {
	needShell(t)
	h := &Hook{Command: "/nonexistent/hook-binary"}
	fails := h.Run(context.Background(), findingsFor(1, rulestest.APIKey()))
	if len(fails) != 1 || fails[0].ExitStatus != 127 {
		t.Errorf("failures %+v", fails)
	}
}

// revokerSetup makes a fake with a live management key and returns a
// revoker on it.
func revokerSetup(t *testing.T, mgmt xaitest.MgmtKey, dryRun bool) (*xaitest.Server, *Revoker, string, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	fake := xaitest.New(t)
	mk := rulestest.ManagementKey()
	fake.AddMgmtKey(mk, mgmt)
	var auditBuf, out bytes.Buffer
	r, err := NewRevoker(testConfig(fake, audit.New(&auditBuf, nil)), mk, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	r.Out = &out
	return fake, r, mk, &auditBuf, &out
}

func TestRevokerDeletesLiveKeys(t *testing.T) {
	fake, r, mk, auditBuf, out := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live}, false)
	k1, k2, deadVerified, disabled, leakedMgmt := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey(), rulestest.ManagementKey()
	fake.AddAPIKey(k1, xaitest.APIKey{Mode: xaitest.Live, ID: "id-1", Name: "ci"})
	fake.AddAPIKey(k2, xaitest.APIKey{Mode: xaitest.Live, ID: "id-2"})
	fake.AddAPIKey(deadVerified, xaitest.APIKey{Mode: xaitest.Live, ID: "id-3"})
	fake.AddAPIKey(disabled, xaitest.APIKey{Mode: xaitest.Disabled, ID: "id-4"})

	findings := findingsFor(5, k1, k2, deadVerified, disabled, leakedMgmt)
	for i := range findings {
		if findings[i].Key == deadVerified {
			findings[i].Verification = verify.Dead
		}
	}
	fails := r.Revoke(context.Background(), findings)

	if got := strings.Join(fake.Deleted(), ","); got != "id-1,id-2" {
		t.Errorf("deleted %q, want id-1,id-2", got)
	}
	if len(fails) != 1 || fails[0].Rule != rules.ManagementKey || !strings.Contains(fails[0].Reason, "xAI Console") {
		t.Fatalf("failures %+v", fails)
	}
	for _, c := range []struct {
		key    string
		lookup int
	}{{k1, 1}, {k2, 1}, {deadVerified, 0}, {disabled, 1}, {leakedMgmt, 0}} {
		if n := fake.Count(http.MethodGet, "/v1/api-key", c.key); n != c.lookup {
			t.Errorf("%d lookups for a key, want %d", n, c.lookup)
		}
		if n := fake.Count("", "", c.key); n != c.lookup {
			t.Errorf("key sent %d times, want %d", n, c.lookup)
		}
	}
	if n := fake.Count(http.MethodDelete, "/auth/api-keys/id-1", mk); n != 1 {
		t.Errorf("%d DELETEs of id-1 with the management key", n)
	}
	if n := fake.Count(http.MethodGet, "/auth/management-keys/validation", mk); n != 1 {
		t.Errorf("%d management key validations", n)
	}
	for _, req := range fake.Requests() {
		if req.Method == http.MethodDelete && req.Server != "mgmt" {
			t.Error("DELETE sent to the inference API")
		}
		if req.Server == "mgmt" && req.Auth != "Bearer "+mk {
			t.Error("the Management API got something other than the management key")
		}
	}
	if !strings.Contains(out.String(), "revoked "+rules.Redact(k1)+` (api_key_id id-1, name "ci")`) ||
		!strings.Contains(out.String(), rules.Redact(disabled)+" is already dead") {
		t.Errorf("out = %q", out.String())
	}
	a := auditBuf.String()
	for _, want := range []string{`"outcome":"revoked"`, `"outcome":"skipped"`, `"outcome":"failed"`, `"action":"revoke"`} {
		if !strings.Contains(a, want) {
			t.Errorf("audit lacks %s", want)
		}
	}
	assertNoKey(t, "audit log", a, k1, k2, deadVerified, disabled, leakedMgmt, mk)
	assertNoKey(t, "output", out.String(), k1, k2, deadVerified, disabled, leakedMgmt, mk)
	assertNoKey(t, "failure", fails[0].Error(), leakedMgmt, mk)
}

func TestRevokerReusesVerification(t *testing.T) {
	fake, r, _, _, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live}, false)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: "id-1"})
	v, err := verify.New(testConfig(fake, nil))
	if err != nil {
		t.Fatal(err)
	}
	findings := findingsFor(5, k)
	if err := v.Verify(context.Background(), findings); err != nil {
		t.Fatal(err)
	}
	r.UseVerifier(v)
	if fails := r.Revoke(context.Background(), findings); len(fails) != 0 {
		t.Fatalf("failures %v", fails)
	}
	if n := fake.Count(http.MethodGet, "/v1/api-key", k); n != 1 {
		t.Errorf("%d lookups with --verify and --revoke, want 1", n)
	}
	if got := fake.Deleted(); len(got) != 1 {
		t.Errorf("deleted %v", got)
	}
}

func TestRevokerDeleteRejected(t *testing.T) {
	fake, r, _, auditBuf, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live, DeleteStatus: http.StatusForbidden}, false)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: "id-1"})
	fails := r.Revoke(context.Background(), findingsFor(2, k))
	if len(fails) != 1 || fails[0].HTTPStatus != http.StatusForbidden || !strings.Contains(fails[0].Reason, "HTTP 403") {
		t.Fatalf("failures %+v", fails)
	}
	if len(fake.Deleted()) != 0 {
		t.Error("deleted anyway")
	}
	assertNoKey(t, "audit", auditBuf.String(), k)
	assertNoKey(t, "error", fails[0].Error(), k)
}

func TestRevokerManagementKeyRejected(t *testing.T) {
	fake, r, mk, auditBuf, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Unauthorized}, false)
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	fake.AddAPIKey(k1, xaitest.APIKey{Mode: xaitest.Live, ID: "id-1"})
	fake.AddAPIKey(k2, xaitest.APIKey{Mode: xaitest.Live, ID: "id-2"})
	if err := r.Preflight(context.Background()); err == nil || !strings.Contains(err.Error(), "XAI_MANAGEMENT_API_KEY") {
		t.Errorf("Preflight = %v", err)
	}
	fails := r.Revoke(context.Background(), findingsFor(3, k1, k2))
	if len(fails) != 2 {
		t.Fatalf("%d failures, want 2", len(fails))
	}
	for _, f := range fails {
		if !strings.Contains(f.Reason, "rejected") || !strings.Contains(f.Reason, "HTTP 401") {
			t.Errorf("reason %q", f.Reason)
		}
		assertNoKey(t, "failure", f.Error(), k1, k2, mk)
	}
	// Validated once, and no leaked key was sent anywhere.
	if n := len(fake.Requests()); n != 1 {
		t.Errorf("%d requests, want just the validation", n)
	}
	assertNoKey(t, "audit", auditBuf.String(), k1, k2, mk)
}

func TestRevokerDryRunDeletesNothing(t *testing.T) {
	fake, r, mk, auditBuf, out := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live}, true)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: "id-1", Name: "ci"})
	if fails := r.Revoke(context.Background(), findingsFor(3, k)); len(fails) != 0 {
		t.Fatalf("failures %v", fails)
	}
	if n := fake.Count(http.MethodDelete, "", mk); n != 0 || len(fake.Deleted()) != 0 {
		t.Errorf("dry run sent %d DELETEs", n)
	}
	if !strings.Contains(out.String(), "would revoke "+rules.Redact(k)) || !strings.Contains(out.String(), "DELETE "+fake.Mgmt.URL+"/auth/api-keys/id-1") {
		t.Errorf("out = %q", out.String())
	}
	if !strings.Contains(auditBuf.String(), `"outcome":"dry-run"`) {
		t.Errorf("audit = %s", auditBuf.String())
	}
}

func TestRevokerLookupFailures(t *testing.T) {
	fake, r, _, _, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live}, false)
	k500, noID, badID := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	fake.AddAPIKey(k500, xaitest.APIKey{Mode: xaitest.ServerError})
	fake.AddAPIKey(noID, xaitest.APIKey{Mode: xaitest.Live})
	fake.AddAPIKey(badID, xaitest.APIKey{Mode: xaitest.Live, ID: ".."})
	redacted := findingsFor(1, rulestest.APIKey())
	redacted[0].Key = ""
	fails := r.Revoke(context.Background(), append(findingsFor(1, k500, noID, badID), redacted...))
	if len(fails) != 4 {
		t.Fatalf("%d failures, want 4: %v", len(fails), fails)
	}
	wants := []string{"could not look up the key's id: server error (HTTP 500)", "could not look up the key's id: malformed answer to GET /v1/api-key: api_key_id is empty",
		"could not look up the key's id: malformed answer to GET /v1/api-key: api_key_id is not an id", "--show-secrets"}
	for i, w := range wants {
		if !strings.Contains(fails[i].Reason, w) {
			t.Errorf("failure %d: %q, want %q", i, fails[i].Reason, w)
		}
	}
	if fails[0].HTTPStatus != 500 {
		t.Errorf("HTTPStatus %d", fails[0].HTTPStatus)
	}
	if n := len(fake.Deleted()); n != 0 {
		t.Errorf("%d deleted", n)
	}
}

func TestNewRevokerNeedsManagementKey(t *testing.T) {
	_, err := NewRevoker(verify.Config{}, "  ", false)
	if !errors.Is(err, ErrNoManagementKey) || !strings.Contains(err.Error(), "--revoke needs a management key in XAI_MANAGEMENT_API_KEY") {
		t.Errorf("err = %v", err)
	}
	_, err = NewRevoker(verify.Config{MgmtBase: "http://mgmt.example.com"}, rulestest.ManagementKey(), false)
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Errorf("plain http management base: %v", err)
	}
}

func TestKeysFromReader(t *testing.T) {
	text, keys := rulestest.Fill("{{KEY}}\n\nexport XAI_API_KEY=\"{{KEY2}}\"\n  {{MGMT}} and {{KEY}}\nnot a key: xai-short\n")
	fs, err := KeysFromReader(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key       string
		rule      string
		line, col int
	}{
		{keys["KEY"], rules.APIKey, 1, 1},
		{keys["KEY2"], rules.APIKey, 3, 21},
		{keys["MGMT"], rules.ManagementKey, 4, 3},
		{keys["KEY"], rules.APIKey, 4, 3 + len(keys["MGMT"]) + 5},
	}
	if len(fs) != len(want) {
		t.Fatalf("%d findings, want %d", len(fs), len(want))
	}
	for i, w := range want {
		f := fs[i]
		if f.Key != w.key || f.Rule != w.rule || f.Line != w.line || f.Column != w.col ||
			f.Source != scanner.SourceStdin || f.Secret != rules.Redact(w.key) || f.Fingerprint != rules.Fingerprint([]byte(w.key)) {
			t.Errorf("finding %d: %s line %d col %d rule %s, want line %d col %d rule %s", i, f.Secret, f.Line, f.Column, f.Rule, w.line, w.col, w.rule)
		}
	}
}

func TestScrubWriterNeverSplitsAKey(t *testing.T) {
	key := rulestest.APIKey()
	var out bytes.Buffer
	s := &scrubWriter{w: &out}
	long := strings.Repeat("a", maxLine-50) + " " + key + " tail"
	// Feed it in small pieces so cuts fall everywhere.
	for i := 0; i < len(long); i += 7 {
		_, _ = s.Write([]byte(long[i:min(i+7, len(long))]))
	}
	s.Flush()
	assertNoKey(t, "scrubbed output", out.String(), key)
	if !strings.Contains(out.String(), rules.Redact(key)+" tail") {
		t.Error("redacted key missing from output")
	}
}
