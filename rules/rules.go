package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math"
)

// Rule identifiers, as they appear in every report format.
const (
	// APIKey is the rule id of an xAI inference API key: "xai-" + 80 alphanumerics.
	APIKey = "xai-api-key"
	// ManagementKey is the rule id of an xAI Management API key:
	// "xai-token-" + 80 alphanumerics.
	ManagementKey = "xai-management-key"
)

// Shape constants shared by the matcher and by the decoders that look for
// encoded keys.
const (
	// Prefix is the literal every xAI credential starts with; it is what the
	// hot loop searches for.
	Prefix = "xai-"
	// ManagementPrefix is the full prefix of a management key.
	ManagementPrefix = "xai-token-"
	// BodyLen is the number of alphanumeric characters after the prefix.
	BodyLen = 80
	// MaxKeyLen is the length of the longest credential (a management key).
	MaxKeyLen = len(ManagementPrefix) + BodyLen
	// MinEntropy is the Shannon entropy, in bits per character, below which a
	// body is treated as a placeholder. Real bodies are random over 62
	// symbols and score about 5.5–5.9; 4.0 is the threshold peers use.
	MinEntropy = 4.0
)

// Rule describes one built-in rule, for report writers (SARIF rule metadata).
type Rule struct {
	ID          string
	Name        string
	Description string
	Prefix      string
}

// All lists the built-in rules in the order they are checked: the
// management key first, because its prefix extends the API key's.
var All = []Rule{
	{ID: ManagementKey, Name: "xAI Management API key", Prefix: ManagementPrefix,
		Description: "An xAI Management API key (xai-token- followed by 80 letters and digits). It can create and delete API keys for a whole team."},
	{ID: APIKey, Name: "xAI API key", Prefix: Prefix,
		Description: "An xAI API key (xai- followed by 80 letters and digits). It grants access to the xAI inference API and is billed to its team."},
}

// Match is one credential found in a buffer.
type Match struct {
	Rule    string  // APIKey or ManagementKey
	Start   int     // offset of the first byte of the key (the 'x' of "xai-")
	End     int     // offset just past the last byte of the key
	Entropy float64 // Shannon entropy of the body, bits per character
}

// Find calls fn for every credential in buf, in order of position. It does
// not allocate. Offsets are relative to buf; the byte before buf[0] and the
// byte after the end of buf are treated as boundaries, so callers that scan a
// window of a larger input must discard matches that touch the window's edges
// (the scanner's chunk ownership does exactly that).
func Find(buf []byte, fn func(Match)) { scan(buf, MatchAt, fn) }

// scan is the search both readings share: the SIMD search for the literal
// prefix, then match validates the rare candidate positions.
func scan(buf []byte, match func([]byte, int) (Match, bool), fn func(Match)) {
	prefix := []byte(Prefix)
	i := 0
	for {
		j := bytes.Index(buf[i:], prefix)
		if j < 0 {
			return
		}
		start := i + j
		i = start + len(Prefix)
		if m, ok := match(buf, start); ok {
			fn(m)
			i = m.End
		}
	}
}

// FindBinary is Find for binary content (executables, object files,
// databases). Compilers and linkers lay string constants end to end with no
// separator — a Go binary holds "…spansxai-<80 chars>reflect.Value…" — so
// the boundary rules that keep "taxai-…" in prose from matching would hide
// every key compiled into such a binary. Here a key is "xai-" (or
// "xai-token-") followed by at least 80 letters and digits, of which the
// first 80 are the body; entropy and placeholder checks still apply.
func FindBinary(buf []byte, fn func(Match)) { scan(buf, matchBody, fn) }

// FindAll returns every credential in buf. It is a convenience for tests and
// cold paths; the scanner uses Find.
func FindAll(buf []byte) []Match {
	var out []Match
	Find(buf, func(m Match) { out = append(out, m) })
	return out
}

// MatchAt reports whether a credential starts at buf[start], which must be
// the 'x' of "xai-". It checks both boundaries, the body's length and
// alphabet, and rejects placeholders.
func MatchAt(buf []byte, start int) (Match, bool) {
	if start > 0 && isWordByte(buf[start-1]) && !afterEscape(buf, start) {
		return Match{}, false
	}
	m, ok := matchBody(buf, start)
	if !ok || (m.End < len(buf) && isWordByte(buf[m.End])) {
		return Match{}, false
	}
	return m, true
}

// matchBody validates the prefix and the 80-character body at start,
// whatever stands around them: the shared core of MatchAt and of the
// boundary-free reading of binaries (FindBinary).
func matchBody(buf []byte, start int) (Match, bool) {
	rule, bodyStart := APIKey, start+len(Prefix)
	if bytes.HasPrefix(buf[bodyStart:], []byte("token-")) {
		rule, bodyStart = ManagementKey, start+len(ManagementPrefix)
	}
	end := bodyStart + BodyLen
	if end > len(buf) {
		return Match{}, false
	}
	body := buf[bodyStart:end]
	for _, c := range body {
		if !isAlnum(c) {
			return Match{}, false
		}
	}
	h := Entropy(body)
	if h < MinEntropy || IsPlaceholder(body) {
		return Match{}, false
	}
	return Match{Rule: rule, Start: start, End: end, Entropy: h}, true
}

// Entropy returns the Shannon entropy of b in bits per byte.
func Entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	n := float64(len(b))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// placeholderWords are words that mark a body as an example rather than a
// key. They are at least six letters long and matched case-insensitively:
// the chance that a random 80-character body contains one is below 1e-8,
// so real keys are never rejected by them.
var placeholderWords = []string{
	"example", "placeholder", "yourapikey", "yourkey", "apikeyhere", "keyhere",
	"replaceme", "replacewith", "insertyour", "changeme", "redacted", "dummykey",
	"fakekey", "notarealkey", "samplekey", "testkey",
}

// IsPlaceholder reports whether an 80-character body, despite passing the
// entropy threshold, is visibly made up: a long run of one character, a long
// ascending or descending sequence (abcdefgh, 12345678), a short pattern
// repeated to fill the length, or an example word.
func IsPlaceholder(body []byte) bool {
	const maxRun = 7 // eight equal or sequential characters in a row never happen by chance (p ≈ 1e-11)
	same, up, down := 0, 0, 0
	for i := 1; i < len(body); i++ {
		d := int(body[i]) - int(body[i-1])
		same = step(same, d == 0)
		up = step(up, d == 1)
		down = step(down, d == -1)
		if same >= maxRun || up >= maxRun || down >= maxRun {
			return true
		}
	}
	// A body made of one short pattern repeated (period up to half the
	// length) is typed, not generated.
	for p := 1; p <= len(body)/2; p++ {
		if bytes.Equal(body[p:], body[:len(body)-p]) {
			return true
		}
	}
	for _, w := range placeholderWords {
		if containsFold(body, w) {
			return true
		}
	}
	return false
}

func step(run int, cont bool) int {
	if cont {
		return run + 1
	}
	return 0
}

// containsFold reports whether b contains the ASCII word w, ignoring case.
func containsFold(b []byte, w string) bool {
	n := len(w)
outer:
	for i := 0; i+n <= len(b); i++ {
		for k := 0; k < n; k++ {
			if lower(b[i+k]) != lower(w[k]) {
				continue outer
			}
		}
		return true
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// afterEscape reports whether the bytes just before start end an escape
// sequence rather than a word, so the key still begins at start: a C or
// JSON escape (`"line\nxai-…"` in a log or notebook), a \uXXXX or \xXX
// escape (`\u0022xai-…`), a URL percent-encoding (`key%3Dxai-…` in an
// encoded redirect URL) or its quoted-printable twin in a saved e-mail
// (`KEY=3Dxai-…`), or a terminal control sequence in a log (a colour, a
// cursor move, an erased line: see afterControlSequence). Without this,
// keys in such text would be taken for the tail of a longer word.
func afterEscape(buf []byte, start int) bool {
	if start >= 2 && buf[start-2] == '\\' {
		switch buf[start-1] {
		case 'n', 'r', 't', 'f', 'v', 'b', '0':
			return true
		}
	}
	if start >= 3 && (buf[start-3] == '%' || buf[start-3] == '=') && isHex(buf[start-2]) && isHex(buf[start-1]) {
		return true
	}
	if start >= 4 && buf[start-4] == '\\' && buf[start-3] == 'x' && isHex(buf[start-2]) && isHex(buf[start-1]) {
		return true
	}
	if afterControlSequence(buf, start-1) {
		return true
	}
	if start >= 6 && buf[start-6] == '\\' && buf[start-5] == 'u' &&
		isHex(buf[start-4]) && isHex(buf[start-3]) && isHex(buf[start-2]) && isHex(buf[start-1]) {
		return true
	}
	return false
}

// maxSequenceParams bounds how far back afterControlSequence looks for a
// sequence's introducer: real parameter strings (`38;2;255;128;0`, `?2004`)
// are far shorter.
const maxSequenceParams = 32

// afterControlSequence reports whether buf[f], a letter, digit or '_',
// is the final byte of a terminal control sequence, which a terminal
// consumes: a CSI sequence (ESC [, parameter and intermediate bytes, a
// final byte 0x40–0x7E: colours `ESC[1;31m`, cursor moves `ESC[1;1H`,
// erase line `ESC[2K`, `ESC[?25l`), or a short escape (ESC, intermediate
// bytes, a final byte: `ESC 7`, `ESC M`, `ESC ( B`). The ESC may be the
// byte itself or written as text, as logs, scripts and notebooks (JSON)
// carry it: see escEndsAt. Sequences ended by BEL or ST (OSC: titles,
// hyperlinks) end in a byte that is no word byte, so a key after them
// needs no help. Only a candidate "xai-" preceded by a word byte gets
// here, so the hot loop never pays for it.
func afterControlSequence(buf []byte, f int) bool {
	i := skipBack(buf, f-1, f, 0x20, 0x2F) // intermediate bytes
	if escEndsAt(buf, i) {
		return true
	}
	i = skipBack(buf, i, f, 0x30, 0x3F) // parameter bytes
	return i >= 1 && buf[i] == '[' && buf[f] >= 0x40 && escEndsAt(buf, i-1)
}

// skipBack moves i back over bytes in [lo, hi], at most maxSequenceParams
// bytes before f.
func skipBack(buf []byte, i, f int, lo, hi byte) int {
	for i >= 0 && f-i <= maxSequenceParams && lo <= buf[i] && buf[i] <= hi {
		i--
	}
	return i
}

// escEndsAt reports whether buf[i] ends an ESC: the byte 0x1b, or its
// spellings as text: `\x1b`, `\u001b`, `\u{1b}`, `\033`, `\e` and caret
// notation `^[` (less, cat -v).
func escEndsAt(buf []byte, i int) bool {
	if i < 0 {
		return false
	}
	switch c := buf[i]; {
	case c == 0x1b:
		return true
	case c == 'e' || c == 'E':
		return i >= 1 && buf[i-1] == '\\'
	case c == '[':
		return i >= 1 && buf[i-1] == '^'
	case c == '3':
		return endsWithFold(buf, i, `\033`)
	case c == '}':
		return endsWithFold(buf, i, `\u{1b}`)
	case c == 'b' || c == 'B':
		return endsWithFold(buf, i, `\x1b`) || endsWithFold(buf, i, `\u001b`)
	}
	return false
}

// endsWithFold reports whether buf[:i+1] ends with the ASCII string s,
// ignoring case.
func endsWithFold(buf []byte, i int, s string) bool {
	k := i + 1 - len(s)
	if k < 0 {
		return false
	}
	for j := 0; j < len(s); j++ {
		if lower(buf[k+j]) != s[j] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// isWordByte reports whether c may not stand next to a key: letters, digits
// and '_' would make the key part of a longer token.
func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }

// Fingerprint is the stable identity of a key: the lowercase hex SHA-256 of
// the full key. It is what baselines, ignore files and SARIF
// partialFingerprints use, so it must never change.
func Fingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])
}

// Redact returns the form the xAI console shows for a key: "xai-..." and
// its last four characters. It is the only form of a key that reports, logs
// and errors may carry unless the user asked for full secrets.
func Redact(key string) string {
	if len(key) < len(Prefix)+4 {
		return Prefix + "..."
	}
	return Prefix + "..." + key[len(key)-4:]
}
