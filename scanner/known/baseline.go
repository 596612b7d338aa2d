package known

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxBaselineSize is the largest baseline report read: a finding takes
// about 400 bytes of JSON, so this is over half a million findings.
const MaxBaselineSize = 256 << 20

// baselineLimit is MaxBaselineSize; tests lower it.
var baselineLimit int64 = MaxBaselineSize

// LoadBaseline reads an earlier JSON report written by xaiscan
// (--format json) and returns its keys. A key in the baseline is known at
// every path: the baseline records keys a team has already dealt with, and
// the same key showing up in another file is not a new leak. Only the
// findings' fingerprints are read, so baselines from any version of the
// report with that field work. The report is decoded as a stream, one
// finding at a time, so memory follows the number of keys, not the size
// of the file.
func LoadBaseline(file string) (Set, error) {
	f, err := os.Open(file)
	if err != nil {
		return Set{}, redact(fmt.Errorf("baseline: %w", err))
	}
	defer f.Close()
	lr := &limitedReader{r: bufio.NewReaderSize(f, 64<<10), left: baselineLimit}
	dec := json.NewDecoder(lr)
	s, err := decodeBaseline(dec)
	switch {
	case lr.over:
		err = fmt.Errorf("baseline %s: larger than %s, the limit for a baseline report", file, sizeString(baselineLimit))
	case errors.As(err, new(findingError)):
		err = fmt.Errorf("baseline %s: %w", file, err)
	case err != nil:
		err = fmt.Errorf("baseline %s: not an xaiscan JSON report (%s)", file, jsonProblem(file, dec.InputOffset(), err))
	}
	if err != nil {
		return Set{}, redact(err)
	}
	return s, nil
}

// findingError is a finding without a valid fingerprint.
type findingError struct{ n int }

func (e findingError) Error() string {
	return fmt.Sprintf("finding %d has no valid fingerprint (want 64 hex digits)", e.n)
}

// decodeBaseline reads {"findings": [{"fingerprint": ...}, ...], ...}:
// other members, and other fields of a finding, are passed over.
func decodeBaseline(dec *json.Decoder) (Set, error) {
	var s Set
	if err := expectDelim(dec, '{'); err != nil {
		return s, err
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return s, err
		}
		// encoding/json's rules, as baselines were read before: the name
		// matches in any case, and the last of several wins.
		if name, _ := tok.(string); !strings.EqualFold(name, "findings") {
			if err := skipValue(dec); err != nil {
				return s, err
			}
			continue
		}
		s = Set{}
		if err := decodeFindings(dec, &s); err != nil {
			return s, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return s, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return s, errors.New("data after the report")
	}
	return s, nil
}

// decodeFindings reads the findings array (null is none).
func decodeFindings(dec *json.Decoder, s *Set) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("findings is not an array")
	}
	for n := 1; dec.More(); n++ {
		var f struct {
			Fingerprint *string `json:"fingerprint"`
		}
		start := dec.InputOffset()
		if err := dec.Decode(&f); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				// Its offset counts from the start of the finding.
				return offsetError{start + te.Offset, err}
			}
			return err
		}
		fp, ok := fingerprint{}, false
		if f.Fingerprint != nil {
			fp, ok = parseFingerprint(*f.Fingerprint)
		}
		if !ok {
			return findingError{n}
		}
		s.add(fp, nil)
	}
	return expectDelim(dec, ']')
}

// offsetError is a decoding error and the offset in the file where it
// happened.
type offsetError struct {
	off int64
	err error
}

func (e offsetError) Error() string { return e.err.Error() }

// expectDelim reads one delimiter token.
func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("expected %q, found %s", want, tokenKind(tok))
	}
	return nil
}

// tokenKind names a token without echoing its content (it could be a key).
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", tok)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// skipValue passes over one value, token by token, so a large member
// (coverage, say) is never held whole.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// jsonProblem describes a JSON error with its line number, counted by
// reading file again up to the offset (errors are rare; keeping every
// line start would cost memory on every run). The decoder's offset is
// where it stopped: the start of a value it could not read.
func jsonProblem(file string, off int64, err error) string {
	var oe offsetError
	if errors.As(err, &oe) {
		off, err = oe.off, oe.err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	f, ferr := os.Open(file)
	if ferr != nil || off < 0 {
		return err.Error()
	}
	defer f.Close()
	line, rd := 1, bufio.NewReader(io.LimitReader(f, off))
	for {
		b, rerr := rd.ReadByte()
		if rerr != nil {
			break
		}
		if b == '\n' {
			line++
		}
	}
	return fmt.Sprintf("line %d: %v", line, err)
}

// limitedReader reads at most left bytes and records whether r had more.
type limitedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			l.over = true
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

var errTooLarge = errors.New("file too large")

// sizeString writes a limit in MiB or KiB.
func sizeString(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
