// Package decode holds the scanner's span decoders for keys that are not
// written as plain bytes: base64 (Base64Text: standard and URL-safe
// alphabets, padded or not, wrapped by real or JSON-escaped line breaks)
// and UTF-16 (UTF16Text: little and big endian, with or without a byte
// order mark, at any offset). Both implement scanner.Decoder: Spans finds
// runs of encoded text in a window, Continue follows a run into the next
// window, and DecodeSpan decodes a run; the engine scans every decoded
// run again with the rules and all decoders, so stacked encodings (base64
// of gzip, base64 of UTF-16LE, base64 inside base64, UTF-16 text holding
// base64) are read through.
//
// Spans is on the hot path, so each decoder first runs a sampled gate
// that touches a small fraction of the window and rules out, for almost
// all ordinary text, that the window holds a run long enough to hold a
// key in any encoding:
//
//   - base64: such a run has at least 112 characters (minB64Run), so it
//     fully covers one of the 16-byte samples taken every 96 bytes, and
//     reaches 48 bytes past it on one side (a second sample there); a
//     sample holding a space, a quote, a parenthesis or one of ! # $ % & *
//     (tested 8 bytes at a time) cannot be inside such a run.
//   - UTF-16: such a run spans 168 or more bytes, every other one NUL, so
//     a 2-byte sample every 128 bytes must meet a NUL.
package decode

import "github.com/xaiscan/xaiscan/scanner"

// Encodings as they appear in a finding's encoding chain and the report's
// "encoding" field.
const (
	EncodingBase64  = "base64"
	EncodingUTF16LE = "utf-16le"
	EncodingUTF16BE = "utf-16be"
)

// Decoders returns the span decoders of this package, for
// scanner.Options. Each is stateless and safe for concurrent use.
func Decoders() []scanner.Decoder {
	return append([]scanner.Decoder{
		Base64Text{},
		UTF16Text{},
	}, EscapeDecoders()...)
}
