package archive

import (
	"bytes"
	"io"

	"github.com/xaiscan/xaiscan/scanner"
)

// tar expands a tar stream member by member. Every entry with data is a
// member (regular files, and entry types this package does not know);
// directories, links and devices have none. Damage that leaves the
// framing intact (a bad header skipped, an unusable sparse map) is
// returned at the end; a truncation ends the archive where it happens,
// after the partial member was scanned.
func (x *expansion) tar(r io.Reader) error {
	t := newTarReader(r)
	t.empty = x.nameOnly
	x.enc = scanner.JoinEncoding(x.enc, "tar")
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		e, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isMalformed(err) {
				return firstErr(t.damage, err)
			}
			return err
		}
		if err := x.member(e.name, func() (io.Reader, error) { return e.reader(), nil }); err != nil {
			return err
		}
	}
	if t.trailing {
		// Bytes after the end of the archive that are no tar header: in
		// a compressed tar only this scan sees them decoded.
		t.damaged("data after the end of the tar archive")
		rest := io.MultiReader(bytes.NewReader(append([]byte(nil), t.blk[:]...)), r)
		if err := x.member("(data after the end of the archive)", func() (io.Reader, error) { return rest, nil }); err != nil {
			return err
		}
	}
	return t.damage
}
