package gitfile

import (
	"bufio"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
)

// maxChain bounds the deltas walked to rebuild one base: git writes
// chains of at most 4095 (pack.depth's ceiling).
const maxChain = 4096

// reread inflates entries again from the spool, charging what it
// inflates and builds against max.
type reread struct {
	max, used int64
	br        *bufio.Reader
	z         io.ReadCloser
}

// take charges n bytes; false when that would pass the cap.
func (r *reread) take(n uint64) bool {
	if n > uint64(r.max-r.used) {
		return false
	}
	r.used += int64(n)
	return true
}

// inflate reads one entry's zlib stream of size bytes from src.
func (r *reread) inflate(src io.Reader, size uint64) ([]byte, error) {
	if r.br == nil {
		r.br = bufio.NewReaderSize(src, 32<<10)
	} else {
		r.br.Reset(src)
	}
	var err error
	if r.z == nil {
		r.z, err = zlib.NewReader(r.br)
	} else {
		err = r.z.(zlib.Resetter).Reset(r.br, nil)
	}
	if err != nil {
		return nil, err
	}
	return io.ReadAll(&body{z: r.z, left: size})
}

// entryEnd is where entry i ends: where the next recorded one starts, or
// how far the pack has been read.
func (p *pack) entryEnd(i int32) int64 {
	if int(i)+1 < len(p.index.entries) {
		return p.index.entries[i+1].off
	}
	return p.c.n
}

// inflateAt inflates entry i's data (a whole object, or a delta) again
// from the spool.
func (p *pack) inflateAt(i int32) ([]byte, error) {
	e := p.index.entries[i]
	start, end := p.packStart+e.off+int64(e.hdr), p.packStart+p.entryEnd(i)
	if !p.spool.has(end) {
		return nil, errors.New(p.spool.why)
	}
	if !p.re.take(e.size) {
		return nil, p.re.spent()
	}
	return p.re.inflate(io.NewSectionReader(p.spool, start, end-start), e.size)
}

func (r *reread) spent() error {
	return fmt.Errorf("inflating objects again has cost this pack %d bytes, the cap", r.used)
}

// deltaBytes returns d's delta: held, or inflated again from the spool.
func (p *pack) deltaBytes(d pending) ([]byte, error) {
	if d.delta != nil || d.idx < 0 {
		return d.delta, nil
	}
	return p.inflateAt(d.idx)
}

// rebuildAt rebuilds built entry i, which memory no longer holds, as
// git's index-pack does: down its chain of deltas to an object still held
// or a whole object inflated again, then back up, each delta inflated
// again and applied. Every step is held in the cache, as a base for the
// next ones. It costs time, not memory beyond the cap: two objects of at
// most the cap at a time.
func (p *pack) rebuildAt(i int32) (*object, error) {
	base, chain, err := p.chainDown(i)
	if err != nil {
		return nil, err
	}
	for k := len(chain) - 1; k >= 0; k-- {
		e := p.index.entries[chain[k]]
		delta, err := p.inflateAt(chain[k])
		if err != nil {
			return nil, err
		}
		data, err := applyDelta(base.data, delta)
		if err != nil {
			return nil, fmt.Errorf("delta at offset %d: %w", e.off, err)
		}
		if !p.re.take(uint64(len(data))) {
			return nil, p.re.spent()
		}
		base = &object{off: e.off, typ: base.typ, data: data}
		p.cache.keep(base)
	}
	return base, nil
}

// chainDown walks from entry i down its deltas' bases to an object held
// in memory or a whole object (inflated again), and returns it with the
// deltas above it, i first.
func (p *pack) chainDown(i int32) (*object, []int32, error) {
	var chain []int32
	for cur := i; ; {
		e := p.index.entries[cur]
		if o := p.cache.at(e.off); o != nil {
			return o, chain, nil
		}
		switch {
		case e.st != stBuilt:
			return nil, nil, fmt.Errorf("the object at offset %d in its chain was not built", e.off)
		case e.typ != typOfsDelta && e.typ != typRefDelta:
			if e.size > uint64(p.max) {
				return nil, nil, fmt.Errorf("the object at offset %d is %d bytes, over the memory cap of %d bytes for delta bases", e.off, e.size, p.max)
			}
			data, err := p.inflateAt(cur)
			if err != nil {
				return nil, nil, err
			}
			o := &object{off: e.off, typ: e.typ, data: data}
			p.cache.keep(o)
			return o, chain, nil
		case len(chain) >= maxChain:
			return nil, nil, fmt.Errorf("its chain of deltas is deeper than %d", maxChain)
		}
		chain = append(chain, cur)
		if cur = p.index.at(e.base); cur < 0 {
			return nil, nil, fmt.Errorf("the base of the delta at offset %d is not recorded", e.off)
		}
	}
}
