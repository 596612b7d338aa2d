package gitfile

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/xaiscan/xaiscan/scanner"
)

// delta reads a delta entry and resolves it.
func (p *pack) delta(d pending, size uint64) error {
	if size > uint64(p.max) {
		// Read through to reach the next entry; nothing can be built.
		b, err := p.open(size, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, b)
		}
		if err != nil {
			return err
		}
		p.drop(d, stLost)
		p.lose(d.off, false, fmt.Sprintf("is a %d-byte delta, over the memory cap of %d bytes for delta bases: not rebuilt, not scanned", size, p.max))
		return nil
	}
	delta, err := p.inflate(size, nil)
	if err != nil {
		return err
	}
	d.delta = delta
	return p.resolve(d)
}

// resolve rebuilds delta d when its base is built (held in memory, or
// rebuilt from the spool), makes it wait when its base may still come,
// and gives it up otherwise.
func (p *pack) resolve(d pending) error {
	if d.base != "" {
		bi := p.index.withID(d.base)
		if bi < 0 {
			// The base may come later, or never (a thin pack).
			return p.park(d)
		}
		d.baseOff = p.index.entries[bi].off
		if d.idx >= 0 {
			p.index.entries[d.idx].base = d.baseOff
		}
	}
	base, m := p.baseAt(d.baseOff)
	switch {
	case base != nil:
		return p.rebuild(d, base)
	case m.wait:
		return p.park(d)
	case m.damage:
		return p.corrupt(d, damaged("corrupt git pack: delta at offset %d names a base at offset %d where no object starts", d.off, d.baseOff))
	}
	return p.giveUp(d, m.thin, m.why)
}

// miss is why a base could not be had now: it is a delta still waiting,
// no object starts there (damage), or it cannot be rebuilt (why; thin
// when its own chain leads out of the file).
type miss struct {
	wait, damage, thin bool
	why                string
}

// baseAt returns the object at off as a base: from memory, or rebuilt
// from the spool when memory no longer holds it.
func (p *pack) baseAt(off int64) (*object, miss) {
	if o := p.cache.at(off); o != nil {
		return o, miss{}
	}
	i := p.index.at(off)
	if i < 0 {
		if p.index.past(off) {
			return nil, miss{why: fmt.Sprintf("is a delta against the object at offset %d, which is not held in memory, and lies past the first %d objects, whose place is all the decoder records", off, maxEntries)}
		}
		return nil, miss{damage: true}
	}
	switch p.index.entries[i].st {
	case stWaiting:
		return nil, miss{wait: true}
	case stLostThin:
		return nil, miss{thin: true, why: fmt.Sprintf("is a delta against the object at offset %d, itself a delta against a base not in this file (a thin pack): only the bytes the delta inserts were scanned", off)}
	case stLost:
		return nil, miss{why: fmt.Sprintf("is a delta against the object at offset %d, which could not be rebuilt: only the bytes the delta inserts were scanned", off)}
	case stReading:
		return nil, miss{damage: true}
	}
	o, err := p.rebuildAt(i)
	if err != nil {
		return nil, miss{why: fmt.Sprintf("is a delta against the object at offset %d, which is not held in memory and could not be rebuilt (%v): only the bytes the delta inserts were scanned", off, err)}
	}
	return o, miss{}
}

// park makes d wait for its base. A delta the spool covers waits as its
// record only; its bytes are inflated again when the base is met.
func (p *pack) park(d pending) error {
	if d.idx >= 0 && p.spool.has(p.packStart+p.entryEnd(d.idx)) {
		d.delta = nil
	}
	if p.wait.add(d) {
		p.setState(d.idx, stWaiting)
		return nil
	}
	return p.giveUp(d, false, "is a delta whose base is not met yet, and the deltas waiting for a base reached the memory cap")
}

// setState records what became of entry i (when it is recorded).
func (p *pack) setState(i int32, st state) {
	if i >= 0 {
		p.index.entries[i].st = st
	}
}

// drop records that d will not be built, and queues the deltas waiting
// for it, which then inherit its fate.
func (p *pack) drop(d pending, st state) {
	p.setState(d.idx, st)
	p.release("", d.off)
}

// giveUp records a delta that cannot be rebuilt and scans what it inserts.
// thin is set when the base is not in the file: no tool could rebuild it
// from this file, so it is a note; otherwise it is an error.
func (p *pack) giveUp(d pending, thin bool, why string) error {
	st := stLost
	if thin {
		st = stLostThin
	}
	p.drop(d, st)
	p.lose(d.off, thin, why)
	return p.inserted(d)
}

// corrupt records a delta that is damaged: the damage is returned at the
// end, and what the delta inserts is scanned.
func (p *pack) corrupt(d pending, err error) error {
	p.drop(d, stLost)
	p.harmed(err)
	return p.inserted(d)
}

// inserted scans the bytes a delta inserts, joined where the delta
// inserts them next to each other and cut by a newline where it copies
// from its base, so a key added by an edit is found without the base.
func (p *pack) inserted(d pending) error {
	delta, err := p.deltaBytes(d)
	if err != nil {
		p.lose(d.off, false, fmt.Sprintf("is a delta whose bytes could not be inflated again (%v): not scanned", err))
		return nil
	}
	var out []byte
	copied := false
	_, err = walkDelta(delta, deltaBaseSize(delta), func(b []byte) {
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

// rebuild builds the object d describes from its base. The delta is
// checked first and its result size compared with the cap, before any
// allocation: a delta declaring gigabytes, or a chain of deltas each
// multiplying its base, costs at most the cap per object, and everything
// built is scanned (so charged to the engine's budget).
func (p *pack) rebuild(d pending, base *object) error {
	delta, err := p.deltaBytes(d)
	if err != nil {
		d.delta = nil
		p.drop(d, stLost)
		p.lose(d.off, false, fmt.Sprintf("is a delta whose bytes could not be inflated again (%v): not rebuilt, not scanned", err))
		return nil
	}
	d.delta = delta
	result, err := walkDelta(delta, uint64(len(base.data)), nil)
	if err != nil {
		return p.corrupt(d, damaged("corrupt git pack: delta at offset %d: %v", d.off, err))
	}
	if result > uint64(p.max) {
		return p.giveUp(d, false, fmt.Sprintf("is a delta whose result is %d bytes, over the memory cap of %d bytes: not rebuilt, only its inserted bytes scanned", result, p.max))
	}
	data, err := applyDelta(base.data, delta)
	if err != nil {
		return p.corrupt(d, damaged("corrupt git pack: delta at offset %d: %v", d.off, err))
	}
	h := p.hasher(base.typ, uint64(len(data)))
	h.Write(data)
	return p.found(d.idx, string(h.Sum(nil)), &object{off: d.off, typ: base.typ, data: data})
}

// release queues the deltas that waited for the object with id at off
// (id is empty when that object will not be built). They are resolved by
// rebuildQueued, in a loop rather than by recursion: a chain of waiting
// deltas may be long.
func (p *pack) release(id string, off int64) {
	if len(p.wait.at) == 0 {
		return
	}
	p.queue = append(p.queue, p.wait.release(id, off)...)
}

// rebuildQueued resolves the released deltas; their base is looked up
// again (not kept alive by the queue, so memory stays within the cap).
func (p *pack) rebuildQueued() error {
	for len(p.queue) > 0 {
		d := p.queue[len(p.queue)-1]
		p.queue = p.queue[:len(p.queue)-1]
		if err := p.resolve(d); err != nil {
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

// finish resolves what is queued, gives up the deltas still waiting for
// a base at the end of the pack (thin when their base was never read),
// then returns err. A stop for another reason (the budget spent, the scan
// cancelled) ends the read at once: nothing more may be handed to the
// engine.
func (p *pack) finish(err error) error {
	if err != nil && !errors.Is(err, scanner.ErrMalformed) {
		return err
	}
	if qerr := p.rebuildQueued(); qerr != nil {
		return qerr
	}
	if len(p.wait.at) > 0 {
		if ferr := p.giveUpWaiting(); ferr != nil {
			return ferr
		}
	}
	p.lost.flush(p.m, p.outer)
	return err
}

// giveUpWaiting gives up the deltas whose base was never met: the pack is
// thin (or cut short). When the index is full, a base may have been met
// unrecorded, so that is an error, the safe side.
func (p *pack) giveUpWaiting() error {
	roots := p.wait.roots()
	for _, d := range p.wait.drain() {
		root := roots[d.off]
		if p.index.full {
			if err := p.giveUp(d, false, fmt.Sprintf("is a delta against %s, which is not among the first %d objects of the pack, whose ids are all the decoder records: only the bytes the delta inserts were scanned", hex.EncodeToString([]byte(root)), maxEntries)); err != nil {
				return err
			}
			continue
		}
		if err := p.giveUp(d, true, thinReason(root, p.done < p.count)); err != nil {
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
