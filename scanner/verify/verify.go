package verify

import (
	"context"
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
			return unknown(ReasonInterrupted, 0)
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

// ReasonInterrupted is the reason given for a key whose check was cut
// short by cancellation (Ctrl-C): it got no answer, so it is unknown.
const ReasonInterrupted = "interrupted before an answer"

// checkAPIKey classifies an inference key as DESIGN §5 says: a
// well-formed 200 with no blocking flag → live; a well-formed 200 with a
// flag, 400 or 401 → dead; anything else, a malformed 200 included →
// unknown.
func (v *Verifier) checkAPIKey(ctx context.Context, key string) Result {
	resp, err := v.Send(ctx, http.MethodGet, v.cfg.APIBase+APIKeyPath, key)
	if err != nil {
		return unknownFromErr(err)
	}
	switch resp.Status {
	case http.StatusOK:
		return classifyAPIKey(resp, key)
	case http.StatusBadRequest, http.StatusUnauthorized:
		return rejected("key rejected", resp)
	default:
		return unknownFromStatus(resp)
	}
}

// classifyAPIKey reads a 200 answer of GET /v1/api-key. xAI documents it
// as a JSON object whose fields are all required; the ones that decide or
// identify are checked: the three blocking flags must be present and
// boolean, api_key_id and redacted_api_key present and strings (the id
// usable in a DELETE path), name, team_id and acls well-typed when
// present, and the redacted key must be this key's. Only then does the
// answer say live or dead: `{}` would otherwise read as "no flag set".
func classifyAPIKey(resp Response, key string) Result {
	obj, why := readObject(resp)
	if why != "" {
		return unknown("unexpected answer to GET "+APIKeyPath+": "+why, resp.Status)
	}
	var p problems
	flags := []struct {
		name, text string
		set        bool
	}{
		{name: "api_key_disabled", text: "key disabled"},
		{name: "api_key_blocked", text: "key blocked"},
		{name: "team_blocked", text: "team blocked"},
	}
	for i := range flags {
		flags[i].set = obj.boolField(flags[i].name, &p)
	}
	id := obj.stringField("api_key_id", true, &p)
	if id != "" && !ValidID(id) {
		p.add("api_key_id is not an id")
	}
	redacted := obj.stringField("redacted_api_key", true, &p)
	name := obj.stringField("name", false, &p)
	team := obj.stringField("team_id", false, &p)
	acls, hasACLs := obj.stringsField("acls", &p)
	if len(p) > 0 {
		return unknown("malformed answer to GET "+APIKeyPath+": "+p.String(), resp.Status)
	}
	if !sameKey(redacted, key) {
		return unknown(fmt.Sprintf("the answer to GET %s is about another key (%s)", APIKeyPath, clean(redacted, 16)), resp.Status)
	}

	d := map[string]any{}
	put(d, "name", name)
	put(d, "team_id", team)
	put(d, "api_key_id", id)
	if hasACLs {
		d["acls"] = cleanList(acls)
	}
	res := Result{Status: Live, Detail: d, APIKeyID: id}
	var reasons []string
	for _, f := range flags {
		if f.set {
			d[f.name] = true
			reasons = append(reasons, f.text)
		}
	}
	if len(reasons) > 0 {
		res.Status = Dead
		d["reason"] = strings.Join(reasons, ", ")
	}
	return res
}

// sameKey reports whether an answer's redacted_api_key can be this key's:
// in the documented form ("xai-..." and the last four characters) it must
// end like key; another form cannot be compared and is accepted. A
// caching proxy that mixes up answers must not make the revoker delete
// another key's id.
func sameKey(redacted, key string) bool {
	const form = "xai-..."
	if !strings.HasPrefix(redacted, form) || len(redacted) != len(form)+4 {
		return true
	}
	return strings.HasSuffix(key, redacted[len(form):])
}

// checkManagement validates a management key: a well-formed 200 → live,
// 400 or 401 → dead, anything else → unknown. 403 in particular stays
// unknown: calling a live key dead would keep it from the hook, the worse
// mistake.
func (v *Verifier) checkManagement(ctx context.Context, key string) Result {
	resp, err := v.Send(ctx, http.MethodGet, v.cfg.MgmtBase+MgmtValidationPath, key)
	var r Result
	switch {
	case err != nil:
		r = unknownFromErr(err)
	case resp.Status == http.StatusOK:
		r = classifyManagement(resp)
	case resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnauthorized:
		r = rejected("management key rejected", resp)
	default:
		r = unknownFromStatus(resp)
	}
	r.Management = true
	return r
}

// CheckManagementKey validates key with GET
// {mgmt}/auth/management-keys/validation and classifies the answer as
// --verify does, without caching it or writing an audit entry. The
// revoker checks its own management key with it.
func (v *Verifier) CheckManagementKey(ctx context.Context, key string) Result {
	return v.checkManagement(ctx, key)
}

// classifyManagement reads a 200 answer of the validation endpoint. xAI's
// published example answer is
//
//	{"apiKeyId": "...", "teamId": "...", "scope": "SCOPE_TEAM", "scopeId": "...", "name": "..."}
//
// so live needs a JSON object naming the key (apiKeyId, a non-empty
// string) and its owner (teamId or scopeId, a non-empty string), with
// scope and name strings when present. ACLs, which the example does not
// show, are reported when present under a usual spelling and ignored
// otherwise.
func classifyManagement(resp Response) Result {
	obj, why := readObject(resp)
	if why != "" {
		return unknown("unexpected answer to GET "+MgmtValidationPath+": "+why, resp.Status)
	}
	var p problems
	id := obj.stringField("apiKeyId", true, &p)
	team := obj.stringField("teamId", false, &p)
	scope := obj.stringField("scope", false, &p)
	scopeID := obj.stringField("scopeId", false, &p)
	name := obj.stringField("name", false, &p)
	if len(p) == 0 && team == "" && scopeID == "" {
		p.add("neither teamId nor scopeId is set")
	}
	if len(p) > 0 {
		return unknown("malformed answer to GET "+MgmtValidationPath+": "+p.String(), resp.Status)
	}
	if team == "" && scope == "SCOPE_TEAM" {
		team = scopeID
	}
	d := map[string]any{}
	put(d, "name", name)
	put(d, "team_id", team)
	put(d, "scope", scope)
	put(d, "api_key_id", id)
	var ignored problems // undocumented: a mistyped list decides nothing
	for _, k := range []string{"acls", "aclStrings", "acl_strings", "scopes", "permissions"} {
		if list, ok := obj.stringsField(k, &ignored); ok {
			d["acls"] = cleanList(list)
			break
		}
	}
	return Result{Status: Live, Detail: d}
}

// put sets d[k] to v, cleaned, unless v is empty: answers are echoed into
// reports, and neither a key nor a terminal sequence may ride along.
func put(d map[string]any, k, v string) {
	if v != "" {
		d[k] = clean(v, maxFieldLen)
	}
}

func unknown(reason string, status int) Result {
	d := map[string]any{"reason": reason}
	if status != 0 {
		d["http_status"] = status
	}
	return Result{Status: Unknown, Detail: d}
}

// rejected is the dead verdict of a 400 or 401.
func rejected(what string, resp Response) Result {
	d := map[string]any{
		"reason":      fmt.Sprintf("%s (HTTP %d)", what, resp.Status),
		"http_status": resp.Status,
	}
	putMessage(d, resp)
	return Result{Status: Dead, Detail: d}
}

// putMessage adds what the server said about an error, cleaned and short,
// as server_message: shown to the user, never used to decide.
func putMessage(d map[string]any, resp Response) {
	if m := serverMessage(resp); m != "" {
		d["server_message"] = m
	}
}

// unknownFromErr explains a transport failure. The error comes from Send,
// which never includes the key; scrub anyway.
func unknownFromErr(err error) Result {
	switch {
	case errors.Is(err, ErrTimeout):
		return unknown(audit.Scrub(err.Error()), 0)
	case errors.Is(err, context.Canceled):
		return unknown(ReasonInterrupted, 0)
	default:
		return unknown("request failed: "+clean(err.Error(), maxMessageLen), 0)
	}
}

// unknownFromStatus explains an answer that decides nothing.
func unknownFromStatus(resp Response) Result {
	var r Result
	switch {
	case resp.Status == http.StatusTooManyRequests && resp.RetryAfter > 0:
		r = unknown(fmt.Sprintf("rate limited (HTTP 429): asked to retry after %s", resp.RetryAfter), resp.Status)
	case resp.Status == http.StatusTooManyRequests:
		r = unknown(fmt.Sprintf("rate limited (HTTP 429) after %d attempts", resp.Attempts), resp.Status)
	case resp.Status >= 500:
		r = unknown(fmt.Sprintf("server error (HTTP %d) after %d attempts", resp.Status, resp.Attempts), resp.Status)
	default:
		r = unknown(fmt.Sprintf("unexpected answer (HTTP %d)", resp.Status), resp.Status)
	}
	putMessage(r.Detail, resp)
	return r
}
