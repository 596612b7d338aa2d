package known

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// ConfigFileName is the configuration file looked up at the scanned root.
const ConfigFileName = ".xaiscan.toml"

// Config is the content of .xaiscan.toml:
//
//	# Optional: a baseline report applied on every run (relative to this file).
//	baseline = ".xaiscan-baseline.json"
//
//	[allow]
//	# Findings in these paths are not reported (the files are still read).
//	paths = ["testdata/**", "docs/**/*.md"]
//
//	[[ignore]]
//	fingerprint = "3f1c...e9a0"     # required: 64 hex digits
//	path = "config/*.env"           # optional: only at matching paths
//	reason = "revoked 2026-01-05"   # optional, for reviewers
//	expires = 2026-12-31            # optional: stops suppressing after this day
//
// Unknown keys are errors, so a typo never silently disables a setting.
type Config struct {
	// File is the configuration file read ("" when there was none).
	File string
	// Baseline is the baseline report named by the file, resolved
	// against the file's directory ("" when none).
	Baseline string
	// Allow lists the path patterns whose findings are not reported.
	Allow []Glob
	// Ignore holds the [[ignore]] entries still in force.
	Ignore Set
	// Expired lists the [[ignore]] entries whose expiry date has passed,
	// as notes for the user ("FILE:LINE: ignore entry expired on DATE").
	Expired []string
}

type rawConfig struct {
	Version  int    `toml:"version"`
	Baseline string `toml:"baseline"`
	Allow    struct {
		Paths []string `toml:"paths"`
	} `toml:"allow"`
	Ignore []rawIgnore `toml:"ignore"`
}

type rawIgnore struct {
	Fingerprint string    `toml:"fingerprint"`
	Path        string    `toml:"path"`
	Reason      string    `toml:"reason"` // for reviewers; not used
	Expires     time.Time `toml:"expires"`
}

// MaxConfigSize is the largest configuration file read. Real ones are a
// few hundred bytes; this holds 2,000 [[ignore]] entries (more keys belong
// in .xaiscanignore, 65 bytes each). The TOML decoder takes up to 300
// times a file's size in memory for some shapes of file, so the limit is
// what bounds the memory of a hostile one (to about 80 MB).
const MaxConfigSize = 256 << 10

// LoadConfig loads the configuration for a scan of root. An explicit path
// (--config) must exist; otherwise root/.xaiscan.toml is read if present,
// and a missing one yields an empty Config. now decides which [[ignore]]
// entries have expired (the zero time means time.Now()). Every problem is
// an error naming the file, the line when known, and the problem.
func LoadConfig(root, explicitPath string, now time.Time) (*Config, error) {
	cfg, err := loadConfig(root, explicitPath, now)
	return cfg, redact(err)
}

func loadConfig(root, explicitPath string, now time.Time) (*Config, error) {
	file := explicitPath
	if file == "" {
		file = filepath.Join(root, ConfigFileName)
	}
	f, err := os.Open(file)
	if err != nil {
		if explicitPath == "" && errors.Is(err, os.ErrNotExist) {
			return &Config{}, nil
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s: larger than %d KiB, the limit for a configuration file", file, MaxConfigSize>>10)
	}
	if now.IsZero() {
		now = time.Now()
	}
	return parseConfig(file, string(data), now)
}

func parseConfig(file, text string, now time.Time) (*Config, error) {
	if line, err := checkShape(text); err != nil {
		return nil, fmt.Errorf("%s:%d: %v", file, line, err)
	}
	var raw rawConfig
	md, err := toml.Decode(text, &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", file, pe.Position.Line, pe.Message)
		}
		msg := strings.TrimPrefix(err.Error(), "toml: ")
		if m := lineRe.FindStringSubmatch(msg); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", file, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s", file, msg)
	}
	lines := newLocator(text)
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, fmt.Errorf("%s:%d: unknown key %q (known: version, baseline, [allow] paths, [[ignore]] fingerprint/path/reason/expires)",
			file, lines.key(k), k.String())
	}
	if raw.Version != 0 && raw.Version != 1 {
		return nil, fmt.Errorf("%s:%d: unsupported version %d (this xaiscan reads version 1)", file, lines.key(toml.Key{"version"}), raw.Version)
	}
	cfg := &Config{File: file}
	if raw.Baseline != "" {
		b := filepath.FromSlash(raw.Baseline)
		if !filepath.IsAbs(b) {
			b = filepath.Join(filepath.Dir(file), b)
		}
		cfg.Baseline = b
	}
	for _, p := range raw.Allow.Paths {
		g, err := ParseGlob(p)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: [allow] paths: %v", file, lines.value(p), err)
		}
		cfg.Allow = append(cfg.Allow, g)
	}
	for i, ig := range raw.Ignore {
		if err := cfg.addIgnore(ig, i, fmt.Sprintf("%s:%d", file, lines.table("ignore", i)), now); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// addIgnore adds the i-th [[ignore]] entry, written at where, or records
// that it expired.
func (cfg *Config) addIgnore(ig rawIgnore, i int, where string, now time.Time) error {
	if ig.Fingerprint == "" {
		return fmt.Errorf("%s: [[ignore]] entry %d has no fingerprint", where, i+1)
	}
	if !isFingerprint(ig.Fingerprint) {
		return fmt.Errorf("%s: [[ignore]] entry %d: fingerprint must be 64 hex digits (the \"fingerprint\" field of a finding), got %d characters", where, i+1, len(ig.Fingerprint))
	}
	e := Entry{Fingerprint: ig.Fingerprint}
	if ig.Path != "" {
		g, err := ParseGlob(ig.Path)
		if err != nil {
			return fmt.Errorf("%s: [[ignore]] entry %d: %v", where, i+1, err)
		}
		e.Scope = &g
	}
	if !ig.Expires.IsZero() {
		// A date without a time is the whole day, in local time.
		y, m, d := ig.Expires.Date()
		end := time.Date(y, m, d, 0, 0, 0, 0, time.Local).AddDate(0, 0, 1)
		if ig.Expires.Hour() != 0 || ig.Expires.Minute() != 0 || ig.Expires.Second() != 0 {
			end = ig.Expires
		}
		if !now.Before(end) {
			cfg.Expired = append(cfg.Expired, fmt.Sprintf("%s: ignore entry expired on %s; its key is reported again", where, ig.Expires.Format("2006-01-02")))
			return nil
		}
	}
	cfg.Ignore.Add(e)
	return nil
}

// locator finds the line of a key, value or table in TOML text. The TOML
// decoder does not expose positions after a successful decode, and errors
// must name a line, so this scans the text: tables are tracked by their
// headers and keys by "name =" at the start of a line. The [[array]]
// headers are indexed once, so naming every entry's line stays linear.
type locator struct {
	lines  []string
	arrays map[string][]int // [[name]] -> the lines of its headers
}

func newLocator(text string) locator {
	l := locator{lines: strings.Split(text, "\n"), arrays: map[string][]int{}}
	for n, line := range l.lines {
		if !strings.HasPrefix(strings.TrimSpace(line), "[[") {
			continue
		}
		if m := headerRe.FindStringSubmatch(line); m != nil {
			name := unquote(m[1])
			l.arrays[name] = append(l.arrays[name], n+1)
		}
	}
	return l
}

// lineRe splits the decoder's "line N (last key ...): problem" messages.
var lineRe = regexp.MustCompile(`^line (\d+) (.*)$`)

var headerRe = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)

// table returns the line of the i-th [[name]] header (0-based), or 0.
func (l locator) table(name string, i int) int {
	if hs := l.arrays[name]; i < len(hs) {
		return hs[i]
	}
	return 0
}

// key returns the line where key k (table path + key) is written, or 0.
func (l locator) key(k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	table := strings.Join(k[:len(k)-1], ".")
	last := k[len(k)-1]
	cur := ""
	for n, line := range l.lines {
		if m := headerRe.FindStringSubmatch(line); m != nil {
			cur = unquote(m[1])
			if cur == strings.Join(k, ".") {
				return n + 1 // an unknown table
			}
			continue
		}
		t := strings.TrimSpace(line)
		eq := strings.IndexByte(t, '=')
		if eq <= 0 {
			continue
		}
		name := unquote(strings.TrimSpace(t[:eq]))
		full := name
		if cur != "" {
			full = cur + "." + name
		}
		if full == strings.Join(k, ".") || (cur == table && name == last) {
			return n + 1
		}
	}
	return 0
}

// value returns the first line containing the quoted string v, or 0.
func (l locator) value(v string) int {
	for n, line := range l.lines {
		if strings.Contains(line, `"`+v+`"`) || strings.Contains(line, `'`+v+`'`) {
			return n + 1
		}
	}
	return 0
}

func unquote(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}
