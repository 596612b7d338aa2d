package scanner

import (
	"context"
	"io"
)

// Decoder sees through one family of encodings or formats. It is the one
// mechanism by which the scanner reads keys that are not written as plain
// bytes (DESIGN §6): every view a decoder yields becomes a child item that
// goes through the same rules and the same decoders again, up to
// Options.MaxDepth levels and the top-level item's budget of decoded bytes.
//
// A decoder reads one of two shapes, and implements the other's methods as
// no-ops (embed NoSpans or NoContainer):
//
//   - Encoded text inside an item's bytes (base64, UTF-16, escapes, a PDF
//     Flate stream): Spans finds runs of it in each window the engine
//     scans, Continue follows a run past the end of a window, and
//     DecodeSpan decodes a whole run. A finding inside a decoded run is
//     located at the run's start in the outermost item (the line where
//     the encoded text starts).
//   - A whole item that is a container or compressed stream (gzip, zip,
//     tar, xz, a git pack): Opens recognises it from its first bytes, and
//     Open hands its members to Members.Scan.
//
// Decoders run on worker goroutines and must be safe for concurrent use.
// Spans is on the hot path: it must cost next to nothing on ordinary text
// (a sampled gate, a fixed-literal search) and must not allocate.
type Decoder interface {
	// Spans calls yield with each run of encoded text that starts in
	// window. A run whose End is len(window) may go on past the window:
	// the engine then asks Continue about the next window.
	Spans(window []byte, yield func(Span))
	// Continue returns where run s, which reached the end of the previous
	// window, ends in this one: it resumes at window[from] (bytes before
	// from were already taken). A result of len(window) means it goes on.
	Continue(window []byte, from int, s Span) int
	// DecodeSpan appends the decoding of run s, whose whole text is text,
	// to dst and returns it. A run that turns out not to hold this
	// encoding decodes to nothing, with no error; an error means the text
	// was this encoding but damaged (what decoded before it is returned).
	DecodeSpan(dst, text []byte, s Span) ([]byte, error)

	// Opens reports, from an item and its first bytes (up to one chunk),
	// whether the item is a container this decoder reads whole.
	Opens(it Item, head []byte) bool
	// Open reads the container from r, positioned at its first byte, and
	// hands every member to m.Scan (a member may itself be encoded or a
	// container). Set a member's Encoding to the format that yielded it
	// ("gzip", "zip", "gzip/tar"); the engine prefixes the chain above it.
	// It returns nil when the container was read through, an error that
	// matches ErrMalformed when its structure is damaged (after every
	// member it could still decode was scanned), or another error when it
	// had to stop for another reason. When m.Scan returns an error, Open
	// must stop and return it.
	Open(ctx context.Context, it Item, r io.Reader, m Members) error
}

// Span is a run of encoded text found by a Decoder's Spans, in the window
// it was found in.
type Span struct {
	Start, End int
	// Encoding names the encoding in a finding's chain ("base64",
	// "utf-16le", "json-escape").
	Encoding string
	// Tag is the decoder's own note about the run (an alphabet, a byte
	// order), handed back to Continue and DecodeSpan.
	Tag int
	// KeepsLines is set when the decoding keeps lines and columns: byte
	// i of the decoded text stands for a fixed-size unit i of the run
	// (UTF-16 decoded to one byte per code unit), so a finding is placed
	// on its own line of the encoded text, not at the run's start.
	KeepsLines bool
}

// NoSpans is embedded by decoders that only read whole containers.
type NoSpans struct{}

// Spans implements Decoder: none.
func (NoSpans) Spans([]byte, func(Span)) {}

// Continue implements Decoder; never called.
func (NoSpans) Continue(_ []byte, from int, _ Span) int { return from }

// DecodeSpan implements Decoder; never called.
func (NoSpans) DecodeSpan(dst, _ []byte, _ Span) ([]byte, error) { return dst, nil }

// NoContainer is embedded by decoders that only read encoded text.
type NoContainer struct{}

// Opens implements Decoder: never.
func (NoContainer) Opens(Item, []byte) bool { return false }

// Open implements Decoder; never called.
func (NoContainer) Open(context.Context, Item, io.Reader, Members) error { return nil }

// Members is what a container decoder hands a container's members to.
type Members interface {
	// Scan scans one member, and decodes it if it is encoded or a
	// container, before it returns. A non-nil error means the decoder
	// must stop: the decoded-bytes budget is spent or the scan was
	// cancelled.
	Scan(member Item) error
	// Skip records a coverage entry about the container or a member: a
	// member left out by a cap, an encrypted member, a renamed member path.
	Skip(s Skipped)
}

// JoinEncoding appends one decoding to a chain, outermost first:
// JoinEncoding("base64", "gzip") is "base64/gzip".
func JoinEncoding(chain, next string) string {
	switch {
	case chain == "":
		return next
	case next == "":
		return chain
	}
	return chain + "/" + next
}
