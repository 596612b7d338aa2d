// Package names turns the names a source meets — file and directory names,
// archive member names, git tree entry names, ref names — into items the
// engine scans for keys, so a key in a name is a finding with part "name"
// (DESIGN §4), like a key in content.
//
// A name goes through the engine as a small in-memory item rather than
// being matched here, so allow markers, the ignore file, the baseline and
// the redaction of every writer treat it exactly as content. Only names
// that hold the literal prefix "xai-" are sent: every key starts with it,
// and the test is one bytes.Index on a string the source already holds, so
// a walk of a million ordinary names sends nothing more to the engine.
package names

import (
	"strings"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// Part is the Finding.Part of a key found in a name.
const Part = "name"

// Holds reports whether name may hold a key: it contains the prefix every
// key starts with.
func Holds(name string) bool { return strings.Contains(name, rules.Prefix) }

// Item returns the item that scans one name element of path: the element
// path[start:] (a file or directory's own name; what precedes it is its
// parent's, scanned where the parent was met). ok is false when the
// element cannot hold a key, and nothing need be sent.
//
// The item's bytes are path with the parent part blanked, so a finding's
// Line is 1 and its Column is the key's byte offset in path plus one: the
// report points at the key inside the path it shows. A newline in a name
// (possible on Unix and in git) is blanked too, for the same reason; it
// ends a key either way. Template is copied into the finding (git
// attribution), with Part set to "name".
func Item(path string, start int, source, object string, template scanner.Finding) (it scanner.Item, ok bool) {
	if start < 0 || start > len(path) || !Holds(path[start:]) {
		return scanner.Item{}, false
	}
	data := make([]byte, len(path))
	for i := range data {
		c := path[i]
		if i < start || c == '\n' || c == '\r' {
			c = ' '
		}
		data[i] = c
	}
	template.Part = Part
	return scanner.Item{
		Path:     path,
		Source:   source,
		Object:   object,
		Size:     int64(len(data)),
		Data:     data,
		Template: template,
		// A name is neither a file nor a blob: the coverage counts stay
		// what the user compares with their own counts.
		Counts: scanner.CountNone,
	}, true
}

// Base is the offset in path of its last slash-separated element.
func Base(path string) int { return strings.LastIndexByte(path, '/') + 1 }
