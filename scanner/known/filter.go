package known

import (
	"fmt"
	"os"
	"time"

	"github.com/xaiscan/xaiscan/scanner"
)

// Filter removes known findings. It is safe for concurrent use once built.
type Filter struct {
	known Set
	allow []Glob
	notes []string
	// sources name the files the known keys came from (see Unmatched).
	sources []source
}

// NewFilter builds a filter from a configuration (may be nil) and any
// number of known-key sets (baselines, ignore files).
func NewFilter(cfg *Config, sets ...Set) *Filter {
	f := &Filter{}
	if cfg != nil {
		f.known.Merge(cfg.Ignore)
		f.allow = append(f.allow, cfg.Allow...)
		f.notes = append(f.notes, cfg.Expired...)
	}
	for _, s := range sets {
		f.known.Merge(s)
	}
	return f
}

// Options say where Load finds the known keys of a scan.
type Options struct {
	// Root is the scanned root: the repository's work tree for git,
	// staged and pre-push scans, the directory for dir scans, the current
	// directory for stdin. .xaiscanignore and .xaiscan.toml are looked up
	// there.
	Root string
	// ConfigPath is --config; it must exist. "" means Root/.xaiscan.toml,
	// if present.
	ConfigPath string
	// BaselinePaths are --baseline files; the configuration's baseline,
	// if any, is added.
	BaselinePaths []string
	// Now decides which ignore entries have expired; zero means now.
	Now time.Time
}

// Load reads the configuration, the ignore file and the baselines of a
// scan and builds its filter. Errors name the file and line at fault; the
// CLI reports them as usage errors (exit 2).
func Load(opts Options) (*Filter, error) {
	f, err := load(opts)
	return f, redact(err)
}

func load(opts Options) (*Filter, error) {
	root := opts.Root
	if root == "" {
		root = "."
	}
	cfg, err := LoadConfig(root, opts.ConfigPath, opts.Now)
	if err != nil {
		return nil, err
	}
	ign, err := LoadIgnoreFile(ignoreFileIn(root))
	if err != nil {
		return nil, err
	}
	sets := []Set{ign}
	baselines := append([]string(nil), opts.BaselinePaths...)
	if cfg.Baseline != "" {
		if _, err := os.Stat(cfg.Baseline); err != nil {
			return nil, fmt.Errorf("%s: baseline: %w", cfg.File, err)
		}
		baselines = append(baselines, cfg.Baseline)
	}
	for _, b := range baselines {
		s, err := LoadBaseline(b)
		if err != nil {
			return nil, err
		}
		sets = append(sets, s)
	}
	f := NewFilter(cfg, sets...)
	f.sources = describeSources(cfg, ignoreFileIn(root), ign, baselines, sets[1:])
	return f, nil
}

// Apply returns the findings that are not known, in their original order,
// and how many were suppressed. A finding is suppressed when its path
// matches an allowed pattern, or its key is in a baseline, the ignore file
// or an [[ignore]] entry whose scope (if any) matches its path. Commit and
// tag messages have an empty path: only unscoped entries apply to them.
// The input slice is not modified.
func (f *Filter) Apply(findings []scanner.Finding) (kept []scanner.Finding, suppressed int) {
	kept = make([]scanner.Finding, 0, len(findings))
	for _, fd := range findings {
		if f.Suppresses(fd) {
			suppressed++
			continue
		}
		kept = append(kept, fd)
	}
	return kept, suppressed
}

// Suppresses reports whether one finding is known.
func (f *Filter) Suppresses(fd scanner.Finding) bool {
	if f == nil {
		return false
	}
	for _, g := range f.allow {
		if g.Match(fd.Path) {
			return true
		}
	}
	return f.known.Contains(fd)
}

// Notes are facts the user should see, such as expired ignore entries.
func (f *Filter) Notes() []string {
	if f == nil {
		return nil
	}
	return append([]string(nil), f.notes...)
}

// Empty reports whether the filter suppresses nothing.
func (f *Filter) Empty() bool { return f == nil || (len(f.allow) == 0 && f.known.Len() == 0) }
