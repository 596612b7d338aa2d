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

// MaxIgnoreFileSize is the largest ignore file read: a line is 65 bytes,
// so this is a quarter of a million keys.
const MaxIgnoreFileSize = 16 << 20

// maxIgnoreLine is the longest line of an ignore file: a fingerprint and
// a path pattern.
const maxIgnoreLine = 64 << 10

// LoadIgnoreFile reads an ignore file. A missing file is an empty set; any
// other problem is an error "FILE:LINE: problem".
func LoadIgnoreFile(file string) (Set, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return Set{}, nil
	}
	if err != nil {
		return Set{}, redact(fmt.Errorf("%s: %w", file, err))
	}
	defer f.Close()
	return ParseIgnore(file, f)
}

// ParseIgnore parses ignore-file syntax from r; name is used in errors.
//
// One entry a line: a key's fingerprint (64 hex digits, as in reports),
// optionally followed by whitespace and a path pattern that limits it (see
// Glob). "#" at the start of a line or after whitespace starts a comment;
// blank lines are ignored. At most MaxIgnoreFileSize bytes are read.
//
//	# rotated on 2026-01-05, kept in the fixture
//	3f1c...e9a0  testdata/**
//	77ab...01cd          # anywhere
func ParseIgnore(name string, r io.Reader) (Set, error) {
	s, err := parseIgnore(name, r)
	return s, redact(err)
}

func parseIgnore(name string, r io.Reader) (Set, error) {
	var s Set
	lr := &limitedReader{r: r, left: MaxIgnoreFileSize}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 4096), maxIgnoreLine)
	n := 0
	for sc.Scan() {
		n++
		if err := s.addIgnoreLine(sc.Bytes(), n == 1); err != nil {
			if lr.over { // the line was cut at the limit
				break
			}
			return Set{}, fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	switch err := sc.Err(); {
	case lr.over:
		return Set{}, fmt.Errorf("%s: larger than %d MiB, the limit for an ignore file", name, MaxIgnoreFileSize>>20)
	case errors.Is(err, bufio.ErrTooLong):
		return Set{}, fmt.Errorf("%s:%d: line longer than %d KiB", name, n+1, maxIgnoreLine>>10)
	case err != nil:
		return Set{}, fmt.Errorf("%s:%d: %w", name, n+1, err)
	}
	return s, nil
}

// addIgnoreLine adds the entry of one line, if it has one.
func (s *Set) addIgnoreLine(raw []byte, first bool) error {
	line := string(raw)
	if first {
		line = strings.TrimPrefix(line, "\ufeff")
	}
	fields := strings.Fields(stripComment(line))
	if len(fields) == 0 {
		return nil
	}
	if ms := rules.FindAll(raw); len(ms) > 0 {
		// Never echo the key; tell the user what to write instead.
		k := raw[ms[0].Start:ms[0].End]
		return fmt.Errorf("this line holds a key itself (%s); write its fingerprint %s instead, and remove the key from this file",
			rules.Redact(string(k)), rules.Fingerprint(k))
	}
	fp, ok := parseFingerprint(fields[0])
	if !ok {
		return fmt.Errorf("expected a key fingerprint (64 hex digits, the \"fingerprint\" field of a finding), got %d characters", len(fields[0]))
	}
	switch len(fields) {
	case 1:
		s.add(fp, nil)
	case 2:
		g, err := ParseGlob(fields[1])
		if err != nil {
			return err
		}
		s.add(fp, &g)
	default:
		return fmt.Errorf("expected \"<fingerprint> [path pattern]\", found %d fields (a pattern cannot contain spaces; comments start with \" #\")", len(fields))
	}
	return nil
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
