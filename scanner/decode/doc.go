// Package decode holds the scanner's Detectors for keys that are not
// written as plain bytes: base64 (standard and URL-safe alphabets, padded or
// not, possibly line-wrapped) and UTF-16 (little and big endian).
//
// Both follow the plain detector's recipe — find a fixed literal, then
// validate around it — so key-free input costs little: an encoded key
// always starts with one of a few fixed byte strings (the encodings of
// "xai-"), and only the bytes around such a literal are ever decoded. Each
// detector first runs a sampled gate that touches a small fraction of the
// window and rules out, for almost all ordinary text, that the window can
// hold an encoded key at all:
//
//   - base64: an encoded key is a run of at least 112 base64 characters, so
//     it fully covers one of the 16-byte samples taken every 96 bytes, and
//     reaches 48 bytes past it on one side (a second sample there); a
//     sample holding a space, a quote, a parenthesis or one of ! # $ % & *
//     (tested 8 bytes at a time) cannot be inside such a run.
//   - UTF-16: an encoded key spans 168 or more bytes, every other one NUL,
//     so a 2-byte sample every 128 bytes must meet a NUL. Encoded, the
//     detector Detectors returns, takes this gate from the base64 samples
//     instead (a UTF-16 key also covers a whole one), so text is sampled
//     once for both.
//
// Hits report the location of the encoded text (Hit.Start and Hit.End span
// the encoded characters or code units of the key itself, never the whole
// base64 blob, so the position is the same whichever chunk sees it), the
// decoded key in Hit.Key, and the encoding in Hit.Encoding.
package decode

import "github.com/xaiscan/xaiscan/scanner"

// Encodings as they appear in Hit.Encoding and the report's
// "encoding" field.
const (
	EncodingBase64  = "base64"
	EncodingUTF16LE = "utf-16le"
	EncodingUTF16BE = "utf-16be"
)

// Detectors returns the decoding detectors, to be run next to
// scanner.Plain: base64 and UTF-16, as one Detector (Encoded) that
// computes both gates from the same pass over the window.
func Detectors() []Detector {
	return []Detector{Encoded{}}
}

// Decoders returns the span decoders (being rewritten: issue 11).
func Decoders() []scanner.Decoder { return EscapeDecoders() }

// Hit is a key found by a legacy detector.
type Hit struct {
	Rule       string
	Start, End int
	Key        []byte
	Entropy    float64
	Encoding   string
	Allowed    bool
}

// Detector is the legacy detector interface.
type Detector interface {
	Detect(window []byte, fn func(Hit))
}

// Encoded finds keys in base64 and in UTF-16: Base64 and UTF16 in one
// Detector. Its base64 gate's samples also serve as the UTF-16 gate (a
// UTF-16 key fully covers a base64 sample, and then puts NULs in it), so
// ordinary text is sampled once for both.
//
// The zero value is ready to use and safe for concurrent use.
type Encoded struct{}

// Detect implements scanner.Detector.
func (Encoded) Detect(w []byte, fn func(Hit)) {
	var sawNUL bool
	scanB64(w, fn, &sawNUL)
	if sawNUL && len(w) >= minUTF16Key {
		scanUTF16(w, fn)
	}
}
