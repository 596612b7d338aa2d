package gitfile

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

var errDelta = errors.New("corrupt delta")

// deltaHeader reads the base and result sizes at the start of a git delta.
func deltaHeader(d []byte) (base, result uint64, rest []byte, err error) {
	base, d, err = leb128(d)
	if err != nil {
		return 0, 0, nil, err
	}
	result, d, err = leb128(d)
	return base, result, d, err
}

func leb128(d []byte) (uint64, []byte, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if len(d) == 0 {
			return 0, nil, errDelta
		}
		c := d[0]
		d = d[1:]
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, d, nil
		}
	}
	return 0, nil, errDelta
}

// walkDelta checks every instruction of delta against a base of baseLen
// bytes and its declared result size, and calls insert with the literal
// bytes each insert instruction adds, and with nil for each copy
// instruction (insert may be nil). It costs one pass
// over the delta, so a delta is known good before anything is built from
// it: a corrupt delta never makes the decoder copy megabytes first.
func walkDelta(delta []byte, baseLen uint64, insert func([]byte)) (result uint64, err error) {
	src, result, ops, err := deltaHeader(delta)
	if err != nil {
		return 0, err
	}
	if src != baseLen {
		return 0, fmt.Errorf("%w: base is %d bytes, delta expects %d", errDelta, baseLen, src)
	}
	var out uint64
	for len(ops) > 0 {
		op := ops[0]
		ops = ops[1:]
		var n uint64
		switch {
		case op&0x80 != 0:
			var off uint64
			off, n, ops, err = copyOp(op, ops)
			if err != nil {
				return 0, err
			}
			if off+n > baseLen {
				return 0, fmt.Errorf("%w: copy beyond the base", errDelta)
			}
			if insert != nil {
				insert(nil)
			}
		case op != 0:
			n = uint64(op)
			if n > uint64(len(ops)) {
				return 0, fmt.Errorf("%w: insert beyond the delta", errDelta)
			}
			if insert != nil {
				insert(ops[:n])
			}
			ops = ops[n:]
		default:
			return 0, fmt.Errorf("%w: reserved instruction", errDelta)
		}
		if out += n; out > result {
			return 0, fmt.Errorf("%w: result larger than declared", errDelta)
		}
	}
	if out != result {
		return 0, fmt.Errorf("%w: result smaller than declared", errDelta)
	}
	return result, nil
}

// copyOp decodes the offset and size bytes of a copy instruction.
func copyOp(op byte, d []byte) (off, n uint64, rest []byte, err error) {
	for b := uint(0); b < 7; b++ {
		if op&(1<<b) == 0 {
			continue
		}
		if len(d) == 0 {
			return 0, 0, nil, fmt.Errorf("%w: copy instruction cut short", errDelta)
		}
		if b < 4 {
			off |= uint64(d[0]) << (8 * b)
		} else {
			n |= uint64(d[0]) << (8 * (b - 4))
		}
		d = d[1:]
	}
	if n == 0 {
		n = 0x10000
	}
	return off, n, d, nil
}

// applyDelta builds the object delta describes from base. The delta must
// have passed walkDelta.
func applyDelta(base, delta []byte) ([]byte, error) {
	if len(base) == 0 {
		// go-git refuses an empty base; the result is then the inserts.
		var out []byte
		_, err := walkDelta(delta, 0, func(b []byte) { out = append(out, b...) })
		if out == nil {
			out = []byte{}
		}
		return out, err
	}
	return packfile.PatchDelta(base, delta)
}
