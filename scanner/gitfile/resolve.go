package gitfile

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/xaiscan/xaiscan/scanner"
)

// delta reads a delta entry at off against base id (REF_DELTA) or the
// entry at baseOff (OFS_DELTA), and rebuilds the object when its base is
// held; otherwise the delta waits for its base, or is given up.
func (p *pack) delta(off int64, size uint64, id string, baseOff int64) error {
	if size > uint64(p.held.max) {
		// Read through to reach the next entry; nothing can be built.
		b, err := p.open(size, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, b)
		}
		if err != nil {
			return err
		}
		p.held.seen(off, "", p.hashLen)
		p.lose(off, false, fmt.Sprintf("is a %d-byte delta, over the memory cap of %d bytes for delta bases: not rebuilt, not scanned", size, p.held.max))
		return nil
	}
	delta, err := p.inflate(size, nil)
	if err != nil {
		return err
	}
	var base *object
	if id != "" {
		base = p.held.withID(id)
	} else {
		base = p.held.at(baseOff)
	}
	if base != nil {
		return p.rebuild(off, base, delta)
	}
	p.held.seen(off, "", p.hashLen)
	return p.unresolved(pending{off: off, base: id, baseOff: baseOff, delta: delta})
}

// unresolved handles a delta whose base is not held now.
func (p *pack) unresolved(d pending) error {
	switch {
	case d.base != "" || p.held.waitsAt(d.baseOff):
		// The base may come later (REF_DELTA), or is itself waiting.
		if p.held.wait(d) {
			return nil
		}
		return p.giveUp(d, false, "is a delta whose base is not held, and the deltas waiting for a base reached the memory cap")
	case p.held.wasAt(d.baseOff) || p.held.overflow:
		return p.giveUp(d, false, fmt.Sprintf("is a delta against the object at offset %d, which is in the pack but no longer held (memory cap of %d bytes for delta bases)", d.baseOff, p.held.max))
	}
	p.harmed(damaged("corrupt git pack: delta at offset %d names a base at offset %d where no object starts", d.off, d.baseOff))
	return p.inserted(d)
}

// giveUp records a delta that cannot be rebuilt and scans what it inserts.
// thin is set when the base is not in the file: no tool could rebuild it
// from this file, so it is a note; otherwise it is an error, since the
// object is in the file and more memory would have rebuilt it.
func (p *pack) giveUp(d pending, thin bool, why string) error {
	p.lose(d.off, thin, why)
	return p.inserted(d)
}

// inserted scans the bytes a delta inserts, joined where the delta
// inserts them next to each other and cut by a newline where it copies
// from its base, so a key added by an edit is found without the base.
func (p *pack) inserted(d pending) error {
	var out []byte
	copied := false
	_, err := walkDelta(d.delta, deltaBaseSize(d.delta), func(b []byte) {
		switch {
		case b == nil:
			copied = true
		default:
			if copied && len(out) > 0 {
				out = append(out, '\n')
			}
			copied = false
			out = append(out, b...)
		}
	})
	if err != nil {
		p.harmed(damaged("corrupt git pack: delta at offset %d: %v", d.off, err))
	}
	if len(out) == 0 {
		return nil
	}
	return p.emit(fmt.Sprintf("%s!@%d (inserted bytes)", p.outer, d.off), typBlob, out)
}

// deltaBaseSize is the base size a delta declares (0 when unreadable), so
// walkDelta can check a delta whose base is absent.
func deltaBaseSize(delta []byte) uint64 {
	n, _, _, err := deltaHeader(delta)
	if err != nil {
		return 0
	}
	return n
}

// rebuild builds the object at off from its base and delta. The delta is
// checked first and its result size compared with the cap, before any
// allocation: a delta declaring gigabytes, or a chain of deltas each
// multiplying its base, costs at most the cap per object, and everything
// built is scanned (so charged to the engine's budget).
func (p *pack) rebuild(off int64, base *object, delta []byte) error {
	d := pending{off: off, delta: delta}
	result, err := walkDelta(delta, uint64(len(base.data)), nil)
	if err != nil {
		p.held.seen(off, "", p.hashLen)
		p.harmed(damaged("corrupt git pack: delta at offset %d: %v", off, err))
		return p.inserted(d)
	}
	if result > uint64(p.held.max) {
		p.held.seen(off, "", p.hashLen)
		return p.giveUp(d, false, fmt.Sprintf("is a delta whose result is %d bytes, over the memory cap of %d bytes: not rebuilt, only its inserted bytes scanned", result, p.held.max))
	}
	data, err := applyDelta(base.data, delta)
	if err != nil {
		p.held.seen(off, "", p.hashLen)
		p.harmed(damaged("corrupt git pack: delta at offset %d: %v", off, err))
		return p.inserted(d)
	}
	h := p.hasher(base.typ, uint64(len(data)))
	h.Write(data)
	return p.found(&object{off: off, id: string(h.Sum(nil)), typ: base.typ, data: data})
}

// release queues the deltas that waited for o. They are rebuilt by
// rebuildQueued, in a loop rather than by recursion: a chain of waiting
// deltas may be long.
func (p *pack) release(o *object) {
	for _, d := range p.held.waitingFor(o.id, o.off) {
		d.baseOff = o.off
		p.queue = append(p.queue, d)
	}
}

// rebuildQueued rebuilds the released deltas against their base, looked
// up again (not kept alive by the queue, so memory stays within the cap).
func (p *pack) rebuildQueued() error {
	for len(p.queue) > 0 {
		d := p.queue[len(p.queue)-1]
		p.queue = p.queue[:len(p.queue)-1]
		base := p.held.at(d.baseOff)
		if base == nil {
			if err := p.giveUp(d, false, fmt.Sprintf("is a delta whose base (at offset %d) was rebuilt but could not be held (memory cap of %d bytes)", d.baseOff, p.held.max)); err != nil {
				return err
			}
			continue
		}
		if err := p.rebuild(d.off, base, d.delta); err != nil {
			return err
		}
	}
	return nil
}

// harmed records damage in an entry whose stream was whole: reading goes
// on, and the damage is returned at the end.
func (p *pack) harmed(err error) {
	if p.harm == nil {
		p.harm = err
	}
}

// finish gives up the deltas still waiting for a base at the end of the
// pack (thin when their base was never read), then returns err.
// A stop for another reason (the budget spent, the scan cancelled) ends
// the read at once: nothing more may be handed to the engine.
func (p *pack) finish(err error) error {
	if err != nil && !errors.Is(err, scanner.ErrMalformed) {
		return err
	}
	if len(p.held.waitingAt) > 0 {
		if ferr := p.giveUpWaiting(); ferr != nil {
			return ferr
		}
	}
	p.lost.flush(p.m, p.outer)
	return err
}

func (p *pack) giveUpWaiting() error {
	in, known := p.held.inPack(p.hashLen)
	roots := p.held.roots()
	all := p.held.drain()
	sort.Slice(all, func(i, j int) bool { return all[i].off < all[j].off })
	for _, d := range all {
		root := roots[d.off]
		if root == "" || (known && !in[root]) {
			if err := p.giveUp(d, true, thinReason(root, p.done < p.count)); err != nil {
				return err
			}
			continue
		}
		if err := p.giveUp(d, false, fmt.Sprintf("is a delta against %s, which is in the pack but was not held (memory cap of %d bytes for delta bases)", hex.EncodeToString([]byte(root)), p.held.max)); err != nil {
			return err
		}
	}
	return nil
}

func thinReason(root string, cut bool) string {
	s := "is a delta against " + hex.EncodeToString([]byte(root)) + ", which is not in this file (a thin pack: the base is in the repository the pack was made from)"
	if cut {
		s = "is a delta against " + hex.EncodeToString([]byte(root)) + ", which is not in the part of the pack that could be read"
	}
	return s + ": only the bytes the delta inserts were scanned"
}

// lostEach is how many deltas that could not be rebuilt are named one by
// one, per kind, before the rest are counted in one entry.
const lostEach = 10

// lostLog counts the deltas of one pack that could not be rebuilt.
type lostLog struct{ errs, notes int }

// lose records that the delta at off could not be rebuilt: a note when
// its base is not in the file (thin), an error otherwise.
func (p *pack) lose(off int64, thin bool, why string) {
	n := &p.lost.errs
	if thin {
		n = &p.lost.notes
	}
	if *n++; *n > lostEach {
		return
	}
	path := fmt.Sprintf("%s!@%d", p.outer, off)
	if thin {
		p.m.Skip(scanner.NoteAt(path, "git pack object "+why))
	} else {
		p.m.Skip(scanner.ErrorAt(path, "git pack object "+why))
	}
}

// flush records the deltas not named one by one.
func (l *lostLog) flush(m scanner.Members, outer string) {
	if l.errs > lostEach {
		m.Skip(scanner.ErrorAt(outer, fmt.Sprintf("%d more git pack objects could not be rebuilt from their deltas (memory cap or corrupt delta): only the bytes they insert were scanned", l.errs-lostEach)))
	}
	if l.notes > lostEach {
		m.Skip(scanner.NoteAt(outer, fmt.Sprintf("%d more git pack objects are deltas against bases not in this file (thin pack): only the bytes they insert were scanned", l.notes-lostEach)))
	}
}
