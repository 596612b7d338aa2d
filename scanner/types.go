// Package scanner turns sources of content into sorted findings.
//
// A Source (a directory walker, the git object store, the staged index,
// standard input) produces Items one at a time on a single goroutine; the
// Engine owns all concurrency: a bounded pool of workers opens each item,
// reads it in bounded overlapping chunks, runs the rules, and collects
// findings. Sources stay simple and single-threaded; writers only ever see a
// finished, deterministic Result.
package scanner

import (
	"context"
	"encoding/json"
	"io"
	"sort"
)

// Source kinds, as they appear in Finding.Source.
const (
	SourceFile   = "file"
	SourceGit    = "git"
	SourceStaged = "staged"
	SourceStdin  = "stdin"
)

// Finding is one occurrence of a key. The JSON tags are the report contract
// (DESIGN §4); Key holds the full secret in memory and is never serialised
// by this type — writers decide between Secret (redacted) and Key.
type Finding struct {
	Rule        string  `json:"rule"`
	Source      string  `json:"source"`
	Path        string  `json:"path"`
	Line        int     `json:"line"`
	Column      int     `json:"column"`
	Secret      string  `json:"secret"`
	Fingerprint string  `json:"fingerprint"`
	Entropy     float64 `json:"entropy"`
	// Encoding names the decoding that revealed the key ("base64",
	// "utf-16le", ...); empty for a key found as plain bytes.
	Encoding string `json:"encoding,omitempty"`

	// Repository names the repository in a multi-repository scan (the
	// URL without credentials, or the path as given); empty otherwise.
	Repository string `json:"repository,omitempty"`

	// Git attribution: present only for git and staged findings.
	Commit string `json:"commit,omitempty"`
	Author string `json:"author,omitempty"`
	Email  string `json:"email,omitempty"`
	Date   string `json:"date,omitempty"`
	// Reachable is false for a key found only in objects no ref reaches.
	Reachable *bool `json:"reachable,omitempty"`
	// AtHead is whether the key is still present at HEAD on this path
	// (history scans only).
	AtHead *bool `json:"at_head,omitempty"`
	// Tag names the annotated tag whose message or tagger holds the key
	// (then Object is the tag's id).
	Tag string `json:"tag,omitempty"`
	// Part says which part of a git object holds the key when it is not
	// a file's content: "message" (a commit or tag message), "author" (a
	// commit's author or committer, a tag's tagger), "header" (another
	// header line of a commit or tag).
	Part string `json:"part,omitempty"`
	// Refs lists every ref from which the introducing commit (or the
	// object) is reachable: where the key is exposed. Reflog entries are
	// listed as NAME@{n}; an object only they hold is not Reachable.
	// Whole-history scans only.
	Refs []string `json:"refs,omitempty"`
	// Attribution is set when the introducing commit rests on damaged
	// data: "uncertain: " and why.
	Attribution string `json:"attribution,omitempty"`

	// Verification is "live", "dead" or "unknown"; present only with --verify.
	Verification string `json:"verification,omitempty"`
	// VerificationDetail carries what the verifier learned (key name, ACLs)
	// or why it could not decide.
	VerificationDetail map[string]any `json:"verification_detail,omitempty"`

	// Key is the full secret. It is never written unless the user asked
	// for --show-secrets.
	Key string `json:"-"`
	// Object is the id of the item the key was found in: for git findings
	// the blob, or the commit or tag whose message or header holds it (set
	// by the git source; always set for unreachable objects). Sources also
	// use it to attribute findings after the scan.
	Object string `json:"object,omitempty"`
	// Offset is the byte offset of the key in its item.
	Offset int64 `json:"-"`
}

// Kinds of coverage entry (DESIGN §3). Only KindError affects the exit
// code; the account, not each source, decides the verdict.
const (
	// KindError: something the scan was asked to read could not be read
	// (an unreadable file, a damaged object store, a decompression budget
	// reached, an interrupted scan). It makes the scan partial: exit 2.
	KindError = "error"
	// KindNote: a container whose structure is malformed but whose raw
	// bytes and every decodable part were scanned; no tool could read
	// more. Listed, no effect on the exit code.
	KindNote = "note"
	// KindExcluded: left out on purpose: a user exclusion (path glob, size
	// limit), a symlink not followed, a special file met while walking.
	// Listed, no effect on the exit code.
	KindExcluded = "excluded"
)

// Skipped is one coverage entry: a path or object that was not (fully)
// read as asked, or was read despite damage, and why. Kind is one of the
// Kind* constants.
type Skipped struct {
	Path   string
	Reason string
	Kind   string
}

// IsError reports whether the entry makes the scan partial (exit 2).
func (s Skipped) IsError() bool { return s.Kind == KindError }

// ErrorAt is a coverage error: path was to be read and could not be.
func ErrorAt(path, reason string) Skipped {
	return Skipped{Path: path, Reason: reason, Kind: KindError}
}

// NoteAt is a coverage note: path was read as far as anything can read it.
func NoteAt(path, reason string) Skipped { return Skipped{Path: path, Reason: reason, Kind: KindNote} }

// ExcludedAt is a coverage exclusion: path was left out on purpose.
func ExcludedAt(path, reason string) Skipped {
	return Skipped{Path: path, Reason: reason, Kind: KindExcluded}
}

// skippedJSON is the report form of Skipped (DESIGN §4): "error" is kept
// beside "kind" so scripts written against earlier reports keep working.
type skippedJSON struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
	Kind   string `json:"kind"`
	Error  bool   `json:"error"`
}

// MarshalJSON writes path, reason, kind and the derived error flag.
func (s Skipped) MarshalJSON() ([]byte, error) {
	return json.Marshal(skippedJSON{Path: s.Path, Reason: s.Reason, Kind: s.Kind, Error: s.IsError()})
}

// UnmarshalJSON reads both forms: with "kind", and the earlier one with
// only "error" (true: an error; false: an exclusion).
func (s *Skipped) UnmarshalJSON(data []byte) error {
	var j skippedJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	s.Path, s.Reason, s.Kind = j.Path, j.Reason, j.Kind
	switch {
	case s.Kind != "":
	case j.Error:
		s.Kind = KindError
	default:
		s.Kind = KindExcluded
	}
	return nil
}

// Coverage says how much was read, so "no findings" can be trusted.
type Coverage struct {
	Files   int64     `json:"files"`
	Blobs   int64     `json:"blobs"`
	Commits int64     `json:"commits"`
	Bytes   int64     `json:"bytes"`
	Skipped []Skipped `json:"skipped"`
	// Notes are facts about the scan a user must know to trust it, such as
	// a shallow clone's truncated history.
	Notes []string `json:"notes,omitempty"`
	// AllowMarked counts the keys not reported because an allow marker
	// (xaiscan:allow, gitleaks:allow, ...) was on their line.
	AllowMarked int64 `json:"allow_marked,omitempty"`
}

// Partial reports whether anything the scan was asked to read could not be.
func (c *Coverage) Partial() bool {
	for _, s := range c.Skipped {
		if s.IsError() {
			return true
		}
	}
	return false
}

// Result is the outcome of a scan.
type Result struct {
	Findings []Finding
	Coverage Coverage
	// Interrupted is set when the scan was cancelled before it finished.
	Interrupted bool
}

// Item is one unit of content for the engine to scan: a file, a blob, a
// commit message, standard input.
type Item struct {
	// Path is shown in reports: slash-separated, relative to the scanned
	// root; empty for a commit or tag message.
	Path string
	// Source is one of the Source* constants.
	Source string
	// Object identifies the item to its source (a blob or commit hash); it
	// is copied into Finding.Object.
	Object string
	// Size is the content length if known, or -1; it only sizes buffers.
	Size int64
	// Data is the content when the source already holds it in memory.
	// When nil, Open is called by a worker.
	Data []byte
	// Open returns the content. It is called on a worker goroutine, so the
	// expensive part of reading (I/O, decompression) runs in parallel.
	Open func() (io.ReadCloser, error)
	// Once is set when Open can only be called once (a stream such as
	// standard input). Otherwise an expander may open the item again (zip
	// reads a file on disk in place). The engine itself reads every item
	// once: a container's raw bytes are scanned as the expander reads them.
	// The reader Open returns may be a HoleReader (holes are skipped).
	Once bool
	// Template is copied into every finding of this item before the
	// match-specific fields are filled in (git attribution, for example).
	Template Finding
	// Counts says which coverage counter the item adds to.
	Counts Counter
	// Encoding is set by a container Decoder on the members it yields:
	// the format that yielded them ("gzip", "zip", "gzip/tar"). The engine
	// prefixes the chain of decodings above the container.
	Encoding string
	// View is set on an item decoded from encoded text inside Path (a
	// base64 blob in a YAML file), not a file of its own: a compressed
	// stream in it has no name, so its content keeps Path.
	View bool
}

// Counter selects the coverage counter an item adds to.
type Counter int

// Coverage counters.
const (
	CountNone Counter = iota
	CountFile
	CountBlob
	CountCommit
)

// Feed is what a Source uses to hand work to the engine. Its methods are
// safe to call from the source's goroutine only, except Skip and AddCommits,
// which are safe from anywhere.
type Feed interface {
	// Send queues an item; it blocks while all workers are busy and
	// returns the context's error once the scan is cancelled.
	Send(ctx context.Context, it Item) error
	// Skip records something that was not scanned.
	Skip(s Skipped)
	// Note records a fact about the scan's coverage.
	Note(msg string)
	// AddCommits counts commits walked (for coverage).
	AddCommits(n int64)
	// Expect announces n more items to come, for progress display.
	Expect(n int64)
}

// Source produces the items of a scan.
type Source interface {
	// Items sends every item to feed and returns when done. Errors that
	// concern one path should be recorded with feed.Skip and the walk
	// continued; a returned error aborts the scan.
	Items(ctx context.Context, feed Feed) error
}

// Finisher is implemented by sources that post-process raw findings after
// every item has been scanned — the git source attributes blob findings to
// the commits that introduced them. It runs on the caller's goroutine.
type Finisher interface {
	Finish(ctx context.Context, raw []Finding, feed Feed) ([]Finding, error)
}

// SortFindings orders findings deterministically: by repository, path,
// line, column, then commit date and commit, then rule.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		switch {
		case a.Repository != b.Repository:
			return a.Repository < b.Repository
		case a.Path != b.Path:
			return a.Path < b.Path
		case a.Line != b.Line:
			return a.Line < b.Line
		case a.Column != b.Column:
			return a.Column < b.Column
		case a.Date != b.Date:
			return a.Date < b.Date
		case a.Commit != b.Commit:
			return a.Commit < b.Commit
		case a.Source != b.Source:
			return a.Source < b.Source
		default:
			return a.Rule < b.Rule
		}
	})
}

// SourceFunc adapts a function to the Source interface.
type SourceFunc func(ctx context.Context, feed Feed) error

// Items implements Source.
func (f SourceFunc) Items(ctx context.Context, feed Feed) error { return f(ctx, feed) }

// Merge combines the results of scans run one after the other (the audit's
// history and working-tree passes) into one sorted result.
func Merge(results ...Result) Result {
	var out Result
	out.Coverage.Skipped = []Skipped{}
	for _, r := range results {
		out.Findings = append(out.Findings, r.Findings...)
		c := r.Coverage
		out.Coverage.Files += c.Files
		out.Coverage.Blobs += c.Blobs
		out.Coverage.Commits += c.Commits
		out.Coverage.Bytes += c.Bytes
		out.Coverage.AllowMarked += c.AllowMarked
		out.Coverage.Skipped = append(out.Coverage.Skipped, c.Skipped...)
		out.Coverage.Notes = append(out.Coverage.Notes, c.Notes...)
		out.Interrupted = out.Interrupted || r.Interrupted
	}
	SortFindings(out.Findings)
	sortSkipped(out.Coverage.Skipped)
	return out
}

// ItemList is a Source that sends a fixed list of items, in order.
type ItemList []Item

// Items implements Source.
func (l ItemList) Items(ctx context.Context, feed Feed) error {
	for _, it := range l {
		if err := feed.Send(ctx, it); err != nil {
			return err
		}
	}
	return nil
}
