package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrMalformed marks a container whose structure is damaged: truncated,
// corrupt, followed by garbage. Expanders return errors that match it
// (errors.Is) only after decoding every member they still could. Because
// the engine always scans a container's raw bytes as well, such a
// container is a note in the coverage account, not an error (DESIGN §3):
// no tool could read more of it.
var ErrMalformed = errors.New("malformed container")

// MaxNesting bounds how deep expanders may recurse, whatever they do: a
// container nested deeper is scanned as raw bytes only, an error.
const MaxNesting = 8

// level is where an item sits in its top-level item's chain of containers.
type level struct {
	parent *frame // the container the item is a member of; nil at the top
	chain  *chain
	depth  int // decodings above the item
	// anchor, when set, is where the item's findings are located: the
	// start of the encoded text it was decoded from.
	anchor *anchor
	// enc is the chain of decodings that produced the item.
	enc string
	// raw marks a view decoded from a container's own bytes.
	raw bool
}

// scanTop scans one item a source sent and records how its read ended.
// This and settle are the coverage account of the engine: every outcome
// of reading an item, its containers and their members becomes an error,
// a note or nothing here, by the rules of DESIGN §3.
func (r *run) scanTop(ctx context.Context, it Item) {
	if ctx.Err() != nil {
		return
	}
	switch it.Counts {
	case CountFile:
		r.files.Add(1)
	case CountBlob:
		r.blobs.Add(1)
	}
	ch := &chain{left: r.e.opts.MaxDecodedBytes, max: r.e.opts.MaxDecodedBytes}
	err := r.scanItem(ctx, it, level{chain: ch})
	if ch.spent {
		r.Skip(ErrorAt(displayPath(it), ch.reason(displayPath(it))))
	}
	if err == nil || errors.Is(err, errBudget) {
		return
	}
	reason := cleanReason(err)
	if errors.Is(err, context.Canceled) {
		reason = "scan interrupted before this was fully read"
	}
	r.Skip(ErrorAt(displayPath(it), reason))
}

// scanItem reads one item, expanding it when it is a container, and
// returns the error that ended its own read, if any (after the bytes that
// came with it were scanned). What happened inside a container is settled
// by the container; the item's own read error is its caller's to record.
func (r *run) scanItem(ctx context.Context, it Item, lv level) error {
	if it.Data != nil {
		return r.scanData(ctx, it, lv)
	}
	if it.Open == nil {
		return errors.New("internal error: item has no content")
	}
	rc, err := it.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	var rd io.Reader = rc
	if lv.parent != nil {
		// A member's bytes are decoded bytes: charge them to the budget.
		rd = &budgetReader{r: rc, ch: lv.chain, path: it.Path}
	}
	src := newSource(rd, rc)

	s := r.newStream(ctx, it, lv)
	defer s.release()
	eof, err := s.fill(ctx, src, true)
	if err != nil {
		s.close()
		return err
	}
	if d := r.opener(it, s.buf[:s.n], lv.depth, s.startsWithHole); d != nil {
		return r.expandStream(ctx, it, lv, d, s, src, eof)
	}
	if eof {
		s.close()
		return nil
	}
	return s.drain(ctx, src)
}

// scanData scans an item held in memory. Data items are never members, so
// nothing is charged to the budget.
func (r *run) scanData(ctx context.Context, it Item, lv level) error {
	data := it.Data
	r.bytes.Add(int64(len(data)))
	v := &view{ctx: ctx, sk: sink{it: it, to: lv.parent, raw: lv.raw}, lv: lv}
	d := r.opener(it, data, lv.depth, false)
	if d == nil {
		r.scanWindow(v, data, 0, 0, len(data), newLineState(data), true, true)
		return nil
	}
	f := &frame{}
	v.sk.to, v.sk.raw = f, true
	r.scanWindow(v, data, 0, 0, len(data), newLineState(data), true, true)
	expErr := r.expand(ctx, it, lv, d, f, bytes.NewReader(data))
	return r.settle(ctx, it, lv, f, expErr)
}

// opener returns the decoder that opens the item as a container, if one
// does. A container nested too deep is scanned as raw bytes, an error.
func (r *run) opener(it Item, head []byte, depth int, startsWithHole bool) Decoder {
	if startsWithHole {
		return nil
	}
	for _, d := range r.e.opts.Decoders {
		if !d.Opens(it, head) {
			continue
		}
		if depth >= r.e.opts.MaxDepth {
			r.Skip(ErrorAt(displayPath(it), fmt.Sprintf("container nested deeper than %d decodings: scanned as raw bytes, members not opened (--max-depth)", r.e.opts.MaxDepth)))
			return nil
		}
		return d
	}
	return nil
}

// expandStream expands a streamed container whose first bytes are in s.
// Every byte of the container is scanned raw as well: those the expander
// reads are teed off to s on their way, and whatever it leaves unread is
// drained afterwards. So a truncated or corrupt container has been read as
// far as any tool could read it, and its damage is only a note.
func (r *run) expandStream(ctx context.Context, it Item, lv level, d Decoder, s *stream, src source, eof bool) error {
	f := &frame{}
	s.v.sk.to, s.v.sk.raw = f, true
	// The expander reads the head from a copy: s's buffer moves on.
	hp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(hp)
	head := (*hp)[:copy(*hp, s.buf[:s.n])]
	in := io.Reader(bytes.NewReader(head))
	t := &tee{src: src, s: s, r: r, f: f}
	if !eof {
		var rest io.Reader = t
		if src.holes != nil {
			rest = &denseReader{t: t, pos: int64(len(head)), ch: lv.chain, path: it.Path}
		}
		in = io.MultiReader(in, rest)
	}
	expErr := r.expand(ctx, it, lv, d, f, in)
	if f.srcErr != nil || eof || ctx.Err() != nil {
		s.close()
	} else {
		// Even with the budget spent: a top-level item's own bytes are
		// real input, never charged (a member's drain stops at once).
		f.srcErr = s.drain(ctx, src)
	}
	return r.settle(ctx, it, lv, f, expErr)
}

// expand hands a container to its decoder; its members are scanned on
// this same worker, one level deeper. Members of a container that was
// itself decoded from text are located where that text starts.
func (r *run) expand(ctx context.Context, it Item, lv level, d Decoder, f *frame, rd io.Reader) error {
	mlv := level{parent: f, chain: lv.chain, depth: lv.depth + 1, enc: lv.enc}
	if lv.anchor != nil {
		// A member's lines are its own, not the encoded text's.
		lv.anchor.resolve()
		a := *lv.anchor
		a.keepsLines = false
		mlv.anchor = &a
	}
	m := &members{r: r, ctx: ctx, f: f, lv: mlv, container: it}
	return d.Open(ctx, it, rd, m)
}

// settle closes a container's account: its findings go to its parent (or
// the result), and what its expansion came to is recorded. A container
// whose own bytes could not all be read returns that error (its parent's,
// or the top's, to record); damage inside a container that was read
// through is a note; any other reason the expander stopped is an error.
func (r *run) settle(ctx context.Context, it Item, lv level, f *frame, expErr error) error {
	up := sink{it: it, to: lv.parent}
	for _, fd := range f.findings() {
		r.emit(&up, fd)
	}
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case f.srcErr != nil:
		return f.srcErr
	case lv.chain.spent:
		return errBudget
	case expErr == nil:
	case errors.Is(expErr, ErrMalformed):
		f.own = cleanReason(expErr)
	default:
		r.Skip(ErrorAt(displayPath(it), cleanReason(expErr)))
	}
	if d := f.damage(); d != "" {
		r.Skip(NoteAt(displayPath(it), d+" (everything readable was scanned: the decoded members and the raw bytes)"))
	}
	return nil
}

// members implements Members for one container.
type members struct {
	r         *run
	ctx       context.Context
	f         *frame
	lv        level
	container Item
}

// Scan implements Members. A member whose read failed because its
// container is damaged is part of the container's damage; the member's
// read failing because the container's own bytes could not be read is
// recorded once, as the container's error.
func (m *members) Scan(child Item) error {
	lv := m.lv
	lv.enc = JoinEncoding(lv.enc, child.Encoding)
	err := m.r.scanItem(m.ctx, child, lv)
	switch {
	case err == nil:
		return nil
	case m.ctx.Err() != nil:
		return m.ctx.Err()
	case m.lv.chain.spent:
		return errBudget
	case m.f.srcErr != nil:
	case errors.Is(err, ErrMalformed):
		m.f.memberDamaged(err, memberName(m.container, child))
	default:
		m.r.Skip(ErrorAt(displayPath(child), cleanReason(err)))
	}
	return nil
}

// Skip implements Members.
func (m *members) Skip(s Skipped) { m.r.Skip(s) }

// memberName is child's path inside container, for messages.
func memberName(container, child Item) string {
	p := child.Path
	if pre := displayPath(container) + "!"; len(p) > len(pre) && p[:len(pre)] == pre {
		return p[len(pre):]
	}
	return p
}

// frame is the account of one container while it is expanded.
type frame struct {
	// members holds the findings of its members (their containers'
	// frames included), keys their fingerprints.
	members []Finding
	keys    map[string]bool
	// raw holds the findings in the container's own bytes; a key a member
	// also holds is reported once, from the member.
	raw []Finding
	// own is the damage the expander reported; inMember the first damage
	// met reading a member. Together they make the note.
	own, inMember string
	// srcErr is the error that ended the read of the container's own
	// bytes, if any.
	srcErr error
}

func (f *frame) add(fd Finding) {
	if f.keys == nil {
		f.keys = map[string]bool{}
	}
	f.keys[fd.Fingerprint] = true
	f.members = append(f.members, fd)
}

func (f *frame) findings() []Finding {
	out := f.members
	for _, fd := range f.raw {
		if !f.keys[fd.Fingerprint] {
			out = append(out, fd)
		}
	}
	return out
}

// memberDamaged records the first damage met reading a member.
func (f *frame) memberDamaged(err error, member string) {
	if f.inMember != "" {
		return
	}
	var re *readError
	where := "in member " + member
	if errors.As(err, &re) {
		err = re.err
		where += fmt.Sprintf(", at byte %d", re.at)
	}
	f.inMember = cleanReason(err) + " (" + where + ")"
}

// damage is the note's text, or "" when the container was read through.
func (f *frame) damage() string {
	switch {
	case f.own == "" || f.inMember == "":
		return f.own + f.inMember
	case strings.HasPrefix(f.inMember, f.own):
		return f.inMember
	}
	return f.own + "; " + f.inMember
}

// tee passes a container's bytes to its expander and scans them raw on
// the way.
type tee struct {
	r   *run
	src source
	s   *stream
	f   *frame
}

func (t *tee) Read(p []byte) (int, error) {
	if t.f.srcErr != nil {
		return 0, t.f.srcErr
	}
	if t.src.holes != nil {
		t.s.holeTo(t.src.holes.DataOffset())
	}
	n, err := t.src.r.Read(p)
	t.s.write(p[:n])
	t.r.bytes.Add(int64(n))
	if err != nil && err != io.EOF {
		t.f.srcErr = &readError{at: t.s.pos(), err: err}
	}
	return n, err
}

// denseReader gives an expander a container with holes as the bytes it
// stands for: zeros where the holes are. (A container on disk rarely has
// holes; a sparse file that merely starts like one would make the expander
// read zeros, so they are charged to the budget like decoded bytes.)
type denseReader struct {
	t    *tee
	pos  int64
	ch   *chain
	path string
}

func (d *denseReader) Read(p []byte) (int, error) {
	if gap := d.t.src.holes.DataOffset() - d.pos; gap > 0 {
		n := int(min(gap, int64(len(p)), d.ch.left))
		if n <= 0 {
			d.ch.spent, d.ch.at = true, d.path
			return 0, errBudget
		}
		clear(p[:n])
		d.pos += int64(n)
		d.ch.left -= int64(n)
		return n, nil
	}
	n, err := d.t.Read(p)
	d.pos += int64(n)
	return n, err
}
