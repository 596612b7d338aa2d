package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

const testUA = "xaiscan/test"

// testConfig points a Config at the fake and keeps waits short.
func testConfig(fake *xaitest.Server, log *audit.Log) Config {
	return Config{
		APIBase:   fake.API.URL,
		MgmtBase:  fake.Mgmt.URL,
		Timeout:   2 * time.Second,
		Retries:   2,
		Backoff:   time.Millisecond,
		MaxWait:   5 * time.Second,
		UserAgent: testUA,
		Audit:     log,
	}
}

// findingsFor returns n findings per key, interleaved, as a scan would.
func findingsFor(n int, keys ...string) []scanner.Finding {
	var out []scanner.Finding
	for i := 0; i < n; i++ {
		for _, k := range keys {
			rule := rules.APIKey
			if strings.HasPrefix(k, rules.ManagementPrefix) {
				rule = rules.ManagementKey
			}
			out = append(out, scanner.Finding{
				Rule: rule, Source: scanner.SourceFile, Path: "f.env", Line: i + 1, Column: 1,
				Secret: rules.Redact(k), Fingerprint: rules.Fingerprint([]byte(k)), Key: k,
			})
		}
	}
	return out
}

// assertNoKey fails if any of keys appears in text.
func assertNoKey(t *testing.T, what, text string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if strings.Contains(text, k) {
			t.Errorf("%s contains a full key", what)
		}
		// A truncated key is just as bad.
		if strings.Contains(text, k[:40]) {
			t.Errorf("%s contains part of a key", what)
		}
	}
}

func TestVerifyClassifiesAndSendsOneRequestPerKey(t *testing.T) {
	fake := xaitest.New(t)
	type tc struct {
		key    xaitest.APIKey
		want   string
		reason string
		reqs   int // requests expected (retries count)
	}
	cases := map[string]tc{
		"live":         {xaitest.APIKey{Mode: xaitest.Live, ID: "id-live", Name: "prod key", ACLs: []string{"api-key:model:*", "api-key:endpoint:*"}}, Live, "", 1},
		"disabled":     {xaitest.APIKey{Mode: xaitest.Disabled, ID: "id-dis", Name: "old"}, Dead, "key disabled", 1},
		"blocked":      {xaitest.APIKey{Mode: xaitest.Blocked, ID: "id-blk"}, Dead, "key blocked", 1},
		"team-blocked": {xaitest.APIKey{Mode: xaitest.TeamBlocked, ID: "id-team"}, Dead, "team blocked", 1},
		"400":          {xaitest.APIKey{Mode: xaitest.BadRequest}, Dead, "key rejected (HTTP 400)", 1},
		"401":          {xaitest.APIKey{Mode: xaitest.Unauthorized}, Dead, "key rejected (HTTP 401)", 1},
		"403":          {xaitest.APIKey{Mode: xaitest.Forbidden}, Unknown, "unexpected answer (HTTP 403)", 1},
		"500":          {xaitest.APIKey{Mode: xaitest.ServerError}, Unknown, "server error (HTTP 500) after 3 attempts", 3},
		"garbage":      {xaitest.APIKey{Mode: xaitest.Garbage}, Unknown, "unexpected answer to GET /v1/api-key: the answer is not JSON (Content-Type text/html)", 1},
		"empty":        {xaitest.APIKey{Mode: xaitest.Empty}, Unknown, "malformed answer to GET /v1/api-key: api_key_disabled is missing, api_key_blocked is missing, team_blocked is missing, api_key_id is missing and 1 more", 1},
	}
	keys := map[string]string{}
	var all []string
	for name, c := range cases {
		k := rulestest.APIKey()
		keys[name] = k
		all = append(all, k)
		fake.AddAPIKey(k, c.key)
	}
	// A key the fake has never heard of: xAI answers 400.
	unknownKey := rulestest.APIKey()
	all = append(all, unknownKey)

	var auditBuf bytes.Buffer
	v, err := New(testConfig(fake, audit.New(&auditBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	findings := findingsFor(5, all...)
	if err := v.Verify(context.Background(), findings); err != nil {
		t.Fatal(err)
	}

	for _, f := range findings {
		if f.Verification == "" {
			t.Fatalf("finding %s left unverified", f.Secret)
		}
	}
	byKey := map[string][]scanner.Finding{}
	for _, f := range findings {
		byKey[f.Key] = append(byKey[f.Key], f)
	}
	for name, c := range cases {
		k := keys[name]
		fs := byKey[k]
		if len(fs) != 5 {
			t.Fatalf("%s: %d findings", name, len(fs))
		}
		for _, f := range fs {
			if f.Verification != c.want {
				t.Errorf("%s: verification %q, want %q (detail %v)", name, f.Verification, c.want, f.VerificationDetail)
			}
			if got, _ := f.VerificationDetail["reason"].(string); got != c.reason {
				t.Errorf("%s: reason %q, want %q", name, got, c.reason)
			}
		}
		if n := fake.Count(http.MethodGet, "/v1/api-key", k); n != c.reqs {
			t.Errorf("%s: %d requests for the key, want %d", name, n, c.reqs)
		}
	}
	if got := byKey[unknownKey][0].Verification; got != Dead {
		t.Errorf("unknown key: %q, want dead", got)
	}

	live := byKey[keys["live"]][0].VerificationDetail
	if live["name"] != "prod key" || live["api_key_id"] != "id-live" || live["team_id"] != "team-1" {
		t.Errorf("live detail = %v", live)
	}
	if acls, _ := live["acls"].([]string); len(acls) != 2 || acls[0] != "api-key:model:*" {
		t.Errorf("live acls = %v", live["acls"])
	}
	if d := byKey[keys["disabled"]][0].VerificationDetail; d["api_key_disabled"] != true || d["name"] != "old" {
		t.Errorf("disabled detail = %v", d)
	}
	if d := byKey[keys["401"]][0].VerificationDetail; d["http_status"] != 401 {
		t.Errorf("401 detail = %v", d)
	}
	// Details are per finding: changing one must not change another.
	byKey[keys["live"]][0].VerificationDetail["name"] = "changed"
	if findings2 := byKey[keys["live"]][1].VerificationDetail; findings2["name"] != "prod key" {
		t.Error("findings share one detail map")
	}

	for _, r := range fake.Requests() {
		if r.Server != "api" {
			t.Errorf("API key sent to the %s server: %s %s", r.Server, r.Method, r.Path)
		}
		if r.UserAgent != testUA {
			t.Errorf("User-Agent %q", r.UserAgent)
		}
		if !strings.HasPrefix(r.Auth, "Bearer xai-") {
			t.Errorf("Authorization header is not a bearer key")
		}
	}

	// One audit line per distinct key, none with a key in it.
	lines := auditLines(t, auditBuf.String())
	if len(lines) != len(all) {
		t.Errorf("%d audit lines, want %d", len(lines), len(all))
	}
	for _, l := range lines {
		if l.Action != audit.ActionVerify || l.Fingerprint == "" || !strings.HasPrefix(l.Secret, "xai-...") || l.Time == "" {
			t.Errorf("audit line %+v", l)
		}
	}
	assertNoKey(t, "audit log", auditBuf.String(), all...)
	for _, f := range findings {
		b, _ := json.Marshal(f.VerificationDetail)
		assertNoKey(t, "verification detail", string(b), all...)
	}
}

func auditLines(t *testing.T, s string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line is not JSON: %v", err)
		}
		out = append(out, e)
	}
	return out
}

func TestRetryAfterIsHonoured(t *testing.T) {
	fake := xaitest.New(t)
	k429 := rulestest.APIKey()
	fake.AddAPIKey(k429, xaitest.APIKey{Mode: xaitest.Live, ID: "a", Fail429: 1, RetryAfter: "1"})
	k500 := rulestest.APIKey()
	fake.AddAPIKey(k500, xaitest.APIKey{Mode: xaitest.Live, ID: "b", Fail500: 2})
	kAlways := rulestest.APIKey()
	fake.AddAPIKey(kAlways, xaitest.APIKey{Mode: xaitest.RateLimited, RetryAfter: "0"})
	kLong := rulestest.APIKey()
	fake.AddAPIKey(kLong, xaitest.APIKey{Mode: xaitest.RateLimited, RetryAfter: "3600"})

	v, err := New(testConfig(fake, nil))
	if err != nil {
		t.Fatal(err)
	}
	findings := findingsFor(5, k429, k500, kAlways, kLong)
	if err := v.Verify(context.Background(), findings); err != nil {
		t.Fatal(err)
	}
	got := map[string]scanner.Finding{}
	for _, f := range findings {
		got[f.Key] = f
	}
	check := func(name, key, want string, reqs int) {
		t.Helper()
		if got[key].Verification != want {
			t.Errorf("%s: %q, want %q (%v)", name, got[key].Verification, want, got[key].VerificationDetail)
		}
		if n := fake.Count("", "", key); n != reqs {
			t.Errorf("%s: %d requests, want %d", name, n, reqs)
		}
	}
	check("429 then live", k429, Live, 2)
	check("500, 500, live", k500, Live, 3)
	check("always 429", kAlways, Unknown, 3)
	check("429 asking for an hour", kLong, Unknown, 1)
	if r := got[kLong].VerificationDetail["reason"]; !strings.Contains(r.(string), "retry after 1h0m0s") {
		t.Errorf("long Retry-After reason %q", r)
	}
}

func TestHangingServerTimesOut(t *testing.T) {
	fake := xaitest.New(t)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Hang})
	cfg := testConfig(fake, nil)
	cfg.Timeout = 200 * time.Millisecond
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	findings := findingsFor(2, k)
	if err := v.Verify(context.Background(), findings); err != nil {
		t.Fatal(err)
	}
	if findings[0].Verification != Unknown {
		t.Fatalf("hanging server: %q", findings[0].Verification)
	}
	reason, _ := findings[0].VerificationDetail["reason"].(string)
	if !strings.Contains(reason, "timed out after 200ms") {
		t.Errorf("reason %q", reason)
	}
	assertNoKey(t, "reason", reason, k)
	// Timeouts are not retried.
	if n := fake.Count("", "", k); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestManagementKeys(t *testing.T) {
	fake := xaitest.New(t)
	live, dead, forbidden := rulestest.ManagementKey(), rulestest.ManagementKey(), rulestest.ManagementKey()
	fake.AddMgmtKey(live, xaitest.MgmtKey{Mode: xaitest.Live, Name: "ops", ACLs: []string{"team:admin"}})
	fake.AddMgmtKey(dead, xaitest.MgmtKey{Mode: xaitest.Unauthorized})
	fake.AddMgmtKey(forbidden, xaitest.MgmtKey{Mode: xaitest.Forbidden})
	var auditBuf bytes.Buffer
	v, err := New(testConfig(fake, audit.New(&auditBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	findings := findingsFor(5, live, dead, forbidden)
	if err := v.Verify(context.Background(), findings); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{live: Live, dead: Dead, forbidden: Unknown}
	for _, f := range findings {
		if f.Verification != want[f.Key] {
			t.Errorf("%s: %q, want %q", f.Secret, f.Verification, want[f.Key])
		}
	}
	d := findings[0].VerificationDetail
	if d["name"] != "ops" || d["team_id"] != "team-1" || d["scope"] != "SCOPE_TEAM" {
		t.Errorf("live management detail %v", d)
	}
	if acls, _ := d["acls"].([]string); len(acls) != 1 || acls[0] != "team:admin" {
		t.Errorf("live management acls %v", d["acls"])
	}
	for _, k := range []string{live, dead, forbidden} {
		if n := fake.Count(http.MethodGet, "/auth/management-keys/validation", k); n != 1 {
			t.Errorf("%d validation requests, want 1", n)
		}
	}
	for _, r := range fake.Requests() {
		if r.Server != "mgmt" {
			t.Errorf("management key sent to the %s server", r.Server)
		}
	}
	assertNoKey(t, "audit log", auditBuf.String(), live, dead, forbidden)
}

func TestFindingsWithoutKeyAreUnknownAndSendNothing(t *testing.T) {
	fake := xaitest.New(t)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live})
	f := findingsFor(3, k)
	for i := range f {
		f[i].Key = "" // a report written without --show-secrets
	}
	v, err := New(testConfig(fake, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	for _, x := range f {
		if x.Verification != Unknown || !strings.Contains(x.VerificationDetail["reason"].(string), "--show-secrets") {
			t.Errorf("%q %v", x.Verification, x.VerificationDetail)
		}
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests without a key", n)
	}
}

func TestLookupReusesVerifyResult(t *testing.T) {
	fake := xaitest.New(t)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: "k1"})
	v, err := New(testConfig(fake, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), findingsFor(1, k)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			if r := v.Lookup(context.Background(), k); r.APIKeyID != "k1" || r.Status != Live {
				t.Errorf("lookup %+v", r)
			}
		})
	}
	wg.Wait()
	if n := fake.Count("", "", k); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// countingTransport measures the most requests in flight at once.
type countingTransport struct {
	inner     http.RoundTripper
	cur, peak atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.cur.Add(1)
	defer c.cur.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond) // hold the slot so overlap is visible
	return c.inner.RoundTrip(r)
}

func TestConcurrencyIsBounded(t *testing.T) {
	fake := xaitest.New(t)
	var keys []string
	for i := 0; i < 12; i++ {
		k := rulestest.APIKey()
		keys = append(keys, k)
		fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live})
	}
	ct := &countingTransport{inner: http.DefaultTransport}
	cfg := testConfig(fake, nil)
	cfg.Concurrency = 3
	cfg.HTTPClient = &http.Client{Transport: ct}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(context.Background(), findingsFor(2, keys...)); err != nil {
		t.Fatal(err)
	}
	if p := ct.peak.Load(); p > 3 || p < 1 {
		t.Errorf("peak concurrency %d, want 1..3", p)
	}
	if n := len(fake.Requests()); n != 12 {
		t.Errorf("%d requests, want 12", n)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var hits atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer elsewhere.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/v1/api-key", http.StatusFound)
	}))
	defer api.Close()
	v, err := New(Config{APIBase: api.URL, MgmtBase: api.URL, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	f := findingsFor(1, rulestest.APIKey())
	if err := v.Verify(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if f[0].Verification != Unknown || hits.Load() != 0 {
		t.Errorf("redirect: %q, %d requests elsewhere", f[0].Verification, hits.Load())
	}
}

func TestSendRefusesOtherDestinations(t *testing.T) {
	fake := xaitest.New(t)
	v, err := New(testConfig(fake, nil))
	if err != nil {
		t.Fatal(err)
	}
	k := rulestest.APIKey()
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	for _, u := range []string{other.URL + "/v1/api-key", fake.API.URL + ".evil.example/v1", "https://example.com/"} {
		_, err := v.Send(context.Background(), http.MethodGet, u, k)
		if err == nil {
			t.Errorf("Send to %s accepted", u)
			continue
		}
		assertNoKey(t, "error", err.Error(), k)
	}
}

func TestTransportErrorsCarryNoKey(t *testing.T) {
	// A closed server: connection refused.
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close()
	v, err := New(Config{APIBase: base, MgmtBase: base, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k := rulestest.APIKey()
	f := findingsFor(1, k)
	if err := v.Verify(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	reason, _ := f[0].VerificationDetail["reason"].(string)
	if f[0].Verification != Unknown || !strings.HasPrefix(reason, "request failed: ") {
		t.Errorf("%q %q", f[0].Verification, reason)
	}
	assertNoKey(t, "reason", reason, k)
}

func TestCancelledContext(t *testing.T) {
	fake := xaitest.New(t)
	k := rulestest.APIKey()
	fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live})
	v, err := New(testConfig(fake, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := findingsFor(1, k)
	if err := v.Verify(ctx, f); err == nil {
		t.Error("no error from a cancelled context")
	}
	if f[0].Verification != Unknown {
		t.Errorf("%q", f[0].Verification)
	}
}

func TestCheckEndpoint(t *testing.T) {
	ok := []string{
		"https://api.x.ai", "https://proxy.example.com/xai", "http://127.0.0.1:8080",
		"http://127.5.6.7", "http://[::1]:9000", "http://localhost:1234", "http://LOCALHOST",
	}
	bad := []string{
		"http://api.x.ai", "http://10.0.0.1", "http://192.168.1.1:8080", "ftp://api.x.ai",
		"api.x.ai", "", "https://", "https://api.x.ai/?a=b", "http://localhost.evil.com",
		"http://127.0.0.1.nip.io",
	}
	for _, u := range ok {
		if err := CheckEndpoint(u); err != nil {
			t.Errorf("CheckEndpoint(%q) = %v", u, err)
		}
	}
	for _, u := range bad {
		if err := CheckEndpoint(u); err == nil {
			t.Errorf("CheckEndpoint(%q) accepted", u)
		}
	}
	_, err := New(Config{APIBase: "http://api.example.com"})
	if err == nil || !strings.Contains(err.Error(), "XAI_API_BASE_URL") || !strings.Contains(err.Error(), "https") {
		t.Errorf("New with plain http: %v", err)
	}
	_, err = New(Config{MgmtBase: "http://mgmt.example.com"})
	if err == nil || !strings.Contains(err.Error(), "XAI_MANAGEMENT_API_BASE_URL") {
		t.Errorf("New with plain http management base: %v", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Setenv(EnvAPIBase, "")
	t.Setenv(EnvMgmtBase, "")
	if c := ConfigFromEnv(); c.APIBase != DefaultAPIBase || c.MgmtBase != DefaultMgmtBase {
		t.Errorf("defaults %+v", c)
	}
	t.Setenv(EnvAPIBase, "http://127.0.0.1:1/")
	t.Setenv(EnvMgmtBase, "https://mgmt.example.com")
	c := ConfigFromEnv()
	if c.APIBase != "http://127.0.0.1:1/" || c.MgmtBase != "https://mgmt.example.com" {
		t.Errorf("from env %+v", c)
	}
	v, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if v.Config().APIBase != "http://127.0.0.1:1" {
		t.Errorf("trailing slash kept: %q", v.Config().APIBase)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	v, err := New(Config{Backoff: 100 * time.Millisecond, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempt, hi := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		hi *= time.Millisecond
		for i := 0; i < 20; i++ {
			if d := v.backoff(attempt); d < hi/2 || d > hi {
				t.Errorf("backoff(%d) = %v, want %v..%v", attempt, d, hi/2, hi)
			}
		}
	}
}
