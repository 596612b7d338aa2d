package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
	"github.com/xaiscan/xaiscan/scanner/known"
)

// sizeValue is a byte count flag: "4GiB", "512MiB", "100MB", "1.5G",
// "4096". K, M, G, T and the -iB forms are powers of 1024; kB, MB, GB, TB
// powers of 1000, as GNU tools read them.
type sizeValue int64

func (s *sizeValue) String() string {
	if *s == 0 {
		return "0"
	}
	return strings.ReplaceAll(scanner.SizeString(int64(*s)), " ", "")
}

func (s *sizeValue) Type() string { return "SIZE" }

func (s *sizeValue) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s = sizeValue(n)
	return nil
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// parseSize reads a size such as "512MiB" or "4G".
func parseSize(v string) (int64, error) {
	t := strings.TrimSpace(v)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	f, err := strconv.ParseFloat(num, 64)
	mul, ok := sizeUnits[unit]
	if err != nil || !ok || f < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 4096, 512MiB, 4GiB, 100MB)", v)
	}
	if b := f * mul; b < math.MaxInt64 {
		return int64(b), nil
	}
	return 0, fmt.Errorf("%q is too large", v)
}

// globList is a repeatable path-glob flag, checked as it is parsed.
type globList []known.Glob

func (g *globList) String() string {
	var s []string
	for _, x := range *g {
		s = append(s, x.String())
	}
	return strings.Join(s, ",")
}

func (g *globList) Type() string { return "GLOB" }

func (g *globList) Set(v string) error {
	p, err := known.ParseGlob(v)
	if err != nil {
		return err
	}
	*g = append(*g, p)
	return nil
}

// match reports whether a path matches one of the globs.
func (g globList) match(path string) bool {
	for _, x := range g {
		if x.Match(path) {
			return true
		}
	}
	return false
}

// walkOptions are the directory walker's options for a scan whose config
// is looked up in root: --follow-symlinks, --max-file-size, and the
// exclusions of --exclude and of the config's [allow] paths, which are not
// read at all. A config that does not load adds nothing here: loading it
// again for the known-keys filter reports the problem.
func (sf *scanFlags) walkOptions(root string) files.Options {
	o := files.Options{FollowSymlinks: sf.followSymlinks, MaxFileSize: int64(sf.maxFileSize)}
	for _, g := range sf.exclude {
		o.Exclude = append(o.Exclude, files.Exclusion{Glob: g, Origin: "--exclude"})
	}
	if cfg, err := known.LoadConfig(root, sf.config, time.Time{}); err == nil {
		for _, g := range cfg.Allow {
			o.Exclude = append(o.Exclude, files.Exclusion{Glob: g, Origin: known.ConfigFileName + " [allow] paths"})
		}
	}
	return o
}
