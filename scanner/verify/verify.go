package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
)

// Verification states, as they appear in Finding.Verification.
const (
	Live    = "live"
	Dead    = "dead"
	Unknown = "unknown"
)

// Paths of the endpoints, appended to the configured bases.
const (
	APIKeyPath         = "/v1/api-key"
	MgmtValidationPath = "/auth/management-keys/validation"
)

// Result is what one check of a key found.
type Result struct {
	// Status is Live, Dead or Unknown.
	Status string
	// Detail is what a report shows next to the status. For a key the
	// endpoint answered for: name, acls, team_id, api_key_id (the blast
	// radius); for a dead key also reason and the blocking flags that were
	// set; for an unknown one reason and, when there was an answer,
	// http_status. It never holds the key.
	Detail map[string]any
	// APIKeyID is the key's id from GET /v1/api-key, needed to delete it.
	APIKeyID string
	// Management is true for a management key.
	Management bool
}

// Verifier checks keys against xAI. It is safe for concurrent use, and
// remembers every result for its lifetime: a key is never sent twice.
type Verifier struct {
	cfg Config
	sem chan struct{}

	mu    sync.Mutex
	cache map[string]*call // by fingerprint
}

// call is one check in flight or done; done is closed when res is set.
type call struct {
	done chan struct{}
	res  Result
}

// New returns a Verifier for cfg, after checking both endpoints with
// CheckEndpoint.
func New(cfg Config) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if err := CheckEndpoint(cfg.APIBase); err != nil {
		return nil, fmt.Errorf("xAI API base URL (%s): %w", EnvAPIBase, err)
	}
	if err := CheckEndpoint(cfg.MgmtBase); err != nil {
		return nil, fmt.Errorf("xAI Management API base URL (%s): %w", EnvMgmtBase, err)
	}
	return &Verifier{
		cfg:   cfg,
		sem:   make(chan struct{}, cfg.Concurrency),
		cache: map[string]*call{},
	}, nil
}

// Config returns the configuration in use, defaults applied.
func (v *Verifier) Config() Config { return v.cfg }

// Verify checks every distinct key among findings (distinct by
// fingerprint; one request per key however many findings carry it), at
// most Config.Concurrency at a time, and sets Verification and
// VerificationDetail on every finding. Findings whose full key is not known
// (Key empty, as in a report written without --show-secrets) are marked
// unknown with the reason. The only error is the context's, when it was
// cancelled; the findings not checked by then are unknown.
func (v *Verifier) Verify(ctx context.Context, findings []scanner.Finding) error {
	type group struct {
		key     string
		rule    string
		secret  string
		fp      string
		indexes []int
	}
	var order []string
	groups := map[string]*group{}
	for i := range findings {
		f := &findings[i]
		fp := f.Fingerprint
		if f.Key != "" {
			// The key, not a possibly stale or edited report field, is
			// the key's identity.
			fp = rules.Fingerprint([]byte(f.Key))
			if f.Fingerprint == "" {
				f.Fingerprint = fp
			}
		}
		g, ok := groups[fp]
		if !ok {
			g = &group{fp: fp, rule: f.Rule, secret: f.Secret}
			groups[fp] = g
			order = append(order, fp)
		}
		if g.key == "" && f.Key != "" {
			g.key, g.rule, g.secret = f.Key, f.Rule, rules.Redact(f.Key)
		}
		g.indexes = append(g.indexes, i)
	}

	results := make([]Result, len(order))
	var wg sync.WaitGroup
	for n, fp := range order {
		g := groups[fp]
		if g.key == "" {
			results[n] = Result{Status: Unknown, Detail: map[string]any{"reason": errNoKey.Error()}}
			v.cfg.Audit.Record(audit.Entry{
				Fingerprint: g.fp, Secret: redactedOr(g.secret), Rule: g.rule,
				Action: audit.ActionVerify, Outcome: Unknown, Detail: errNoKey.Error(),
			})
			continue
		}
		// One goroutine per key; Send's semaphore bounds the requests.
		wg.Go(func() { results[n] = v.Lookup(ctx, g.key) })
	}
	wg.Wait()

	for n, fp := range order {
		for _, i := range groups[fp].indexes {
			findings[i].Verification = results[n].Status
			findings[i].VerificationDetail = maps.Clone(results[n].Detail)
		}
	}
	return ctx.Err()
}

// redactedOr returns s if it is a redacted key, else the bare prefix: a
// report's secret field may hold anything.
func redactedOr(s string) string {
	if strings.HasPrefix(s, rules.Prefix+"...") && len(s) <= len(rules.Prefix)+7 {
		return s
	}
	return audit.Scrub(s)
}

// Lookup checks one key, or returns the result of the check already done
// (or in flight) for it. The revoker uses it to find a key's api_key_id
// without a second request when --verify already checked the key.
func (v *Verifier) Lookup(ctx context.Context, key string) Result {
	fp := rules.Fingerprint([]byte(key))
	v.mu.Lock()
	c, ok := v.cache[fp]
	if !ok {
		c = &call{done: make(chan struct{})}
		v.cache[fp] = c
	}
	v.mu.Unlock()
	if ok {
		select {
		case <-c.done:
			return c.res
		case <-ctx.Done():
			return Result{Status: Unknown, Detail: map[string]any{"reason": "cancelled"}}
		}
	}

	mgmt := strings.HasPrefix(key, rules.ManagementPrefix)
	if mgmt {
		c.res = v.checkManagement(ctx, key)
	} else {
		c.res = v.checkAPIKey(ctx, key)
	}
	close(c.done)

	rule := rules.APIKey
	if mgmt {
		rule = rules.ManagementKey
	}
	reason, _ := c.res.Detail["reason"].(string)
	v.cfg.Audit.Record(audit.Entry{
		Fingerprint: fp, Secret: rules.Redact(key), Rule: rule,
		Action: audit.ActionVerify, Outcome: c.res.Status, Detail: reason,
	})
	return c.res
}

// apiKeyInfo is the answer of GET /v1/api-key. Only what classifies the
// key or tells its blast radius is kept; user ids are left out of reports.
type apiKeyInfo struct {
	RedactedAPIKey string   `json:"redacted_api_key"`
	Name           string   `json:"name"`
	TeamID         string   `json:"team_id"`
	ACLs           []string `json:"acls"`
	APIKeyID       string   `json:"api_key_id"`
	TeamBlocked    bool     `json:"team_blocked"`
	APIKeyBlocked  bool     `json:"api_key_blocked"`
	APIKeyDisabled bool     `json:"api_key_disabled"`
}

// checkAPIKey classifies an inference key exactly as DESIGN §5 says: 200
// with no blocking flag → live; 200 with any flag, 400 or 401 → dead;
// anything else → unknown.
func (v *Verifier) checkAPIKey(ctx context.Context, key string) Result {
	resp, err := v.Send(ctx, http.MethodGet, v.cfg.APIBase+APIKeyPath, key)
	if err != nil {
		return unknownFromErr(err)
	}
	switch resp.Status {
	case http.StatusOK:
		var info apiKeyInfo
		body := strings.TrimSpace(string(resp.Body))
		if !strings.HasPrefix(body, "{") || json.Unmarshal(resp.Body, &info) != nil {
			// The flags decide live or dead; without them we cannot.
			return unknown("unexpected response: not the JSON of /v1/api-key", resp.Status)
		}
		d := map[string]any{}
		put(d, "name", info.Name)
		put(d, "team_id", info.TeamID)
		put(d, "api_key_id", info.APIKeyID)
		if info.ACLs != nil {
			acls := make([]string, len(info.ACLs))
			for i, a := range info.ACLs {
				acls[i] = audit.Scrub(a)
			}
			d["acls"] = acls
		}
		res := Result{Status: Live, Detail: d, APIKeyID: info.APIKeyID}
		var why []string
		for _, flag := range []struct {
			set  bool
			name string
			text string
		}{
			{info.APIKeyDisabled, "api_key_disabled", "key disabled"},
			{info.APIKeyBlocked, "api_key_blocked", "key blocked"},
			{info.TeamBlocked, "team_blocked", "team blocked"},
		} {
			if flag.set {
				d[flag.name] = true
				why = append(why, flag.text)
			}
		}
		if len(why) > 0 {
			res.Status = Dead
			d["reason"] = strings.Join(why, ", ")
		}
		return res
	case http.StatusBadRequest, http.StatusUnauthorized:
		return Result{Status: Dead, Detail: map[string]any{
			"reason":      fmt.Sprintf("key rejected (HTTP %d)", resp.Status),
			"http_status": resp.Status,
		}}
	default:
		return unknownFromStatus(resp)
	}
}

// checkManagement validates a management key. The docs give no response
// schema for the validation endpoint, so the classification mirrors the
// inference key's: 200 → live (with name and ACLs if the body has them),
// 400 or 401 → dead, anything else → unknown. 403 in particular stays
// unknown: calling a live key dead would keep it from the hook, the worse
// mistake.
func (v *Verifier) checkManagement(ctx context.Context, key string) Result {
	resp, err := v.Send(ctx, http.MethodGet, v.cfg.MgmtBase+MgmtValidationPath, key)
	if err != nil {
		r := unknownFromErr(err)
		r.Management = true
		return r
	}
	var r Result
	switch resp.Status {
	case http.StatusOK:
		r = Result{Status: Live, Detail: managementDetail(resp.Body)}
	case http.StatusBadRequest, http.StatusUnauthorized:
		r = Result{Status: Dead, Detail: map[string]any{
			"reason":      fmt.Sprintf("management key rejected (HTTP %d)", resp.Status),
			"http_status": resp.Status,
		}}
	default:
		r = unknownFromStatus(resp)
	}
	r.Management = true
	return r
}

// managementDetail picks the blast-radius fields out of a validation
// answer whose schema is not documented: a name, the ACLs or scopes under
// any of their usual spellings, the team. Everything else (which might
// include identifiers of people) is left out.
func managementDetail(body []byte) map[string]any {
	d := map[string]any{}
	var raw map[string]any
	if json.Unmarshal(body, &raw) != nil {
		return d
	}
	if s, ok := raw["name"].(string); ok {
		put(d, "name", s)
	}
	for _, k := range []string{"teamId", "team_id"} {
		if s, ok := raw[k].(string); ok && d["team_id"] == nil {
			put(d, "team_id", s)
		}
	}
	for _, k := range []string{"acls", "aclStrings", "acl_strings", "scopes", "permissions"} {
		list, ok := raw[k].([]any)
		if !ok || d["acls"] != nil {
			continue
		}
		acls := []string{}
		for _, a := range list {
			if s, ok := a.(string); ok {
				acls = append(acls, audit.Scrub(s))
			}
		}
		d["acls"] = acls
	}
	return d
}

// put sets d[k] to v, scrubbed, unless v is empty: answers are echoed
// into reports, and no key may ride along.
func put(d map[string]any, k, v string) {
	if v != "" {
		d[k] = audit.Scrub(v)
	}
}

func unknown(reason string, status int) Result {
	d := map[string]any{"reason": reason}
	if status != 0 {
		d["http_status"] = status
	}
	return Result{Status: Unknown, Detail: d}
}

// unknownFromErr explains a transport failure. The error comes from Send,
// which never includes the key; scrub anyway.
func unknownFromErr(err error) Result {
	switch {
	case errors.Is(err, ErrTimeout):
		return unknown(audit.Scrub(err.Error()), 0)
	case errors.Is(err, context.Canceled):
		return unknown("cancelled", 0)
	default:
		return unknown("request failed: "+audit.Scrub(err.Error()), 0)
	}
}

// unknownFromStatus explains an answer that decides nothing.
func unknownFromStatus(resp Response) Result {
	switch {
	case resp.Status == http.StatusTooManyRequests && resp.RetryAfter > 0:
		return unknown(fmt.Sprintf("rate limited (HTTP 429): asked to retry after %s", resp.RetryAfter), resp.Status)
	case resp.Status == http.StatusTooManyRequests:
		return unknown(fmt.Sprintf("rate limited (HTTP 429) after %d attempts", resp.Attempts), resp.Status)
	case resp.Status >= 500:
		return unknown(fmt.Sprintf("server error (HTTP %d) after %d attempts", resp.Status, resp.Attempts), resp.Status)
	default:
		return unknown(fmt.Sprintf("unexpected answer (HTTP %d)", resp.Status), resp.Status)
	}
}
