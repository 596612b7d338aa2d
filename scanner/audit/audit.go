// Package audit writes the trail of what xaiscan did with leaked keys: one
// JSON line per verification, revocation or revoke-hook run.
//
// The trail is meant to be kept (attached to an incident, uploaded as a CI
// artifact), so it must never carry a full key, not even with
// --show-secrets. Entries hold the key's fingerprint and redacted form only,
// and every string field goes through the output-safety layer (package
// safetext) before it is written: key-shaped text, truncated keys included,
// is redacted, and control characters reach neither the file nor a
// terminal showing it, so a careless caller or an error message that quotes
// a server response cannot leak a key or drive the terminal.
package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/xaiscan/xaiscan/scanner/safetext"
)

// Actions, as they appear in Entry.Action.
const (
	ActionVerify = "verify"
	ActionRevoke = "revoke"
	ActionHook   = "hook"
)

// TimeFormat is RFC 3339 in UTC with millisecond precision, so lines
// written in the same second still sort in order.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Entry is one line of the trail.
type Entry struct {
	// Time is set by Record; callers leave it empty.
	Time        string `json:"time"`
	Fingerprint string `json:"fingerprint"`
	// Secret is the redacted key ("xai-...AbCd"). A full key passed here
	// by mistake is redacted by Record.
	Secret string `json:"secret"`
	Rule   string `json:"rule,omitempty"`
	// Action is one of the Action* constants.
	Action string `json:"action"`
	// Outcome is what happened: live, dead, unknown for a verification;
	// revoked, failed, skipped, dry-run for a revocation or hook.
	Outcome string `json:"outcome"`
	// Detail says why, in a few words.
	Detail string `json:"detail,omitempty"`
}

// Log is an audit trail. It is safe for concurrent use. A nil *Log
// discards every entry, so callers need not check whether auditing is on.
type Log struct {
	mu     sync.Mutex
	w      io.Writer
	closer io.Closer
	now    func() time.Time
	err    error
}

// New returns a Log writing to w (typically os.Stderr). now is the clock
// used for Entry.Time; nil means time.Now.
func New(w io.Writer, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{w: w, now: now}
}

// Open returns a Log appending to the file at path, created with mode 0600
// if it does not exist: the trail names keys by fingerprint, which is not a
// secret, but it does map where keys leaked and who holds them.
func Open(path string, now func() time.Time) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	l := New(f, now)
	l.closer = f
	return l, nil
}

// Record writes e as one JSON line, stamped with the current time. Write
// errors do not stop the caller (an unwritable trail must not stop a
// revocation in progress); the first one is kept and reported by Err and
// Close.
func (l *Log) Record(e Entry) {
	if l == nil {
		return
	}
	e.Time = l.now().UTC().Format(TimeFormat)
	e.Fingerprint = clean(e.Fingerprint)
	e.Secret = clean(e.Secret)
	e.Rule = clean(e.Rule)
	e.Action = clean(e.Action)
	e.Outcome = clean(e.Outcome)
	e.Detail = clean(strings.ReplaceAll(e.Detail, "\n", " "))
	line, err := json.Marshal(e)
	if err != nil { // cannot happen for a struct of strings; keep the error anyway
		l.setErr(fmt.Errorf("audit log: %w", err))
		return
	}
	// JSON escapes C0 controls but not DEL or C1 ones; a trail read with
	// cat or on stderr must not hand those to the terminal either.
	line = append(safetext.EscapeJSON(line), '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.w.Write(line); err != nil && l.err == nil {
		l.err = fmt.Errorf("audit log: %w", err)
	}
}

func (l *Log) setErr(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = err
	}
}

// Err returns the first error met while writing, if any.
func (l *Log) Err() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the file opened by Open (a Log made by New leaves its
// writer open) and returns the first write or close error.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closer != nil {
		if err := l.closer.Close(); err != nil && l.err == nil {
			l.err = fmt.Errorf("audit log: %w", err)
		}
		l.closer = nil
	}
	return l.err
}

// Scrub returns s with every key-shaped run replaced by its redacted form
// ("xai-..." and the last four characters), truncated keys included. It is
// safetext.RedactPartial, the output-safety layer's rule for text that
// never rightly holds a long "xai-" run; it stays here for the callers
// that scrub what they hand to the trail.
func Scrub(s string) string { return safetext.RedactPartial(s) }

// clean prepares one field of an entry: key-shaped runs redacted, bytes
// that are not UTF-8 written as \xNN (rather than turned into U+FFFD by the
// encoder, which would lose them).
func clean(s string) string { return safetext.ToUTF8(Scrub(s)) }
