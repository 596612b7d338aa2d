package gitfile

import (
	"container/list"
	"encoding/binary"
	"sort"
)

// maxEntries bounds how many objects of one pack are recorded (offset,
// type, base, id: about 80 bytes each), so that any of them can be
// inflated again when a delta needs it as a base. 4M objects cost about
// 320 MB; past that, a delta whose base is not in memory is an error.
const maxEntries = 4 << 20

// object is one decoded object kept in memory as a possible delta base.
type object struct {
	off  int64
	typ  objType
	data []byte
	el   *list.Element
}

// cache holds decoded objects up to max bytes, least recently used first
// out: what it holds costs no time to use as a base; what it dropped is
// inflated again from the spool.
type cache struct {
	max, size int64
	lru       *list.List // of *object, oldest first
	byOff     map[int64]*object
}

func newCache(max int64) *cache {
	return &cache{max: max, lru: list.New(), byOff: map[int64]*object{}}
}

// keep holds o if it fits, evicting the least recently used objects.
func (c *cache) keep(o *object) {
	n := int64(len(o.data))
	if n > c.max || c.byOff[o.off] != nil {
		return
	}
	for c.size+n > c.max {
		old := c.lru.Front().Value.(*object)
		c.lru.Remove(old.el)
		delete(c.byOff, old.off)
		c.size -= int64(len(old.data))
	}
	o.el = c.lru.PushBack(o)
	c.byOff[o.off] = o
	c.size += n
}

// at returns the held object at off, marking it recently used.
func (c *cache) at(off int64) *object {
	o := c.byOff[off]
	if o != nil {
		c.lru.MoveToBack(o.el)
	}
	return o
}

// state is what became of a pack entry.
type state uint8

const (
	stReading  state = iota // being read
	stBuilt                 // decoded (and scanned); its id is known
	stWaiting               // a delta waiting for its base
	stLost                  // could not be rebuilt, for a reason an error names
	stLostThin              // could not be rebuilt: its base is not in the file
)

// entry is what is recorded of each object of the pack as it passes.
type entry struct {
	off  int64  // where the entry starts
	base int64  // a delta's base entry offset (-1: a REF_DELTA's base not met)
	size uint64 // declared inflated size (of the delta, for a delta)
	hdr  uint8  // header length: the zlib stream starts at off+hdr
	typ  objType
	kind objType // the object's type, once built
	st   state
}

// index records every entry of the pack, in pack order (offsets grow),
// and the ids of those built, up to maxEntries.
type index struct {
	hashLen int
	entries []entry
	ids     []byte           // hashLen bytes per entry, zero until built
	byID    map[uint64]int32 // by the id's first 8 bytes
	collide map[string]int32 // ids whose first 8 bytes were taken
	full    bool
}

func newIndex(hashLen int) *index {
	return &index{hashLen: hashLen, byID: map[uint64]int32{}, collide: map[string]int32{}}
}

// add records an entry and returns its number, -1 past maxEntries.
func (x *index) add(e entry) int32 {
	if len(x.entries) >= maxEntries {
		x.full = true
		return -1
	}
	x.entries = append(x.entries, e)
	x.ids = append(x.ids, make([]byte, x.hashLen)...)
	return int32(len(x.entries) - 1)
}

// at returns the number of the entry starting at off, -1 when none is
// recorded there.
func (x *index) at(off int64) int32 {
	i := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].off >= off })
	if i < len(x.entries) && x.entries[i].off == off {
		return int32(i)
	}
	return -1
}

// past reports whether off lies beyond the recorded entries of a full
// index (so an object there may exist, unrecorded).
func (x *index) past(off int64) bool {
	return x.full && (len(x.entries) == 0 || off > x.entries[len(x.entries)-1].off)
}

// built records that entry i was decoded as an object of type kind with
// id (raw bytes).
func (x *index) built(i int32, kind objType, id string) {
	if i < 0 {
		return
	}
	e := &x.entries[i]
	e.st, e.kind = stBuilt, kind
	if len(id) != x.hashLen {
		return
	}
	copy(x.ids[int(i)*x.hashLen:], id)
	k := binary.BigEndian.Uint64([]byte(id[:8]))
	if j, ok := x.byID[k]; !ok {
		x.byID[k] = i
	} else if x.id(j) != id {
		x.collide[id] = i
	}
}

// id returns entry i's id, raw.
func (x *index) id(i int32) string {
	return string(x.ids[int(i)*x.hashLen : int(i+1)*x.hashLen])
}

// withID returns the number of the built entry with id, -1 when none.
func (x *index) withID(id string) int32 {
	if len(id) != x.hashLen {
		return -1
	}
	if j, ok := x.byID[binary.BigEndian.Uint64([]byte(id[:8]))]; ok && x.id(j) == id {
		return j
	}
	if j, ok := x.collide[id]; ok {
		return j
	}
	return -1
}

// pending is a delta whose base is not built yet: a REF_DELTA whose base
// may come later in the pack (base), or a delta whose base is itself a
// waiting delta (baseOff). delta holds its bytes only when the spool does
// not (they are inflated again when the base is met).
type pending struct {
	idx     int32
	off     int64
	base    string
	baseOff int64
	delta   []byte
}

// waitRoom holds the waiting deltas. Those the spool covers cost their
// record only; the bytes of the others are capped at max.
type waitRoom struct {
	max, size int64
	byID      map[string][]pending // by base id
	byOff     map[int64][]pending  // by base offset
	at        map[int64]pending    // every waiting delta, by its offset
}

func newWaitRoom(max int64) *waitRoom {
	return &waitRoom{max: max, byID: map[string][]pending{}, byOff: map[int64][]pending{}, at: map[int64]pending{}}
}

// add keeps d until its base is met; false when its bytes do not fit.
func (w *waitRoom) add(d pending) bool {
	n := int64(len(d.delta))
	if w.size+n > w.max {
		return false
	}
	if d.base != "" {
		w.byID[d.base] = append(w.byID[d.base], d)
	} else {
		w.byOff[d.baseOff] = append(w.byOff[d.baseOff], d)
	}
	w.at[d.off] = d
	w.size += n
	return true
}

// release removes and returns the deltas waiting for the object with id
// at off.
func (w *waitRoom) release(id string, off int64) []pending {
	ps := append(w.byID[id], w.byOff[off]...)
	delete(w.byID, id)
	delete(w.byOff, off)
	for _, p := range ps {
		delete(w.at, p.off)
		w.size -= int64(len(p.delta))
	}
	return ps
}

// drain removes and returns every waiting delta, in pack order.
func (w *waitRoom) drain() []pending {
	all := make([]pending, 0, len(w.at))
	for _, p := range w.at {
		all = append(all, p)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].off < all[j].off })
	clear(w.byID)
	clear(w.byOff)
	clear(w.at)
	w.size = 0
	return all
}

// roots maps every waiting delta to the id of the base its chain of
// waiting deltas waits for ("" when the chain is broken). OFS_DELTA bases
// lie before their delta, so chains have no cycles; each delta is walked
// once.
func (w *waitRoom) roots() map[int64]string {
	out := make(map[int64]string, len(w.at))
	var path []int64
	for _, d := range w.at {
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
			next, ok := w.at[d.baseOff]
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
