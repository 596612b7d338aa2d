package revoke

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner/verify"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

// TestRevokerDoesNotTrustTheDeleteAnswer: a 200 or 204 counts as revoked
// only with no body or a JSON object without an error.
func TestRevokerDoesNotTrustTheDeleteAnswer(t *testing.T) {
	cases := []struct {
		name    string
		answer  *xaitest.Answer
		revoked bool
		reason  string
	}{
		{name: "empty JSON object", answer: nil, revoked: true},
		{name: "204 no body", answer: &xaitest.Answer{Status: 204}, revoked: true},
		{name: "200 no body", answer: &xaitest.Answer{Status: 200}, revoked: true},
		{name: "html", answer: &xaitest.Answer{Status: 200, ContentType: "text/html", Body: "<html>ok</html>"}, reason: "DELETE answered HTTP 200 with a body that is not JSON: not known to be revoked"},
		{name: "JSON without a content type", answer: &xaitest.Answer{Status: 200, Body: "{}"}, reason: "not JSON"},
		{name: "truncated JSON", answer: &xaitest.Answer{Status: 200, ContentType: "application/json", Body: `{"deleted":`}, reason: "not a JSON object"},
		{name: "an error in a 200", answer: &xaitest.Answer{Status: 200, ContentType: "application/json", Body: `{"error":"internal"}`}, reason: "with an error in the body"},
		{name: "oversized", answer: &xaitest.Answer{Status: 200, ContentType: "application/json", Body: "{}" + strings.Repeat(" ", verify.MaxBody)}, reason: "larger than 1024 KiB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake, r, _, auditBuf, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live, DeleteAnswer: c.answer}, false)
			k := rulestest.APIKey()
			fake.AddAPIKey(k, xaitest.APIKey{Mode: xaitest.Live, ID: "id-1"})
			fails := r.Revoke(context.Background(), findingsFor(1, k))
			if c.revoked {
				if len(fails) != 0 || !strings.Contains(auditBuf.String(), `"outcome":"revoked"`) {
					t.Errorf("not counted as revoked: %v", fails)
				}
				return
			}
			if len(fails) != 1 || !strings.Contains(fails[0].Reason, c.reason) {
				t.Fatalf("failures %v, want one with %q", fails, c.reason)
			}
			if strings.Contains(auditBuf.String(), `"outcome":"revoked"`) {
				t.Error("audit says revoked")
			}
		})
	}
}

// TestRevokerNeedsAWellFormedLookup: without a well-formed answer naming
// this key's api_key_id, nothing is deleted.
func TestRevokerNeedsAWellFormedLookup(t *testing.T) {
	fake, r, mk, _, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live}, false)
	modes := []xaitest.Mode{xaitest.Empty, xaitest.Partial, xaitest.WrongTypes, xaitest.OtherKey, xaitest.Garbage, xaitest.Huge}
	var keys []string
	for _, m := range modes {
		k := rulestest.APIKey()
		keys = append(keys, k)
		fake.AddAPIKey(k, xaitest.APIKey{Mode: m, ID: "id-" + string(m)})
	}
	fails := r.Revoke(context.Background(), findingsFor(1, keys...))
	if len(fails) != len(modes) {
		t.Fatalf("%d failures for %d keys: %v", len(fails), len(modes), fails)
	}
	for i, f := range fails {
		if !strings.HasPrefix(f.Reason, "could not look up the key's id: ") {
			t.Errorf("%s: %q", modes[i], f.Reason)
		}
	}
	if n := fake.Count(http.MethodDelete, "", mk); n != 0 || len(fake.Deleted()) != 0 {
		t.Errorf("%d DELETEs sent, %v deleted", n, fake.Deleted())
	}
}

// TestPreflightReadsTheAnswer: the management key is refused on 400, 401
// and 403; an answer that decides nothing (garbage, huge) lets the
// deletions tell, and is recorded as unknown, not live.
func TestPreflightReadsTheAnswer(t *testing.T) {
	cases := []struct {
		mode    xaitest.Mode
		refused bool
		outcome string
	}{
		{xaitest.Live, false, `"outcome":"live"`},
		{xaitest.Unauthorized, true, `"outcome":"dead"`},
		{xaitest.BadRequest, true, `"outcome":"dead"`},
		{xaitest.Forbidden, true, `"outcome":"unknown"`},
		{xaitest.Garbage, false, `"outcome":"unknown"`},
		{xaitest.Empty, false, `"outcome":"unknown"`},
		{xaitest.Huge, false, `"outcome":"unknown"`},
	}
	for _, c := range cases {
		_, r, mk, auditBuf, _ := revokerSetup(t, xaitest.MgmtKey{Mode: c.mode}, false)
		err := r.Preflight(context.Background())
		if (err != nil) != c.refused {
			t.Errorf("%s: preflight error %v, want refused=%v", c.mode, err, c.refused)
		}
		if err != nil && (!strings.Contains(err.Error(), EnvMgmtKey) || strings.Contains(err.Error(), mk)) {
			t.Errorf("%s: error %q", c.mode, err)
		}
		if !strings.Contains(auditBuf.String(), c.outcome) {
			t.Errorf("%s: audit %s, want %s", c.mode, auditBuf.String(), c.outcome)
		}
	}
}

// TestRevokeInterrupted: cancelling while a lookup hangs reports the key
// in flight and every later key as not revoked (interrupted), and
// deletes nothing.
func TestRevokeInterrupted(t *testing.T) {
	fake, r, mk, auditBuf, _ := revokerSetup(t, xaitest.MgmtKey{Mode: xaitest.Live}, false)
	hang, later := rulestest.APIKey(), rulestest.APIKey()
	fake.AddAPIKey(hang, xaitest.APIKey{Mode: xaitest.Hang, ID: "id-h"})
	fake.AddAPIKey(later, xaitest.APIKey{Mode: xaitest.Live, ID: "id-l"})
	if err := r.Preflight(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Failure)
	go func() { done <- r.Revoke(ctx, findingsFor(1, hang, later)) }()
	if !fake.WaitFor(http.MethodGet, "/v1/api-key", hang, 1, 10*time.Second) {
		t.Fatal("the lookup never arrived")
	}
	cancel()
	fails := <-done
	if len(fails) != 2 || CountInterrupted(fails) != 2 {
		t.Fatalf("failures %+v", fails)
	}
	if !strings.Contains(fails[0].Reason, "interrupted before the key was known to be revoked") || fails[1].Reason != "not revoked: interrupted" {
		t.Errorf("reasons %q, %q", fails[0].Reason, fails[1].Reason)
	}
	if fake.Count("", "", later) != 0 || fake.Count(http.MethodDelete, "", mk) != 0 {
		t.Error("requests sent after the interruption")
	}
	if strings.Count(auditBuf.String(), `"action":"revoke","outcome":"failed"`) != 2 {
		t.Errorf("audit %s", auditBuf.String())
	}
}
