package revoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
	"github.com/xaiscan/xaiscan/scanner/verify"
)

// EnvMgmtKey is the environment variable holding the management key the
// revoker deletes keys with.
const EnvMgmtKey = "XAI_MANAGEMENT_API_KEY"

// ErrNoManagementKey is returned by NewRevoker without a management key.
var ErrNoManagementKey = errors.New("--revoke needs a management key in " + EnvMgmtKey +
	" (xAI Console → Settings → Management Keys)")

// DeletePath is the Management API path of an API key, by id.
const DeletePath = "/auth/api-keys/"

// Revoker deletes leaked inference keys through the xAI Management API
// (--revoke). For each distinct key it looks up the key's api_key_id with
// GET {api}/v1/api-key, made with the leaked key itself (so the id always
// belongs to the key in hand, never to what a report file claims), then
// calls DELETE {mgmt}/auth/api-keys/{id} with the management key.
type Revoker struct {
	// Out receives one line per key: what was revoked, or with dry-run
	// what would be. nil means os.Stderr.
	Out io.Writer

	v       *verify.Verifier
	cfg     verify.Config
	mgmtKey string
	dryRun  bool

	preflightOnce sync.Once
	preflightErr  error
}

// NewRevoker returns a Revoker using cfg's endpoints and HTTP behaviour and
// mgmtKey (from XAI_MANAGEMENT_API_KEY) for the deletions. It refuses an
// empty management key, or endpoints CheckEndpoint refuses. With dryRun it
// looks keys up but deletes nothing.
func NewRevoker(cfg verify.Config, mgmtKey string, dryRun bool) (*Revoker, error) {
	mgmtKey = strings.TrimSpace(mgmtKey)
	if mgmtKey == "" {
		return nil, ErrNoManagementKey
	}
	v, err := verify.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("--revoke: %w", err)
	}
	return &Revoker{v: v, cfg: v.Config(), mgmtKey: mgmtKey, dryRun: dryRun}, nil
}

// UseVerifier makes the revoker take key lookups from v, so a key that
// --verify already checked in this run is not sent again. v should have
// been made from the same Config.
func (r *Revoker) UseVerifier(v *verify.Verifier) {
	if v != nil {
		r.v = v
	}
}

func (r *Revoker) out() io.Writer {
	if r.Out != nil {
		return r.Out
	}
	return os.Stderr
}

// Preflight checks the management key with GET
// {mgmt}/auth/management-keys/validation, once; Revoke calls it first. The
// CLI may call it before scanning, to fail fast. It returns an error only
// when the key is rejected (400, 401 or 403: for the key that will perform
// the deletions, "forbidden" is as final as "unauthorized"); when the
// endpoint cannot answer, the deletions themselves will tell.
func (r *Revoker) Preflight(ctx context.Context) error {
	r.preflightOnce.Do(func() { r.preflightErr = r.preflight(ctx) })
	return r.preflightErr
}

func (r *Revoker) preflight(ctx context.Context) error {
	entry := audit.Entry{
		Fingerprint: rules.Fingerprint([]byte(r.mgmtKey)), Secret: rules.Redact(r.mgmtKey),
		Rule: rules.ManagementKey, Action: audit.ActionVerify,
	}
	resp, err := r.v.Send(ctx, http.MethodGet, r.cfg.MgmtBase+verify.MgmtValidationPath, r.mgmtKey)
	switch {
	case err != nil:
		entry.Outcome, entry.Detail = verify.Unknown, "management key for --revoke: "+err.Error()
	case resp.Status == http.StatusOK:
		entry.Outcome, entry.Detail = verify.Live, "management key for --revoke"
	case resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		entry.Outcome, entry.Detail = verify.Dead, fmt.Sprintf("management key for --revoke rejected (HTTP %d)", resp.Status)
		r.cfg.Audit.Record(entry)
		return fmt.Errorf("the management key in %s was rejected by %s (HTTP %d): check that it is current and has permission to delete API keys",
			EnvMgmtKey, r.cfg.MgmtBase, resp.Status)
	default:
		entry.Outcome, entry.Detail = verify.Unknown, fmt.Sprintf("management key for --revoke: HTTP %d", resp.Status)
	}
	r.cfg.Audit.Record(entry)
	return nil
}

// Revoke deletes every distinct live key among findings, one at a time,
// and returns a Failure for each key it could not revoke. Keys verified
// dead (by --verify, or by the lookup itself: a key xAI rejects or reports
// disabled or blocked) are left alone, as DESIGN §5 says. Management keys
// cannot be deleted through the API and are reported as failures, so a
// person revokes them in the console.
func (r *Revoker) Revoke(ctx context.Context, findings []scanner.Finding) []Failure {
	groups := groupByKey(findings)
	var failures []Failure
	fail := func(g *group, reason string, status int) {
		f := g.failure(audit.ActionRevoke, reason)
		f.HTTPStatus = status
		r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeFailed, f.Reason))
		failures = append(failures, f)
	}

	var preErr error
	for _, g := range groups {
		if !g.dead && g.key != "" && g.rule == rules.APIKey {
			preErr = r.Preflight(ctx)
			break
		}
	}

	for _, g := range groups {
		switch {
		case g.dead:
			r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeSkipped, "verified dead"))
			continue
		case g.key == "":
			fail(g, errNoKey, 0)
			continue
		case g.rule == rules.ManagementKey:
			fail(g, "a management key cannot be revoked through the API: delete it in the xAI Console (Settings → Management Keys)", 0)
			continue
		case preErr != nil:
			fail(g, preErr.Error(), 0)
			continue
		case ctx.Err() != nil:
			fail(g, "not revoked: "+ctx.Err().Error(), 0)
			continue
		}

		res := r.v.Lookup(ctx, g.key)
		reason, _ := res.Detail["reason"].(string)
		switch {
		case res.Status == verify.Dead:
			r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeSkipped, "dead: "+reason))
			fmt.Fprintf(r.out(), "xaiscan: %s is already dead (%s); nothing to revoke\n", g.secret, reason)
			continue
		case res.Status != verify.Live:
			fail(g, "could not look up the key's id: "+reason, statusOf(res))
			continue
		case !validID(res.APIKeyID):
			fail(g, fmt.Sprintf("the API returned no usable api_key_id (%q)", audit.Scrub(res.APIKeyID)), 0)
			continue
		}

		target := r.cfg.MgmtBase + DeletePath + url.PathEscape(res.APIKeyID)
		name, _ := res.Detail["name"].(string)
		label := fmt.Sprintf("%s (api_key_id %s, name %q)", g.secret, res.APIKeyID, name)
		if r.dryRun {
			r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeDryRun, "would DELETE "+target))
			fmt.Fprintf(r.out(), "xaiscan: would revoke %s: DELETE %s\n", label, target)
			continue
		}
		resp, err := r.v.Send(ctx, http.MethodDelete, target, r.mgmtKey)
		switch {
		case err != nil:
			fail(g, "DELETE failed: "+err.Error(), 0)
		case resp.Status == http.StatusOK || resp.Status == http.StatusNoContent:
			r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeRevoked, "api_key_id "+res.APIKeyID))
			fmt.Fprintf(r.out(), "xaiscan: revoked %s\n", label)
		case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
			fail(g, fmt.Sprintf("the management key may not delete this key (HTTP %d): is it from the key's team, with write permission?", resp.Status), resp.Status)
		case resp.Status == http.StatusNotFound:
			// The key answered as live a moment ago, so "not found" means
			// another team's key or a race; either way it is not known
			// to be revoked.
			fail(g, "the Management API does not know api_key_id "+res.APIKeyID+" (HTTP 404): is the management key from the key's team?", resp.Status)
		default:
			fail(g, fmt.Sprintf("DELETE answered HTTP %d after %d attempts", resp.Status, resp.Attempts), resp.Status)
		}
	}
	return failures
}

func statusOf(res verify.Result) int {
	n, _ := res.Detail["http_status"].(int)
	return n
}

// validID accepts the ids xAI hands out (UUID-like) and refuses anything
// that could change the meaning of the DELETE path, such as "." or "..",
// even escaped: the id comes from a server response.
func validID(id string) bool {
	if id == "" || len(id) > 128 || strings.Trim(id, ".") == "" {
		return false
	}
	for _, c := range id {
		ok := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}
