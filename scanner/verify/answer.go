package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/xaiscan/xaiscan/scanner/audit"
)

// Server answers are untrusted: they come from xAI, but also from whatever
// sits at the configured endpoint (a proxy, a captive portal, a server
// that is down and answers 200 with an error page). An answer decides
// live or dead only when it has exactly the documented shape; everything
// in it that reaches a report is cleaned first.

// object is a JSON object read from an answer, field by field, so a field
// that is present but of the wrong type can be told from one that is
// missing (encoding/json would silently leave both at the zero value, and
// the zero value of a blocking flag is "not blocked").
type object map[string]json.RawMessage

// readObject returns the answer's body as a JSON object, or why it is not
// one: larger than MaxBody, not declared as JSON, not valid JSON, or valid
// JSON that is not an object.
func readObject(resp Response) (object, string) {
	if resp.Oversized {
		return nil, fmt.Sprintf("the answer is larger than %d KiB", MaxBody>>10)
	}
	if !isJSONType(resp.ContentType) {
		ct := resp.ContentType
		if ct == "" {
			ct = "none"
		}
		return nil, fmt.Sprintf("the answer is not JSON (Content-Type %s)", clean(ct, 40))
	}
	body := bytes.TrimSpace(resp.Body)
	if len(body) == 0 || body[0] != '{' {
		return nil, "the answer is not a JSON object"
	}
	var obj object
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, "the answer is not valid JSON"
	}
	return obj, ""
}

// isJSONType accepts application/json and the structured-syntax suffix
// form (application/problem+json and the like).
func isJSONType(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// problems collects what is wrong with an answer, in the order found.
type problems []string

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// String joins the first few problems; the field names in them are ours,
// never the server's.
func (p problems) String() string {
	const most = 4
	if len(p) > most {
		return strings.Join(p[:most], ", ") + fmt.Sprintf(" and %d more", len(p)-most)
	}
	return strings.Join(p, ", ")
}

// boolField reads a required boolean.
func (o object) boolField(name string, p *problems) bool {
	raw, ok := o[name]
	if !ok {
		p.add("%s is missing", name)
		return false
	}
	var b bool
	if kind(raw) != "a boolean" || json.Unmarshal(raw, &b) != nil {
		p.add("%s is %s, not a boolean", name, kind(raw))
		return false
	}
	return b
}

// stringField reads a string; required says whether it must be present
// and non-empty.
func (o object) stringField(name string, required bool, p *problems) string {
	raw, ok := o[name]
	if !ok {
		if required {
			p.add("%s is missing", name)
		}
		return ""
	}
	var s string
	if kind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		p.add("%s is %s, not a string", name, kind(raw))
		return ""
	}
	if required && s == "" {
		p.add("%s is empty", name)
	}
	return s
}

// stringsField reads an optional list of strings; null counts as absent.
func (o object) stringsField(name string, p *problems) ([]string, bool) {
	raw, ok := o[name]
	if !ok || kind(raw) == "null" {
		return nil, false
	}
	var list []string
	if kind(raw) != "a list" || json.Unmarshal(raw, &list) != nil {
		p.add("%s is not a list of strings", name)
		return nil, false
	}
	return list, true
}

// kind names the JSON type of a raw value, for problem reports.
func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// Limits on what of an answer is echoed into reports and the audit trail.
const (
	maxFieldLen   = 200 // characters of one name, id or message
	maxListLen    = 64  // entries of a list (ACLs)
	maxMessageLen = 160 // characters of a server's error message
)

// clean makes untrusted text safe to store: key-shaped runs redacted,
// control characters (C0, C1, DEL) and invalid UTF-8 written as visible
// escapes (\x1b, \u009b), and at most max characters kept, escapes
// included ("…" marks a cut). The output layer escapes again; this keeps megabytes and terminal
// sequences out of reports and logs in the first place.
func clean(s string, max int) string {
	// max characters take at most 4*max bytes; the margin keeps a key that
	// straddles the cut whole, so Scrub sees (and redacts) all of it.
	if limit := 4*max + 128; len(s) > limit {
		s = s[:limit]
	}
	s = audit.Scrub(s)
	var b strings.Builder
	n := 0 // characters written
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case r < 0x20 || r == 0x7f:
			piece = fmt.Sprintf(`\x%02x`, r)
		case r >= 0x80 && r <= 0x9f:
			piece = fmt.Sprintf(`\u%04x`, r)
		default:
			piece = string(r)
		}
		if n+utf8.RuneCountInString(piece) > max {
			b.WriteString("…")
			break
		}
		b.WriteString(piece)
		n += utf8.RuneCountInString(piece)
		i += size
	}
	return b.String()
}

// cleanList cleans each entry of an untrusted list and keeps at most
// maxListLen of them.
func cleanList(list []string) []string {
	out := make([]string, 0, min(len(list), maxListLen))
	for i, s := range list {
		if i == maxListLen {
			out = append(out, fmt.Sprintf("… and %d more", len(list)-maxListLen))
			break
		}
		out = append(out, clean(s, maxFieldLen))
	}
	return out
}

// serverMessage returns the short error message of a JSON error answer
// ({"error": "..."}, {"error": {"message": "..."}}, {"message": "..."}),
// cleaned, or "" if there is none. It is shown as what the server said,
// never used to decide anything.
func serverMessage(resp Response) string {
	obj, why := readObject(resp)
	if why != "" {
		return ""
	}
	var p problems
	for _, name := range []string{"error", "message", "code"} {
		raw, ok := obj[name]
		if !ok {
			continue
		}
		if kind(raw) == "an object" {
			var inner object
			if json.Unmarshal(raw, &inner) == nil {
				if s := inner.stringField("message", false, &p); s != "" {
					return clean(s, maxMessageLen)
				}
			}
			continue
		}
		if s := obj.stringField(name, false, &p); s != "" {
			return clean(s, maxMessageLen)
		}
	}
	return ""
}

// ValidID reports whether id looks like an id xAI hands out (UUID-like:
// letters, digits, '-', '_', '.', ':'; at most 128 characters; not only
// dots). The revoker puts the id in a DELETE path, so anything that could
// change that path's meaning ("..", "/", "%2f") is refused; the id comes
// from a server answer.
func ValidID(id string) bool {
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
