package gitsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// cacheBudget bounds the bytes of resolved delta bases held between the
// moment a base is resolved and the moment its last delta has used it. The
// send order (each family depth-first, see lanes) keeps the real figure far
// lower: about one delta chain per lane.
const cacheBudget = 256 << 20

// node is one entry of a pack, as the full audit streams it.
type node struct {
	hash    plumbing.Hash
	off     int64
	dataOff int64
	end     int64 // end of the compressed data
	size    int64 // inflated size (of the delta, for deltas)
	kind    int8  // type in the pack header
	typ     int8  // resolved type, from the family's base
	emit    bool  // first copy of this object in the store: scan it
	base    int32 // index of the delta base in this pack; noBase, or extBase
	err     error // header problem: the object cannot be read

	mu       sync.Mutex
	content  []byte // resolved content, held while pending > 0
	resErr   error
	released bool // whether this node has released its one use of its base
	pending  atomic.Int32
}

const (
	noBase  = -1
	extBase = -2 // a ref-delta whose base lives elsewhere in the store
)

// packStream resolves the objects of one pack for the engine's workers.
type packStream struct {
	s      *Source
	p      *pack
	nodes  []node
	kids   []int32 // children of node i: kids[kidAt[i]:kidAt[i+1]]
	kidAt  []int32
	ext    map[int32]plumbing.Hash
	cached *atomic.Int64
}

func (ps *packStream) children(i int32) []int32 { return ps.kids[ps.kidAt[i]:ps.kidAt[i+1]] }

// fullItems streams every object of the store to the engine.
func (s *Source) fullItems(ctx context.Context, feed scanner.Feed) error {
	return s.streamItems(ctx, feed, nil)
}

// streamItems streams the store's objects to the engine: all of them, or
// with want set only those it accepts (the blobs a long range introduced;
// the others are then only resolved as delta bases).
func (s *Source) streamItems(ctx context.Context, feed scanner.Feed, want map[plumbing.Hash]bool) error {
	var cached atomic.Int64
	var streams []*packStream
	var total int64
	for pi, p := range s.st.packs {
		ps, err := s.indexPack(pi, p, &cached, want)
		if err != nil {
			feed.Skip(scanner.Skipped{Path: relPack(p.path), Reason: err.Error(), Kind: scanner.KindError})
			continue
		}
		// A truncated pack fails every entry past the cut: list the
		// first ones, summarise the rest.
		bad := 0
		for i := range ps.nodes {
			n := &ps.nodes[i]
			if n.err != nil && n.emit {
				bad++
				if bad > s.opts.MaxSkipped {
					n.emit = false
					n.pending.Add(-1)
				}
			}
			if n.emit {
				total++
			}
		}
		if bad > s.opts.MaxSkipped {
			feed.Skip(scanner.Skipped{Path: relPack(p.path), Reason: fmt.Sprintf("%d more unreadable objects in this pack are not listed one by one", bad-s.opts.MaxSkipped), Kind: scanner.KindError})
		}
		streams = append(streams, ps)
	}
	type looseObj struct {
		h    plumbing.Hash
		path string
	}
	var loose []looseObj
	for _, h := range sortedHashes(s.st.loose) {
		if (want != nil && !want[h]) || s.inPacks(h, len(s.st.packs)) {
			continue // not asked for, or the packed copy is scanned
		}
		loose = append(loose, looseObj{h, s.st.loose[h]})
	}
	feed.Expect(total + int64(len(loose)))

	for _, ps := range streams {
		if err := ps.send(ctx, feed); err != nil {
			return err
		}
	}
	for _, lo := range loose {
		typ, size, err := looseType(lo.path)
		if err != nil {
			feed.Skip(scanner.Skipped{Path: lo.h.String(), Reason: fmt.Sprintf("loose object %s: %v", lo.path, err), Kind: scanner.KindError})
			continue
		}
		h, path := lo.h, lo.path
		it := itemFor(h, typ, size, func() (io.ReadCloser, error) {
			t, data, err := readLoose(path)
			if err != nil {
				if rc, ok := s.salvageBlob(h, t, data, err); ok {
					return rc, nil
				}
				return nil, fmt.Errorf("reading loose object %s: %w", path, err)
			}
			return s.finishObject(h, t, data)
		})
		if err := feed.Send(ctx, it); err != nil {
			return err
		}
	}
	return nil
}

// inPacks reports whether h is in one of the first n packs.
func (s *Source) inPacks(h plumbing.Hash, n int) bool {
	for _, p := range s.st.packs[:n] {
		if ok, _ := p.idx.Contains(h); ok {
			return true
		}
	}
	return false
}

// indexPack reads a pack's index and every entry's header (a few bytes at
// each offset, read in large sequential windows), links each delta to its
// base and types every family from its base. Each is a step of its own.
func (s *Source) indexPack(pi int, p *pack, cached *atomic.Int64, want map[plumbing.Hash]bool) (*packStream, error) {
	ps := &packStream{s: s, p: p, nodes: make([]node, 0, p.n), ext: map[int32]plumbing.Hash{}, cached: cached}
	if err := ps.readIndexOrder(); err != nil {
		return nil, err
	}
	if err := ps.readHeaders(pi, want); err != nil {
		return nil, err
	}
	ps.linkChildren()
	ps.typeFamilies()
	return ps, nil
}

// readIndexOrder lists the pack's objects from its index, by offset.
func (ps *packStream) readIndexOrder() error {
	it, err := ps.p.idx.EntriesByOffset()
	if err != nil {
		return fmt.Errorf("reading pack index: %w", err)
	}
	defer it.Close()
	for {
		e, err := it.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading pack index: %w", err)
		}
		ps.nodes = append(ps.nodes, node{hash: e.Hash, off: int64(e.Offset), base: noBase})
	}
}

// offIndex is the node starting at offset off, or -1.
func (ps *packStream) offIndex(off int64) int32 {
	nodes := ps.nodes
	i := sort.Search(len(nodes), func(i int) bool { return nodes[i].off >= off })
	if i < len(nodes) && nodes[i].off == off {
		return int32(i)
	}
	return -1
}

// readHeaders reads every entry's header through a sliding window and
// records its kind, size and base. An object is emitted when wanted and
// not in an earlier pack (pi is this pack's index).
func (ps *packStream) readHeaders(pi int, want map[plumbing.Hash]bool) error {
	p, s, nodes := ps.p, ps.s, ps.nodes
	const win = 1 << 20
	buf := make([]byte, win)
	var wStart, wEnd int64 = 0, 0
	for i := range nodes {
		n := &nodes[i]
		n.end = p.size - 20
		if i+1 < len(nodes) {
			n.end = nodes[i+1].off
		}
		n.emit = (want == nil || want[n.hash]) && (pi == 0 || !s.inPacks(n.hash, pi))
		if n.off < 12 || n.off >= p.size-20 {
			n.err = fmt.Errorf("%s: offset %d is outside the pack (truncated pack?)", p.name, n.off)
			continue
		}
		if n.off+32 > wEnd && wEnd < p.size {
			wStart = n.off
			m, err := p.f.ReadAt(buf, wStart)
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading %s: %w", p.name, err)
			}
			wEnd = wStart + int64(m)
		}
		hdr, err := parseHeader(buf[n.off-wStart:wEnd-wStart], n.off)
		if err != nil {
			n.err = fmt.Errorf("%s: %w", p.name, err)
			continue
		}
		n.kind, n.size, n.dataOff = hdr.kind, hdr.size, hdr.dataOff
		ps.linkBase(int32(i), hdr)
	}
	return nil
}

// linkBase records node i's delta base: a node of this pack (by offset or
// by id), an object elsewhere in the store (extBase), or an error when the
// base is nowhere. A whole object is its own family's type.
func (ps *packStream) linkBase(i int32, hdr objHeader) {
	n, p := &ps.nodes[i], ps.p
	switch hdr.kind {
	case typOfsDelta:
		if b := ps.offIndex(hdr.baseOff); b >= 0 && b != i {
			n.base = b
		} else {
			n.err = fmt.Errorf("%s: delta at offset %d names a base at offset %d where no object starts", p.name, n.off, hdr.baseOff)
		}
	case typRefDelta:
		if off, err := p.idx.FindOffset(hdr.baseHash); err == nil {
			if b := ps.offIndex(off); b >= 0 && b != i {
				n.base = b
				return
			}
		}
		if ps.s.st.has(hdr.baseHash) {
			n.base = extBase
			ps.ext[i] = hdr.baseHash
		} else {
			n.err = fmt.Errorf("%s: delta base %s is missing", p.name, hdr.baseHash)
		}
	default:
		n.typ = hdr.kind
	}
}

// linkChildren builds the children lists (CSR: kidAt, kids) and each
// node's pending count: its deltas, plus one when it is itself emitted.
func (ps *packStream) linkChildren() {
	nodes := ps.nodes
	ps.kidAt = make([]int32, len(nodes)+1)
	for i := range nodes {
		if b := nodes[i].base; b >= 0 {
			ps.kidAt[b+1]++
		}
	}
	for i := 1; i <= len(nodes); i++ {
		ps.kidAt[i] += ps.kidAt[i-1]
	}
	ps.kids = make([]int32, len(nodes))
	fill := make([]int32, len(nodes))
	for i := range nodes {
		if b := nodes[i].base; b >= 0 {
			ps.kids[ps.kidAt[b]+fill[b]] = int32(i)
			fill[b]++
		}
	}
	ps.kids = ps.kids[:ps.kidAt[len(nodes)]]
	for i := range nodes {
		n := &nodes[i]
		pend := int32(len(ps.children(int32(i))))
		if n.emit {
			pend++
		}
		n.pending.Store(pend)
	}
}

// typeFamilies types every family from its base; whatever a walk from the
// bases does not reach sits on a delta cycle (a corrupt pack).
func (ps *packStream) typeFamilies() {
	nodes, p := ps.nodes, ps.p
	seen := make([]bool, len(nodes))
	var stack []int32
	for i := range nodes {
		n := &nodes[i]
		if n.base >= 0 {
			continue
		}
		if n.base == extBase {
			t, _, err := ps.s.st.read(ps.ext[int32(i)])
			if err != nil {
				n.err = fmt.Errorf("%s: delta base %s: %w", p.name, ps.ext[int32(i)], err)
			}
			n.typ = t
		}
		seen[i] = true
		stack = append(stack[:0], int32(i))
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, k := range ps.children(j) {
				nodes[k].typ = nodes[j].typ
				seen[k] = true
				stack = append(stack, k)
			}
		}
	}
	for i := range nodes {
		if !seen[i] && nodes[i].err == nil {
			nodes[i].err = fmt.Errorf("%s: object at offset %d is on a delta cycle", p.name, nodes[i].off)
		}
	}
}

// lane walks delta families depth-first, so a base is resolved just before
// its deltas and dropped soon after. Several lanes are interleaved so that
// the objects in flight at any moment belong to different families and
// resolve in parallel.
type lane struct {
	stack []int32
}

// send hands the pack's objects to the engine, interleaving lanes. Each
// lane takes the next family when it runs dry; when no family is left, it
// steals the oldest pending subtree of the busiest lane, so one huge family
// does not end the scan on a single worker.
func (ps *packStream) send(ctx context.Context, feed scanner.Feed) error {
	var roots []int32
	for i := range ps.nodes {
		if ps.nodes[i].base < 0 {
			roots = append(roots, int32(i))
		}
	}
	nl := 2 * runtime.GOMAXPROCS(0)
	lanes := make([]lane, nl)
	next := 0
	pop := func(l *lane) (int32, bool) {
		if len(l.stack) == 0 {
			if next < len(roots) {
				l.stack = append(l.stack, roots[next])
				next++
			} else {
				// Steal the bottom of the deepest stack.
				var best *lane
				for k := range lanes {
					if len(lanes[k].stack) > 1 && (best == nil || len(lanes[k].stack) > len(best.stack)) {
						best = &lanes[k]
					}
				}
				if best == nil {
					return 0, false
				}
				l.stack = append(l.stack, best.stack[0])
				best.stack = best.stack[1:]
			}
		}
		i := l.stack[len(l.stack)-1]
		l.stack = l.stack[:len(l.stack)-1]
		kids := ps.children(i)
		for k := len(kids) - 1; k >= 0; k-- {
			l.stack = append(l.stack, kids[k])
		}
		return i, true
	}
	for {
		progressed := false
		for li := range lanes {
			i, ok := pop(&lanes[li])
			if !ok {
				continue
			}
			progressed = true
			n := &ps.nodes[i]
			if !n.emit {
				continue
			}
			idx := i
			it := itemFor(n.hash, n.typ, -1, func() (io.ReadCloser, error) { return ps.open(idx) })
			if n.typ == typBlob && n.base == noBase {
				it.Size = n.size
			}
			if err := feed.Send(ctx, it); err != nil {
				return err
			}
		}
		if !progressed {
			return nil
		}
	}
}

// open is an item's Open: it resolves the object on the calling worker.
func (ps *packStream) open(i int32) (io.ReadCloser, error) {
	n := &ps.nodes[i]
	if n.err != nil {
		return nil, n.err
	}
	if n.typ == typBlob && n.base == noBase && len(ps.children(i)) == 0 {
		// A whole blob nothing depends on: stream it, however large,
		// without holding it in memory.
		rc, err := ps.p.stream(n.dataOff, n.end, n.size)
		if err != nil {
			return nil, err
		}
		return ps.s.salvaging(n.hash, rc), nil
	}
	data, err := ps.content(i)
	ps.release(i)
	if err != nil {
		// A damaged whole blob: what was decompressed is scanned. A
		// delta that needed it first kept only the error: inflate again.
		if data == nil && n.err == nil && n.base == noBase && n.typ == typBlob {
			data, _ = ps.p.inflateAt(n.dataOff, n.end, n.size)
		}
		if rc, ok := ps.s.salvageBlob(n.hash, n.typ, data, err); ok {
			return rc, nil
		}
		return nil, err
	}
	return ps.s.finishObject(n.hash, n.typ, data)
}

// content returns node i's resolved content, resolving its base first if
// needed. The content is kept for later users while some remain (pending
// counts the node's own scan and each delta on it) and the budget allows.
// Locks are only ever taken from a delta towards its base, so the forest
// of families cannot deadlock.
func (ps *packStream) content(i int32) ([]byte, error) {
	n := &ps.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.content != nil {
		return n.content, nil
	}
	if n.resErr != nil {
		return nil, n.resErr
	}
	if n.err != nil {
		n.resErr = n.err
		return nil, n.err
	}
	var data []byte
	var err error
	switch n.base {
	case noBase:
		// On error, data holds what was decompressed: returned (not
		// kept) so that a damaged blob's readable part is scanned.
		data, err = ps.p.inflateAt(n.dataOff, n.end, n.size)
		if err != nil {
			err = fmt.Errorf("%s at offset %d: %w", ps.p.name, n.off, err)
		}
	default:
		var base []byte
		if n.base == extBase {
			_, base, err = ps.s.st.read(ps.ext[i])
		} else {
			base, err = ps.content(n.base)
			if !n.released {
				n.released = true
				ps.release(n.base)
			}
		}
		if err != nil {
			err = fmt.Errorf("delta base of %s: %w", n.hash, err)
			break
		}
		var delta []byte
		delta, err = ps.p.inflateAt(n.dataOff, n.end, n.size)
		if err == nil {
			data, err = applyDelta(base, delta)
		}
		if err != nil {
			data = nil // half a delta says nothing about the object
			err = fmt.Errorf("%s at offset %d: %w", ps.p.name, n.off, err)
		}
	}
	if err != nil {
		n.resErr = err
		return data, err
	}
	if n.pending.Load() > 1 && ps.cached.Load() < cacheBudget {
		n.content = data
		ps.cached.Add(int64(len(data)))
	}
	return data, nil
}

// release records that one user of node i is done with its content.
func (ps *packStream) release(i int32) {
	n := &ps.nodes[i]
	if n.pending.Add(-1) > 0 {
		return
	}
	n.mu.Lock()
	if n.content != nil {
		ps.cached.Add(-int64(len(n.content)))
		n.content = nil
	}
	n.mu.Unlock()
}
