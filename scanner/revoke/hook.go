package revoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/audit"
)

// DefaultHookTimeout bounds one run of a hook when Hook.Timeout is zero.
const DefaultHookTimeout = time.Minute

// tailLines is how many of a failed hook's last stderr lines are reported.
const tailLines = 10

// Hook runs a user command once per distinct leaked key (--revoke-hook).
//
// The command runs through the shell (/bin/sh -c on Unix, cmd /C on
// Windows) with the key's first finding on standard input as one JSON
// object: the finding's report fields with "secret" holding the full key,
// plus "occurrences", the number of findings of that key. The key is never
// put in the command line or the environment: variables whose value
// contains any of the leaked keys are removed, and XAISCAN_FINGERPRINT,
// XAISCAN_SECRET (redacted) and XAISCAN_RULE are added for hooks that only
// need to name the key. Hooks run one at a time, in order of each key's
// first finding.
type Hook struct {
	// Command is the shell command line.
	Command string
	// Timeout bounds each run; zero means DefaultHookTimeout. A hook still
	// running then is killed (with its process group on Unix) and reported.
	Timeout time.Duration
	// Output receives the hook's stdout and stderr, line by line, with any
	// key-shaped text redacted; nil discards them. It should not be the
	// report's stream: the CLI passes os.Stderr.
	Output io.Writer
	// Dir is the working directory; empty means the current one.
	Dir string
	// Audit receives one entry per key; nil means no trail.
	Audit *audit.Log
}

// hookInput is what a hook reads on stdin: the finding's report fields,
// with Secret replaced by the full key, and the number of occurrences.
type hookInput struct {
	scanner.Finding
	Occurrences int `json:"occurrences"`
}

// Run runs the hook for every distinct key among findings, in order of
// first appearance, one at a time. Keys verified dead are skipped; a key
// whose findings carry no full key is a Failure (the hook could not act on
// a redacted key). It returns one Failure per key the hook did not handle.
func (h *Hook) Run(ctx context.Context, findings []scanner.Finding) []Failure {
	var failures []Failure
	var out io.Writer
	if h.Output != nil {
		out = &lockedWriter{w: h.Output}
	}
	groups := groupByKey(findings)
	var keys []string
	for _, g := range groups {
		if g.key != "" {
			keys = append(keys, g.key)
		}
	}
	for _, g := range groups {
		switch {
		case g.dead:
			h.Audit.Record(g.entry(audit.ActionHook, OutcomeSkipped, "verified dead"))
			continue
		case g.key == "":
			f := g.failure(audit.ActionHook, errNoKey)
			f.ExitStatus = -1
			h.Audit.Record(g.entry(audit.ActionHook, OutcomeFailed, errNoKey))
			failures = append(failures, f)
			continue
		case ctx.Err() != nil:
			f := g.failure(audit.ActionHook, "not run: interrupted")
			f.ExitStatus, f.Interrupted = -1, true
			h.Audit.Record(g.entry(audit.ActionHook, OutcomeFailed, f.Reason))
			failures = append(failures, f)
			continue
		}
		if f := h.runOne(ctx, g, keys, out); f != nil {
			h.Audit.Record(g.entry(audit.ActionHook, OutcomeFailed, f.Reason))
			failures = append(failures, *f)
		} else {
			h.Audit.Record(g.entry(audit.ActionHook, OutcomeHandled, "exit status 0"))
		}
	}
	return failures
}

func (h *Hook) runOne(parent context.Context, g *group, leaked []string, out io.Writer) *Failure {
	in := hookInput{Finding: g.first, Occurrences: g.occurrences}
	in.Secret = g.key
	in.Fingerprint = g.fingerprint
	stdin, err := json.Marshal(in)
	if err != nil {
		f := g.failure(audit.ActionHook, "encoding the finding: "+err.Error())
		f.ExitStatus = -1
		return &f
	}
	stdin = append(stdin, '\n')

	timeout := h.Timeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()

	cmd := shellCommand(ctx, h.Command)
	cmd.Dir = h.Dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = hookEnv(os.Environ(), g, leaked)
	// A hook that leaves a background child holding its pipes must not
	// hang xaiscan: give up on the pipes shortly after the hook ends.
	cmd.WaitDelay = 2 * time.Second
	tail := &tailBuffer{max: 64 << 10}
	var stdoutW, stderrW io.Writer = io.Discard, tail
	var flushers []*scrubWriter
	if out != nil {
		so, se := &scrubWriter{w: out}, &scrubWriter{w: out}
		flushers = append(flushers, so, se)
		stdoutW, stderrW = so, io.MultiWriter(tail, se)
	}
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW

	err = cmd.Run()
	for _, s := range flushers {
		s.Flush()
	}
	if err == nil {
		return nil
	}
	return hookFailure(parent, ctx, g, err, timeout, tail)
}

// hookFailure explains why a run of the hook failed, or returns nil when
// it did not fail after all. parent is the run's context, ctx the one
// bounded by the hook's timeout.
func hookFailure(parent, ctx context.Context, g *group, err error, timeout time.Duration, tail *tailBuffer) *Failure {
	f := g.failure(audit.ActionHook, "")
	f.ExitStatus = -1
	var ee *exec.ExitError
	switch {
	case parent.Err() != nil:
		// Interrupted: the hook's whole process group was killed.
		f.Reason, f.Interrupted = "interrupted: the hook was killed before it finished", true
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		f.Reason = fmt.Sprintf("timed out after %s and was killed", timeout)
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		f.ExitStatus = ee.ExitCode()
		f.Reason = fmt.Sprintf("exit status %d", f.ExitStatus)
	case errors.As(err, &ee):
		f.Reason = audit.Scrub(ee.Error()) // killed by a signal
	case errors.Is(err, exec.ErrWaitDelay):
		// Exited 0 but a child kept the output open; the hook itself
		// succeeded.
		return nil
	default:
		f.Reason = "could not run: " + audit.Scrub(err.Error())
	}
	f.StderrTail = lastLines(audit.Scrub(tail.String()), tailLines)
	return &f
}

// hookEnv is the hook's environment: the parent's, minus any variable
// whose value holds one of the leaked keys (XAI_API_KEY may well be the
// leaked key itself; no hook needs another key than the one on its stdin),
// plus variables naming the key without revealing it.
func hookEnv(parent []string, g *group, leaked []string) []string {
	env := make([]string, 0, len(parent)+3)
next:
	for _, kv := range parent {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "XAISCAN_") {
			continue
		}
		for _, k := range leaked {
			if strings.Contains(kv, k) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return append(env,
		"XAISCAN_FINGERPRINT="+g.fingerprint,
		"XAISCAN_SECRET="+g.secret,
		"XAISCAN_RULE="+g.rule,
	)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// tailBuffer keeps the last max bytes written to it. It is locked because
// after WaitDelay expires exec may abandon the copying goroutine while the
// caller reads the buffer.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Drop a partial first line, and with it any key cut in half by the
	// trimming (which Scrub could not recognise).
	b := t.buf
	if len(b) == t.max {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// lockedWriter serialises writes from the hook's stdout and stderr
// copiers onto one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// scrubWriter forwards whole lines with key-shaped text redacted. A line
// longer than maxLine is forwarded in pieces, holding back enough of its
// end that a key is never split between two pieces.
type scrubWriter struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

const (
	maxLine  = 16 << 10
	holdBack = 128 // longer than any key and its prefix
)

func (s *scrubWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	for {
		i := bytes.IndexByte(s.buf, '\n')
		if i < 0 {
			break
		}
		s.emit(s.buf[:i+1])
		s.buf = s.buf[i+1:]
	}
	if len(s.buf) > maxLine {
		cut := len(s.buf) - holdBack
		// Do not cut inside a run that may be a key: back up to the
		// start of the last "xai-" before the cut, if near.
		if j := bytes.LastIndex(s.buf[:cut], []byte("xai-")); j >= 0 && cut-j < holdBack {
			cut = j
		}
		s.emit(s.buf[:cut])
		s.buf = append([]byte(nil), s.buf[cut:]...)
	}
	// Output problems must not fail the hook: report all of p consumed.
	return len(p), nil
}

func (s *scrubWriter) emit(b []byte) {
	_, _ = io.WriteString(s.w, audit.Scrub(string(b)))
}

// Flush forwards what is left of an unterminated last line.
func (s *scrubWriter) Flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf) > 0 {
		s.emit(s.buf)
		s.buf = nil
	}
}
