package report

import (
	"reflect"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/safetext"
)

// cleaner prepares a Result for one writer through the output-safety
// layer, so that writers only ever format text that is already safe for
// their output: the text writer gets every string redacted and escaped
// (safetext.Policy.Text), the JSON and SARIF writers get every string
// redacted and otherwise exact (safetext.Policy.Exact).
type cleaner struct {
	pol safetext.Policy
	str func(string) string
}

// textCleaner is the cleaner of the text report.
func textCleaner(o Options) cleaner {
	p := safetext.Policy{ShowSecrets: o.ShowSecrets}
	return cleaner{pol: p, str: p.Text}
}

// exactCleaner is the cleaner of the JSON and SARIF reports.
func exactCleaner(o Options) cleaner {
	p := safetext.Policy{ShowSecrets: o.ShowSecrets}
	return cleaner{pol: p, str: p.Exact}
}

// shownResult is a Result whose every string has been cleaned. It is a
// copy: the caller's Result is never modified.
type shownResult struct {
	findings    []shownFinding
	coverage    scanner.Coverage // Skipped cleaned as well
	skipped     []shownSkip      // coverage.Skipped, with raw paths
	interrupted bool
}

// shownFinding is a cleaned finding. Secret holds what the report shows
// (full key only with ShowSecrets), Key is empty, and Fingerprint is
// filled in from the key if the producer left it empty.
type shownFinding struct {
	scanner.Finding
	// rawPath is the path with key-shaped runs redacted and nothing else
	// changed, for encodings that can hold any byte: percent-encoded
	// SARIF URIs and JSON's path_bytes.
	rawPath string
}

// shownSkip is a cleaned coverage entry, with its raw path as in
// shownFinding.
type shownSkip struct {
	scanner.Skipped
	rawPath string
}

func (c cleaner) result(res scanner.Result) shownResult {
	out := shownResult{findings: make([]shownFinding, len(res.Findings)), interrupted: res.Interrupted}
	for i, f := range res.Findings {
		out.findings[i] = c.finding(f)
	}
	out.coverage = cleanStrings(c, res.Coverage)
	if out.coverage.Skipped == nil {
		// Serialised as [] rather than null.
		out.coverage.Skipped = []scanner.Skipped{}
	}
	out.skipped = make([]shownSkip, len(res.Coverage.Skipped))
	for i, s := range res.Coverage.Skipped {
		out.skipped[i] = shownSkip{Skipped: out.coverage.Skipped[i], rawPath: c.pol.Redacted(s.Path)}
	}
	return out
}

func (c cleaner) finding(f scanner.Finding) shownFinding {
	noKey := f
	noKey.Key = ""
	out := cleanStrings(c, noKey)
	out.Secret = c.secret(f)
	if out.Fingerprint == "" && f.Key != "" {
		out.Fingerprint = rules.Fingerprint([]byte(f.Key))
	}
	// The copy is for writing; it does not need the key, so it does not
	// carry it where a careless field could leak it.
	return shownFinding{Finding: out, rawPath: c.pol.Redacted(f.Path)}
}

// secret returns what a finding's "secret" field shows: the full key with
// ShowSecrets (when the finding carries it), the redacted form otherwise.
// A Secret read back from a report is untrusted text like any other.
func (c cleaner) secret(f scanner.Finding) string {
	switch {
	case f.Key != "" && c.pol.ShowSecrets:
		return f.Key
	case f.Key != "":
		return rules.Redact(f.Key)
	default:
		return c.str(f.Secret)
	}
}

// cleanStrings returns a deep copy of v with every string in it — struct
// fields, slices, map keys and values, values behind interfaces — passed
// through the cleaner. It works on the types' shape rather than a list of
// fields, so a field added to Finding or Coverage later (a repository, a
// tag name, refs) is cleaned without anyone remembering to.
func cleanStrings[T any](c cleaner, v T) T {
	return cleanValue(reflect.ValueOf(&v).Elem(), c.str).Interface().(T)
}

// cleanValue returns a copy of v with its strings cleaned by str.
func cleanValue(v reflect.Value, str func(string) string) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		c := str(s)
		if c == s {
			return v // the common case: nothing to clean, nothing to allocate
		}
		out := reflect.New(v.Type()).Elem()
		out.SetString(c)
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if f := out.Field(i); f.CanSet() {
				f.Set(cleanValue(v.Field(i), str))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(cleanValue(v.Index(i), str))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := 0; i < v.Len(); i++ {
			out.Index(i).Set(cleanValue(v.Index(i), str))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(cleanValue(it.Key(), str), cleanValue(it.Value(), str))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() || !holdsText(v.Type().Elem()) {
			return v // *bool and the like: shared, the writers only read them
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(cleanValue(v.Elem(), str))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(cleanValue(v.Elem(), str))
		return out
	default:
		// Numbers and booleans carry no text.
		return v
	}
}

// holdsText reports whether a value of type t can contain a string.
func holdsText(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Struct, reflect.Slice, reflect.Array, reflect.Map, reflect.Interface, reflect.Pointer:
		return true
	}
	return false
}
