package gitfile

import (
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/xaiscan/xaiscan/scanner"
)

// damage is a truncated or corrupt pack or bundle: it matches
// scanner.ErrMalformed, so the engine records it as a note (it scans the
// raw bytes too, and every object before the damage was decoded).
type damage struct{ msg string }

func (e damage) Error() string { return e.msg }

// Is makes a damage match scanner.ErrMalformed.
func (e damage) Is(target error) bool { return target == scanner.ErrMalformed }

func damaged(format string, args ...any) error { return damage{fmt.Sprintf(format, args...)} }

// readErr turns an error met while reading the pack into damage when it
// is about the pack's bytes (an early end, a corrupt zlib stream). The
// reader's own errors (an unreadable file, the spent budget, cancellation)
// pass through unchanged, so a read failure is never mistaken for damage.
func readErr(what string, err error) error {
	var ce flate.CorruptInputError
	var de damage
	switch {
	case err == nil:
		return nil
	case errors.As(err, &de):
		return err
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return damaged("truncated git pack: %s cut short", what)
	case errors.As(err, &ce), errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrHeader),
		errors.Is(err, zlib.ErrDictionary):
		return damaged("corrupt git pack: %s: %v", what, err)
	}
	return err
}
