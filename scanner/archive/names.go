package archive

import (
	"path"
	"strings"

	"github.com/xaiscan/xaiscan/scanner/names"
)

// scanNames has the names in a member's path scanned for keys: every
// directory above the member (archives need not list their directories,
// and this package does not hand directory entries to the engine) and the
// member's own name, each once per container, at its own path
// ("outer.zip!dir", "outer.zip!dir/file"). A key in a directory's name is
// so one finding, not one per member below it.
//
// A single member named like its container ("app.log" in "app.log.gz",
// whether the gzip header names it or the name was derived from the outer
// one) is not scanned: its name is the container's, already scanned where
// the container was met.
func (x *expansion) scanNames(clean string) error {
	if !names.Holds(clean) {
		return nil
	}
	outer := x.outer()
	if !strings.Contains(clean, "/") && strings.HasPrefix(path.Base(outer), strings.TrimSuffix(clean, ".tar")) {
		return nil
	}
	full := outer + "!" + clean
	elem := len(outer) + 1
	for i := elem; i <= len(full); i++ {
		if i < len(full) && full[i] != '/' {
			continue
		}
		p := full[:i]
		start := elem
		elem = i + 1
		if x.names[p] {
			continue
		}
		if x.names == nil {
			x.names = map[string]bool{}
		}
		x.names[p] = true
		it, ok := names.Item(p, start, x.parent.Source, x.parent.Object, x.parent.Template)
		if !ok {
			continue
		}
		if err := x.m.Scan(it); err != nil {
			return err
		}
	}
	return nil
}

// nameOnly scans the names in the path of an entry that is no member (a
// directory, a link, a tar entry without data, such as an empty file): it
// is in the archive's listing all the same. Scanning a name fails only
// when the scan is cancelled, which the caller's loop checks next.
func (x *expansion) nameOnly(name string) {
	clean, _ := sanitizeName(name)
	_ = x.scanNames(clean)
}
