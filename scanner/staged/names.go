package staged

import (
	"context"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/names"
)

// sendNames has the names in the entries' paths scanned for keys (part
// "name"): each directory of a path and the file's own name, once, at its
// own path. Like content, a name HEAD already has is not reported again
// (a new file in a directory committed before does not re-report the
// directory's name), unless every is set: checking named files reports
// everything the commit will contain.
func (s *Source) sendNames(ctx context.Context, entries []entry, every bool, feed scanner.Feed) error {
	seen := map[string]bool{}
	for _, e := range entries {
		if !names.Holds(e.name) {
			continue
		}
		start := 0
		for i := 0; i <= len(e.name); i++ {
			if i < len(e.name) && e.name[i] != '/' {
				continue
			}
			p, elem := e.name[:i], start
			start = i + 1
			if seen[p] || (!every && s.inHead(p)) {
				continue
			}
			seen[p] = true
			obj := ""
			if i == len(e.name) {
				obj = e.hash.String()
			}
			it, ok := names.Item(p, elem, scanner.SourceStaged, obj, scanner.Finding{})
			if !ok {
				continue
			}
			if err := feed.Send(ctx, it); err != nil {
				return err
			}
		}
	}
	return nil
}
