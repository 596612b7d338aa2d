package safetext

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/rules"
)

// maxPending bounds how much of an unterminated line Writer holds before
// it forwards a piece of it, so a writer that never ends its line cannot
// grow memory without bound.
const maxPending = 64 << 10

// Writer passes every line written to it through Policy.Text before
// forwarding it, newline kept, to the stream underneath. It is meant for
// stderr: the messages xaiscan writes itself are prepared already, and
// Writer makes sure that nothing another package writes there (a revoke
// hook's output, the audit trail, a failure report) can carry a control
// character or a key either. It cannot tell a newline that ends a message
// from one inside it, so code that writes a message holding untrusted text
// escapes that text first (Policy.Text turns a newline into \n).
//
// Writer is safe for concurrent use; lines written in one call are never
// interleaved with another's.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer forwarding to w. It always redacts keys:
// what it guards is a stream, such as stderr, that ends up in logs.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write forwards the complete lines in p at once and holds an unfinished
// last line until its end arrives (or Flush). It reports the first error of
// the stream underneath.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, p...)
	var out []byte
	var pol Policy
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		out = append(out, pol.Text(string(w.pending[:i]))...)
		out = append(out, '\n')
		w.pending = w.pending[i+1:]
	}
	if len(w.pending) > maxPending {
		cut := safeCut(w.pending, len(w.pending)-rules.MaxKeyLen)
		out = append(out, pol.Text(string(w.pending[:cut]))...)
		w.pending = w.pending[cut:]
	}
	w.pending = append([]byte(nil), w.pending...)
	if len(out) > 0 {
		if _, err := w.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// safeCut moves a cut point back so it splits neither a possible key (it
// backs up to a "xai-" just before) nor a UTF-8 sequence.
func safeCut(b []byte, cut int) int {
	orig := cut
	if j := bytes.LastIndex(b[:cut], []byte(rules.Prefix)); j > 0 && cut-j < rules.MaxKeyLen {
		cut = j
	}
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if cut == 0 { // not text at all: cut where asked
		return orig
	}
	return cut
}

// Flush forwards an unterminated last line, if any, without adding a
// newline.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return nil
	}
	s := Policy{}.Text(string(w.pending))
	w.pending = nil
	_, err := io.WriteString(w.w, s)
	return err
}
