package revoke

import (
	"bytes"
	"context"
	"encoding/json"
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
	res := r.v.CheckManagementKey(ctx, r.mgmtKey)
	reason, _ := res.Detail["reason"].(string)
	entry := audit.Entry{
		Fingerprint: rules.Fingerprint([]byte(r.mgmtKey)), Secret: rules.Redact(r.mgmtKey),
		Rule: rules.ManagementKey, Action: audit.ActionVerify, Outcome: res.Status,
		Detail: "management key for --revoke",
	}
	if reason != "" {
		entry.Detail += ": " + reason
	}
	r.cfg.Audit.Record(entry)
	status := statusOf(res)
	if res.Status == verify.Dead || status == http.StatusForbidden {
		return fmt.Errorf("the management key in %s was rejected by %s (HTTP %d): check that it is current and has permission to delete API keys",
			EnvMgmtKey, r.cfg.MgmtBase, status)
	}
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
			failures = append(failures, r.notRevoked(g))
			continue
		}
		if f := r.revokeOne(ctx, g); f != nil {
			if ctx.Err() != nil {
				// Whatever failed, the cause is the interruption.
				f.Reason, f.Interrupted = "interrupted before the key was known to be revoked", true
			}
			r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeFailed, f.Reason))
			failures = append(failures, *f)
		}
	}
	return failures
}

// notRevoked is the failure of a key left alone because the run was
// interrupted before its turn.
func (r *Revoker) notRevoked(g *group) Failure {
	f := g.failure(audit.ActionRevoke, "not revoked: interrupted")
	f.Interrupted = true
	r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeFailed, f.Reason))
	return f
}

// revokeOne looks one key up and deletes it, and returns why it could
// not, or nil when it was revoked or needed no revoking.
func (r *Revoker) revokeOne(ctx context.Context, g *group) *Failure {
	res := r.v.Lookup(ctx, g.key)
	reason, _ := res.Detail["reason"].(string)
	switch {
	case res.Status == verify.Dead:
		r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeSkipped, "dead: "+reason))
		fmt.Fprintf(r.out(), "xaiscan: %s is already dead (%s); nothing to revoke\n", g.secret, reason)
		return nil
	case res.Status != verify.Live:
		return revokeFailure(g, "could not look up the key's id: "+reason, statusOf(res))
	case !verify.ValidID(res.APIKeyID):
		// The verifier only says live with a usable id; stay safe if that
		// ever changes, since the id goes into a DELETE path.
		return revokeFailure(g, fmt.Sprintf("the API returned no usable api_key_id (%q)", audit.Scrub(res.APIKeyID)), 0)
	}
	target := r.cfg.MgmtBase + DeletePath + url.PathEscape(res.APIKeyID)
	name, _ := res.Detail["name"].(string)
	label := fmt.Sprintf("%s (api_key_id %s, name %q)", g.secret, res.APIKeyID, name)
	if r.dryRun {
		r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeDryRun, "would DELETE "+target))
		fmt.Fprintf(r.out(), "xaiscan: would revoke %s: DELETE %s\n", label, target)
		return nil
	}
	if f := r.delete(ctx, g, target, res.APIKeyID); f != nil {
		return f
	}
	r.cfg.Audit.Record(g.entry(audit.ActionRevoke, OutcomeRevoked, "api_key_id "+res.APIKeyID))
	fmt.Fprintf(r.out(), "xaiscan: revoked %s\n", label)
	return nil
}

// delete sends the DELETE and returns why the key is not known to be
// revoked, or nil when the answer says it was.
func (r *Revoker) delete(ctx context.Context, g *group, target, id string) *Failure {
	resp, err := r.v.Send(ctx, http.MethodDelete, target, r.mgmtKey)
	switch {
	case err != nil:
		return revokeFailure(g, "DELETE failed: "+err.Error(), 0)
	case resp.Status == http.StatusOK || resp.Status == http.StatusNoContent:
		if why := deleteAnswerProblem(resp); why != "" {
			return revokeFailure(g, fmt.Sprintf("DELETE answered HTTP %d %s: not known to be revoked", resp.Status, why), resp.Status)
		}
		return nil
	case resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden:
		return revokeFailure(g, fmt.Sprintf("the management key may not delete this key (HTTP %d): is it from the key's team, with write permission?", resp.Status), resp.Status)
	case resp.Status == http.StatusNotFound:
		// The key answered as live a moment ago, so "not found" means
		// another team's key or a race; either way it is not known to be
		// revoked.
		return revokeFailure(g, "the Management API does not know api_key_id "+id+" (HTTP 404): is the management key from the key's team?", resp.Status)
	default:
		return revokeFailure(g, fmt.Sprintf("DELETE answered HTTP %d after %d attempts", resp.Status, resp.Attempts), resp.Status)
	}
}

func revokeFailure(g *group, reason string, status int) *Failure {
	f := g.failure(audit.ActionRevoke, reason)
	f.HTTPStatus = status
	return &f
}

// deleteAnswerProblem says what is wrong with a 200 or 204 answer to the
// DELETE, or "" if it reads as a deletion. xAI documents no body for it,
// so an empty body or a JSON object is accepted; a body that is neither
// (an HTML page from a proxy, a truncated or oversized answer) or an
// object carrying an error does not prove that anything was deleted.
func deleteAnswerProblem(resp verify.Response) string {
	if resp.Oversized {
		return fmt.Sprintf("with a body larger than %d KiB", verify.MaxBody>>10)
	}
	body := bytes.TrimSpace(resp.Body)
	if len(body) == 0 {
		return ""
	}
	if resp.ContentType != "application/json" && !strings.HasSuffix(resp.ContentType, "+json") {
		return "with a body that is not JSON"
	}
	var obj map[string]json.RawMessage
	if body[0] != '{' || json.Unmarshal(body, &obj) != nil {
		return "with a body that is not a JSON object"
	}
	if e, ok := obj["error"]; ok && string(bytes.TrimSpace(e)) != "null" {
		return "with an error in the body"
	}
	return ""
}

func statusOf(res verify.Result) int {
	n, _ := res.Detail["http_status"].(int)
	return n
}
