package verify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

// apiKeyAnswer is a well-formed GET /v1/api-key answer for key, with the
// fields changed by edit (a nil value deletes the field).
func apiKeyAnswer(key string, edit map[string]any) string {
	info := map[string]any{
		"redacted_api_key": rules.Redact(key), "user_id": "u-1", "name": "ci-bot",
		"create_time": "2026-01-01T00:00:00Z", "modify_time": "2026-01-01T00:00:00Z",
		"modified_by": "u-1", "team_id": "team-1", "acls": []string{"api-key:model:*"},
		"api_key_id":   "ae1e1841-4326-4b36-a8a9-8a1a7237db11",
		"team_blocked": false, "api_key_blocked": false, "api_key_disabled": false,
	}
	for k, v := range edit {
		if v == nil {
			delete(info, k)
		} else {
			info[k] = v
		}
	}
	b, _ := json.Marshal(info)
	return string(b)
}

func jsonAnswer(status int, body string) *xaitest.Answer {
	return &xaitest.Answer{Status: status, ContentType: "application/json", Body: body}
}

// verifyOne verifies one key against the fake and returns its finding.
func verifyOne(t *testing.T, fake *xaitest.Server, cfg Config, key string) (status, reason string, detail map[string]any) {
	t.Helper()
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := findingsFor(1, key)
	if err := v.Verify(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	reason, _ = f[0].VerificationDetail["reason"].(string)
	b, _ := json.Marshal(f[0].VerificationDetail)
	assertNoKey(t, "verification detail", string(b), key)
	return f[0].Verification, reason, f[0].VerificationDetail
}

// TestAPIKeyAnswerMustBeWellFormed: live and dead are read only from an
// answer of the documented shape about this key; anything else is
// unknown, saying what was wrong.
func TestAPIKeyAnswerMustBeWellFormed(t *testing.T) {
	fake := xaitest.New(t)
	cases := []struct {
		name   string
		answer func(key string) *xaitest.Answer
		mode   xaitest.Mode
		want   string
		reason string // substring
	}{
		{name: "well formed", answer: func(k string) *xaitest.Answer { return jsonAnswer(200, apiKeyAnswer(k, nil)) }, want: Live},
		{name: "charset parameter", answer: func(k string) *xaitest.Answer {
			return &xaitest.Answer{Status: 200, ContentType: "application/json; charset=utf-8", Body: apiKeyAnswer(k, nil)}
		}, want: Live},
		{name: "disabled", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"api_key_disabled": true}))
		}, want: Dead, reason: "key disabled"},
		{name: "empty object", mode: xaitest.Empty, want: Unknown, reason: "api_key_disabled is missing"},
		{name: "one flag only", mode: xaitest.Partial, want: Unknown, reason: "api_key_disabled is missing, team_blocked is missing, api_key_id is missing"},
		{name: "flags as strings", mode: xaitest.WrongTypes, want: Unknown, reason: "api_key_disabled is a number, not a boolean, api_key_blocked is a string, not a boolean"},
		{name: "null flag", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"team_blocked": json.RawMessage("null")}))
		}, want: Unknown, reason: "team_blocked is null, not a boolean"},
		{name: "flag set but no id", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"api_key_blocked": true, "api_key_id": nil}))
		}, want: Unknown, reason: "api_key_id is missing"},
		{name: "id a number", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"api_key_id": 42}))
		}, want: Unknown, reason: "api_key_id is a number, not a string"},
		{name: "id a path", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"api_key_id": "../../teams"}))
		}, want: Unknown, reason: "api_key_id is not an id"},
		{name: "no redacted key", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"redacted_api_key": nil}))
		}, want: Unknown, reason: "redacted_api_key is missing"},
		{name: "acls not a list", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"acls": "all"}))
		}, want: Unknown, reason: "acls is not a list of strings"},
		{name: "name an object", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, map[string]any{"name": map[string]any{}}))
		}, want: Unknown, reason: "name is an object, not a string"},
		{name: "another key's answer", mode: xaitest.OtherKey, want: Unknown, reason: "is about another key"},
		{name: "html", mode: xaitest.Garbage, want: Unknown, reason: "not JSON (Content-Type text/html)"},
		{name: "JSON as text/plain", answer: func(k string) *xaitest.Answer {
			return &xaitest.Answer{Status: 200, ContentType: "text/plain", Body: apiKeyAnswer(k, nil)}
		}, want: Unknown, reason: "Content-Type text/plain"},
		{name: "no content type", answer: func(k string) *xaitest.Answer {
			return &xaitest.Answer{Status: 200, Body: apiKeyAnswer(k, nil)}
		}, want: Unknown, reason: "Content-Type none"},
		{name: "array", answer: func(string) *xaitest.Answer { return jsonAnswer(200, `[{"api_key_blocked":false}]`) }, want: Unknown, reason: "not a JSON object"},
		{name: "truncated", answer: func(k string) *xaitest.Answer { return jsonAnswer(200, apiKeyAnswer(k, nil)[:40]) }, want: Unknown, reason: "not valid JSON"},
		{name: "trailing garbage", answer: func(k string) *xaitest.Answer { return jsonAnswer(200, apiKeyAnswer(k, nil)+" <html>") }, want: Unknown, reason: "not valid JSON"},
		{name: "well formed, then padded past the limit", answer: func(k string) *xaitest.Answer {
			return jsonAnswer(200, apiKeyAnswer(k, nil)+strings.Repeat(" ", MaxBody))
		}, want: Unknown, reason: "larger than 1024 KiB"},
		{name: "401 with a message", answer: func(string) *xaitest.Answer {
			return jsonAnswer(401, `{"error":"Incorrect API key provided"}`)
		}, want: Dead, reason: "key rejected (HTTP 401)"},
		{name: "403", answer: func(string) *xaitest.Answer {
			return jsonAnswer(403, `{"code":"permission denied","error":"The team is blocked"}`)
		}, want: Unknown, reason: "unexpected answer (HTTP 403)"},
		{name: "200 error page from a proxy", answer: func(string) *xaitest.Answer {
			return jsonAnswer(200, `{"error":"upstream unavailable"}`)
		}, want: Unknown, reason: "api_key_disabled is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := rulestest.APIKey()
			ak := xaitest.APIKey{Mode: c.mode, ID: "id-1", Name: "n"}
			if c.answer != nil {
				ak.Answer = c.answer(k)
			}
			fake.AddAPIKey(k, ak)
			got, reason, _ := verifyOne(t, fake, testConfig(fake, nil), k)
			if got != c.want || !strings.Contains(reason, c.reason) {
				t.Errorf("%s: %q (%q), want %q (%q)", c.name, got, reason, c.want, c.reason)
			}
		})
	}
}

// TestServerTextIsCleaned: names, ACLs and error messages from a server
// reach reports short, with control characters escaped and keys redacted.
func TestServerTextIsCleaned(t *testing.T) {
	fake := xaitest.New(t)
	other := rulestest.APIKey()
	hostile := "\x1b[2J\x1b]0;pwned\a\u009b31m" + other + "\n::error::forged"
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Answer: jsonAnswer(200, apiKeyAnswer(k, map[string]any{
		"name": hostile + strings.Repeat("x", 10000),
		"acls": append([]string{hostile}, make([]string, 500)...),
	}))})
	got, _, d := verifyOne(t, fake, testConfig(fake, nil), k)
	if got != Live {
		t.Fatalf("verification %q", got)
	}
	name, _ := d["name"].(string)
	acls, _ := d["acls"].([]string)
	if len(acls) != maxListLen+1 || !strings.HasPrefix(acls[maxListLen], "… and 437 more") {
		t.Errorf("%d acls kept, last %q", len(acls), acls[len(acls)-1])
	}
	for _, s := range []string{name, acls[0]} {
		if strings.ContainsAny(s, "\x1b\a\n\u009b") {
			t.Errorf("control characters kept: %q", s)
		}
		if !strings.Contains(s, `\x1b[2J`) || !strings.Contains(s, `\u009b`) || !strings.Contains(s, rules.Redact(other)) {
			t.Errorf("not escaped visibly: %q", s)
		}
		assertNoKey(t, "cleaned text", s, other)
	}
	if n := len([]rune(name)); n > maxFieldLen+1 {
		t.Errorf("name kept %d characters", n)
	}

	// An error message is kept as server_message, cleaned; the reason is ours.
	k2 := rulestest.APIKey()
	fake.AddAPIKey(k2, xaitest.APIKey{Answer: jsonAnswer(401, `{"error":{"message":"bad key \u001b[1A`+other+`"}}`)})
	got, reason, d := verifyOne(t, fake, testConfig(fake, nil), k2)
	msg, _ := d["server_message"].(string)
	if got != Dead || reason != "key rejected (HTTP 401)" || msg != `bad key \x1b[1A`+rules.Redact(other) {
		t.Errorf("401: %q %q %q", got, reason, msg)
	}
}

func TestClean(t *testing.T) {
	key := rulestest.APIKey()
	cases := []struct{ in, want string }{
		{"plain name", "plain name"},
		{"tab\there", `tab\x09here`},
		{"del\x7f", `del\x7f`},
		{"c1 \u0085 \u009d", `c1 \u0085 \u009d`},
		{"bad \xff utf8", `bad \xff utf8`},
		{"ünïcødé ✓", "ünïcødé ✓"},
		{key, rules.Redact(key)},
		{strings.Repeat("é", 10), strings.Repeat("é", 4) + "…"},
	}
	for _, c := range cases {
		max := 100
		if strings.HasPrefix(c.in, "é") {
			max = 4
		}
		if got := clean(c.in, max); got != c.want {
			t.Errorf("clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A key straddling the length cut is still redacted, not half shown.
	long := strings.Repeat("a", 390) + " " + key
	if got := clean(long, 100); strings.Contains(got, key[:20]) {
		t.Errorf("part of a key kept: %q", got)
	}
	if got := clean(strings.Repeat("a", 10<<20), 100); len(got) > 110 {
		t.Errorf("kept %d bytes of 10 MiB", len(got))
	}
}

// countingBody counts what the client reads of a body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingReads struct {
	inner http.RoundTripper
	n     atomic.Int64
}

func (c *countingReads) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := c.inner.RoundTrip(r)
	if err == nil {
		res.Body = countingBody{res.Body, &c.n}
	}
	return res, err
}

// TestHugeBodyIsNotRead: a 200 with 5 GB of spaces (for either kind of
// key) is unknown, and no more than MaxBody+1 bytes of it are read; the
// fake, which streams as fast as the connection takes, is cut off.
func TestHugeBodyIsNotRead(t *testing.T) {
	fake := xaitest.New(t)
	api, mgmt := rulestest.APIKey(), rulestest.ManagementKey()
	fake.AddAPIKey(api, xaitest.APIKey{Mode: xaitest.Huge})
	fake.AddMgmtKey(mgmt, xaitest.MgmtKey{Mode: xaitest.Huge})
	for _, k := range []string{api, mgmt} {
		ct := &countingReads{inner: http.DefaultTransport}
		cfg := testConfig(fake, nil)
		cfg.HTTPClient = &http.Client{Transport: ct}
		got, reason, _ := verifyOne(t, fake, cfg, k)
		if got != Unknown || !strings.Contains(reason, "larger than 1024 KiB") {
			t.Errorf("%s: %q %q", rules.Redact(k), got, reason)
		}
		if n := ct.n.Load(); n > MaxBody+1 {
			t.Errorf("read %d bytes of a huge body, limit %d", n, MaxBody+1)
		}
	}
	if n := fake.Streamed(); n > 64<<20 {
		t.Errorf("the fake streamed %d MiB: the client kept reading", n>>20)
	}
}

// TestEndlessBodyIsCutByTheTimeout: a server that sends the start of an
// answer and then nothing is given up on at the per-request deadline.
func TestEndlessBodyIsCutByTheTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"api_key_blocked": `)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	cfg := Config{APIBase: srv.URL, MgmtBase: srv.URL, Timeout: 200 * time.Millisecond}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := findingsFor(1, rulestest.APIKey())
	if err := v.Verify(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	reason, _ := f[0].VerificationDetail["reason"].(string)
	if f[0].Verification != Unknown || !strings.Contains(reason, "timed out") {
		t.Errorf("%q %q", f[0].Verification, reason)
	}
}

// TestManagementAnswerMustBeWellFormed: the validation endpoint's answer
// says live only in its documented shape.
func TestManagementAnswerMustBeWellFormed(t *testing.T) {
	fake := xaitest.New(t)
	documented := `{"apiKeyId":"b86ba29d-9f47-4b3a-a6ae-e69432d5f0dc","teamId":"65c1e471","scope":"SCOPE_TEAM","scopeId":"65c1e471","name":"test key"}`
	cases := []struct {
		name   string
		answer *xaitest.Answer
		mode   xaitest.Mode
		want   string
		reason string
		team   string
	}{
		{name: "documented", answer: jsonAnswer(200, documented), want: Live, team: "65c1e471"},
		{name: "scopeId only", answer: jsonAnswer(200, `{"apiKeyId":"k","scope":"SCOPE_TEAM","scopeId":"t-2"}`), want: Live, team: "t-2"},
		{name: "mistyped ACLs are ignored", answer: jsonAnswer(200, `{"apiKeyId":"k","teamId":"t","acls":7}`), want: Live, team: "t"},
		{name: "empty object", mode: xaitest.Empty, want: Unknown, reason: "apiKeyId is missing"},
		{name: "no owner", answer: jsonAnswer(200, `{"apiKeyId":"k","name":"n"}`), want: Unknown, reason: "neither teamId nor scopeId"},
		{name: "id a number", answer: jsonAnswer(200, `{"apiKeyId":1,"teamId":"t"}`), want: Unknown, reason: "apiKeyId is a number, not a string"},
		{name: "scope a list", answer: jsonAnswer(200, `{"apiKeyId":"k","teamId":"t","scope":["a"]}`), want: Unknown, reason: "scope is a list, not a string"},
		{name: "garbage", mode: xaitest.Garbage, want: Unknown, reason: "not JSON"},
		{name: "huge", mode: xaitest.Huge, want: Unknown, reason: "larger than 1024 KiB"},
		{name: "spaces", answer: jsonAnswer(200, strings.Repeat(" ", 4096)), want: Unknown, reason: "not a JSON object"},
		{name: "401", mode: xaitest.Unauthorized, want: Dead, reason: "management key rejected (HTTP 401)"},
		{name: "400", mode: xaitest.BadRequest, want: Dead, reason: "management key rejected (HTTP 400)"},
		{name: "403", mode: xaitest.Forbidden, want: Unknown, reason: "HTTP 403"},
		{name: "429 asking for an hour", answer: &xaitest.Answer{Status: 429, ContentType: "application/json", Body: "{}", Header: map[string]string{"Retry-After": "3600"}}, want: Unknown, reason: "retry after 1h0m0s"},
		{name: "503", answer: jsonAnswer(503, `{"error":"down"}`), want: Unknown, reason: "server error (HTTP 503) after 3 attempts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := rulestest.ManagementKey()
			fake.AddMgmtKey(k, xaitest.MgmtKey{Mode: c.mode, Answer: c.answer})
			got, reason, d := verifyOne(t, fake, testConfig(fake, nil), k)
			if got != c.want || !strings.Contains(reason, c.reason) {
				t.Errorf("%q (%q), want %q (%q)", got, reason, c.want, c.reason)
			}
			if c.team != "" && d["team_id"] != c.team {
				t.Errorf("team_id %v, want %s", d["team_id"], c.team)
			}
		})
	}
}
