package known

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
)

// IgnoreFileName is the ignore file looked up at the scanned root.
const IgnoreFileName = ".xaiscanignore"

// LoadIgnoreFile reads an ignore file. A missing file is an empty set; any
// other problem is an error "FILE:LINE: problem".
func LoadIgnoreFile(file string) (Set, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Set{}, nil
	}
	if err != nil {
		return Set{}, fmt.Errorf("%s: %w", file, err)
	}
	defer f.Close()
	return ParseIgnore(file, f)
}

// ParseIgnore parses ignore-file syntax from r; name is used in errors.
//
// One entry a line: a key's fingerprint (64 hex digits, as in reports),
// optionally followed by whitespace and a path pattern that limits it (see
// Glob). "#" at the start of a line or after whitespace starts a comment;
// blank lines are ignored.
//
//	# rotated on 2026-01-05, kept in the fixture
//	3f1c...e9a0  testdata/**
//	77ab...01cd          # anywhere
func ParseIgnore(name string, r io.Reader) (Set, error) {
	var s Set
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		if n == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		line := stripComment(raw)
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, n)
		if ms := rules.FindAll([]byte(raw)); len(ms) > 0 {
			// Never echo the key; tell the user what to write instead.
			m := ms[0]
			return Set{}, fmt.Errorf("%s: this line holds a key itself (%s); write its fingerprint %s instead, and remove the key from this file",
				where, rules.Redact(raw[m.Start:m.End]), rules.Fingerprint([]byte(raw[m.Start:m.End])))
		}
		if !isFingerprint(fields[0]) {
			return Set{}, fmt.Errorf("%s: expected a key fingerprint (64 hex digits, the \"fingerprint\" field of a finding), got %d characters", where, len(fields[0]))
		}
		e := Entry{Fingerprint: strings.ToLower(fields[0]), Origin: where}
		switch len(fields) {
		case 1:
		case 2:
			g, err := ParseGlob(fields[1])
			if err != nil {
				return Set{}, fmt.Errorf("%s: %v", where, err)
			}
			e.Scope = &g
		default:
			return Set{}, fmt.Errorf("%s: expected \"<fingerprint> [path pattern]\", found %d fields (a pattern cannot contain spaces; comments start with \" #\")", where, len(fields))
		}
		s.Add(e)
	}
	if err := sc.Err(); err != nil {
		return Set{}, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return s, nil
}

// stripComment removes a "#" comment that starts the line or follows
// whitespace (a "#" inside a path pattern is kept).
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// ignoreFileIn is the ignore file of root.
func ignoreFileIn(root string) string { return filepath.Join(root, IgnoreFileName) }
