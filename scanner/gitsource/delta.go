package gitsource

import (
	"errors"
	"fmt"
)

var errBadDelta = errors.New("corrupt delta")

// deltaSize reads one of the two varint sizes at the start of a delta.
func deltaSize(d []byte, i int) (int64, int, error) {
	var sz int64
	shift := uint(0)
	for {
		if i >= len(d) || shift > 56 {
			return 0, i, errBadDelta
		}
		c := d[i]
		i++
		sz |= int64(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			return sz, i, nil
		}
	}
}

// applyDelta applies a git delta to base and returns the new content. Every
// copy and insert is bounds-checked: a corrupt delta is an error, never a
// panic or an oversized allocation.
func applyDelta(base, delta []byte) ([]byte, error) {
	srcSize, i, err := deltaSize(delta, 0)
	if err != nil {
		return nil, err
	}
	if srcSize != int64(len(base)) {
		return nil, fmt.Errorf("%w: base is %d bytes, delta expects %d", errBadDelta, len(base), srcSize)
	}
	dstSize, i, err := deltaSize(delta, i)
	if err != nil {
		return nil, err
	}
	if dstSize > maxObjectSize {
		return nil, fmt.Errorf("%w: implausible target size %d", errBadDelta, dstSize)
	}
	out := make([]byte, 0, min(dstSize, trustedAlloc))
	for i < len(delta) {
		op := delta[i]
		i++
		if op&0x80 != 0 {
			var off, n uint32
			for b := uint(0); b < 4; b++ {
				if op&(1<<b) != 0 {
					if i >= len(delta) {
						return nil, errBadDelta
					}
					off |= uint32(delta[i]) << (8 * b)
					i++
				}
			}
			for b := uint(0); b < 3; b++ {
				if op&(0x10<<b) != 0 {
					if i >= len(delta) {
						return nil, errBadDelta
					}
					n |= uint32(delta[i]) << (8 * b)
					i++
				}
			}
			if n == 0 {
				n = 0x10000
			}
			e := uint64(off) + uint64(n)
			if e > uint64(len(base)) || uint64(len(out))+uint64(n) > uint64(dstSize) {
				return nil, fmt.Errorf("%w: copy out of bounds", errBadDelta)
			}
			out = append(out, base[off:e]...)
		} else if op != 0 {
			n := int(op)
			if i+n > len(delta) || int64(len(out)+n) > dstSize {
				return nil, fmt.Errorf("%w: insert out of bounds", errBadDelta)
			}
			out = append(out, delta[i:i+n]...)
			i += n
		} else {
			return nil, fmt.Errorf("%w: reserved opcode", errBadDelta)
		}
	}
	if int64(len(out)) != dstSize {
		return nil, fmt.Errorf("%w: result is %d bytes, expected %d", errBadDelta, len(out), dstSize)
	}
	return out, nil
}
