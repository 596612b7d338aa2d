package scanner

import (
	"errors"
	"fmt"
	"io"
)

// errBudget is returned by a member's reader once its top-level item's
// decoded-bytes budget is spent.
var errBudget = errors.New("decoded-bytes budget spent")

// chain is the state shared by one top-level item and everything nested
// in it. A top-level item is scanned on one worker, members synchronously
// inside their container's expansion, so it needs no locking.
type chain struct {
	left, max int64
	spent     bool
	// at is the member whose read spent the budget.
	at string
}

// reason is the coverage error for a top-level item whose budget was spent.
func (c *chain) reason(top string) string {
	at := ""
	if c.at != "" && c.at != top {
		at = " at " + c.at
	}
	return fmt.Sprintf("decoded-bytes budget of %s reached%s: the rest of %s was not decoded (raise it with --max-decoded-bytes)",
		SizeString(c.max), at, top)
}

// budgetReader charges every byte read from a member to its chain's
// budget, and fails once the budget is spent. The bytes read up to the
// budget are returned, and scanned, before the failure.
type budgetReader struct {
	r    io.Reader
	ch   *chain
	path string
	one  [1]byte
}

func (b *budgetReader) Read(p []byte) (int, error) {
	c := b.ch
	if c.spent {
		return 0, errBudget
	}
	if c.left <= 0 {
		// Exactly at the budget: spent only if there is more to read.
		n, err := b.r.Read(b.one[:])
		if n == 0 && err != nil {
			return 0, err
		}
		c.spent, c.at = true, b.path
		return 0, errBudget
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := b.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// SizeString formats a byte count the way the size flags accept it:
// "4 GiB", "512 MiB", "1536 bytes".
func SizeString(n int64) string {
	switch {
	case n >= 1<<40 && n%(1<<40) == 0:
		return fmt.Sprintf("%d TiB", n>>40)
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
