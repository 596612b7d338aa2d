package gitfile

import (
	"container/list"
	"sort"
)

// maxSeen bounds how many objects' offsets and ids are remembered to tell
// "this base was in the pack but is no longer held" (an error: more
// memory would rebuild it) from "this base is not in the file" (a thin
// pack: a note). 8M objects cost 224 MB; past that an unknown base is
// reported as an error, the safe side.
const maxSeen = 8 << 20

// object is one decoded object kept as a possible delta base.
type object struct {
	off  int64
	id   string // raw id bytes
	typ  objType
	data []byte
	el   *list.Element
}

// pending is a delta whose base is not held: a REF_DELTA whose base may
// come later in the pack (base), or an OFS_DELTA whose base is itself a
// waiting delta (baseOff).
type pending struct {
	off     int64
	base    string
	baseOff int64
	delta   []byte
}

// held is the bounded memory of one pack: decoded objects, least recently
// used first out, and REF_DELTAs waiting for a base that may come later.
type held struct {
	max, size int64
	lru       *list.List // of *object, oldest first
	byOff     map[int64]*object
	byID      map[string]*object

	waiting     map[string][]pending // by base id
	waitOff     map[int64][]pending  // by base offset
	waitingAt   map[int64]pending    // every waiting delta, by its offset
	waitingSize int64

	// seenOff and seenIDs record every object read, in pack order
	// (offsets grow), up to maxSeen; overflow is set past that.
	seenOff  []int64
	seenIDs  []byte
	overflow bool
}

func newHeld(max int64) *held {
	return &held{max: max, lru: list.New(), byOff: map[int64]*object{}, byID: map[string]*object{},
		waiting: map[string][]pending{}, waitOff: map[int64][]pending{}, waitingAt: map[int64]pending{}}
}

// seen records that an object started at off (id may be empty when it
// could not be computed).
func (h *held) seen(off int64, id string, hashLen int) {
	if len(h.seenOff) >= maxSeen {
		h.overflow = true
		return
	}
	h.seenOff = append(h.seenOff, off)
	if id == "" {
		id = string(make([]byte, hashLen))
	}
	h.seenIDs = append(h.seenIDs, id...)
}

// wasAt reports whether an object started at off.
func (h *held) wasAt(off int64) bool {
	i := sort.Search(len(h.seenOff), func(i int) bool { return h.seenOff[i] >= off })
	return i < len(h.seenOff) && h.seenOff[i] == off
}

// keep holds o if it fits, evicting the least recently used objects.
func (h *held) keep(o *object) {
	n := int64(len(o.data))
	if n > h.max {
		return
	}
	for h.size+n > h.max {
		h.drop(h.lru.Front().Value.(*object))
	}
	o.el = h.lru.PushBack(o)
	h.byOff[o.off] = o
	if o.id != "" {
		h.byID[o.id] = o
	}
	h.size += n
}

func (h *held) drop(o *object) {
	h.lru.Remove(o.el)
	delete(h.byOff, o.off)
	if h.byID[o.id] == o {
		delete(h.byID, o.id)
	}
	h.size -= int64(len(o.data))
}

// at returns the held object at off, marking it recently used.
func (h *held) at(off int64) *object { return h.touch(h.byOff[off]) }

// withID returns the held object with id, marking it recently used.
func (h *held) withID(id string) *object { return h.touch(h.byID[id]) }

func (h *held) touch(o *object) *object {
	if o != nil {
		h.lru.MoveToBack(o.el)
	}
	return o
}

// wait keeps a delta until its base is met; false when the waiting room
// (a quarter of max) is full.
func (h *held) wait(p pending) bool {
	n := int64(len(p.delta))
	if h.waitingSize+n > h.max/4 {
		return false
	}
	if p.base != "" {
		h.waiting[p.base] = append(h.waiting[p.base], p)
	} else {
		h.waitOff[p.baseOff] = append(h.waitOff[p.baseOff], p)
	}
	h.waitingAt[p.off] = p
	h.waitingSize += n
	return true
}

// waitsAt reports whether the delta at off is waiting for its base.
func (h *held) waitsAt(off int64) bool {
	_, ok := h.waitingAt[off]
	return ok
}

// waitingFor removes and returns the deltas waiting for the object with
// id at off.
func (h *held) waitingFor(id string, off int64) []pending {
	ps := append(h.waiting[id], h.waitOff[off]...)
	delete(h.waiting, id)
	delete(h.waitOff, off)
	for _, p := range ps {
		delete(h.waitingAt, p.off)
		h.waitingSize -= int64(len(p.delta))
	}
	return ps
}

// drain removes and returns every waiting delta.
func (h *held) drain() []pending {
	all := make([]pending, 0, len(h.waitingAt))
	for _, p := range h.waitingAt {
		all = append(all, p)
	}
	clear(h.waiting)
	clear(h.waitOff)
	clear(h.waitingAt)
	h.waitingSize = 0
	return all
}

// roots maps every waiting delta to the id of the base its chain of
// waiting deltas waits for ("" when the chain is broken). OFS_DELTA bases
// lie before their delta, so chains have no cycles; each delta is walked
// once.
func (h *held) roots() map[int64]string {
	out := make(map[int64]string, len(h.waitingAt))
	var path []int64
	for _, d := range h.waitingAt {
		path = path[:0]
		root := ""
		for {
			if r, ok := out[d.off]; ok {
				root = r
				break
			}
			path = append(path, d.off)
			if d.base != "" {
				root = d.base
				break
			}
			next, ok := h.waitingAt[d.baseOff]
			if !ok || next.off >= d.off {
				break
			}
			d = next
		}
		for _, o := range path {
			out[o] = root
		}
	}
	return out
}

// inPack reports, for the bases still waited for at the end of the pack,
// whether an object with that id was read (so it was in the pack but is
// no longer held). known is false when the record overflowed.
func (h *held) inPack(hashLen int) (in map[string]bool, known bool) {
	in = map[string]bool{}
	for i := 0; i+hashLen <= len(h.seenIDs); i += hashLen {
		if _, ok := h.waiting[string(h.seenIDs[i:i+hashLen])]; ok {
			in[string(h.seenIDs[i:i+hashLen])] = true
		}
	}
	return in, !h.overflow
}
