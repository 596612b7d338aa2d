package rules

import "bytes"

// AllowMarkers are the inline comments that suppress a finding on their
// line: ours, and those of the peers a team may be migrating from, so their
// existing annotations keep working.
var AllowMarkers = []string{
	"xaiscan:allow",
	"gitleaks:allow",
	"betterleaks:allow",
	"trufflehog:ignore",
	"kingfisher:ignore",
	"pragma: allowlist secret",
}

// Allowed reports whether the line of buf holding buf[start:end] carries an
// allow marker. Only the part of the line inside buf is examined, so a caller
// scanning a window of a larger input should give the window enough context
// before the match (the scanner's chunk overlap does).
func Allowed(buf []byte, start, end int) bool {
	lineStart := bytes.LastIndexByte(buf[:start], '\n') + 1
	lineEnd := len(buf)
	if i := bytes.IndexByte(buf[end:], '\n'); i >= 0 {
		lineEnd = end + i
	}
	line := buf[lineStart:lineEnd]
	// Cheap rejection first: every marker contains ':'.
	if bytes.IndexByte(line, ':') < 0 {
		return false
	}
	for _, m := range AllowMarkers {
		if bytes.Contains(line, []byte(m)) {
			return true
		}
	}
	return false
}
