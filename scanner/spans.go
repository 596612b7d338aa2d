package scanner

import (
	"context"
	"errors"
	"fmt"

	"github.com/xaiscan/xaiscan/rules"
)

// MaxSpanText bounds the encoded text of one run that the engine collects
// across windows before decoding it (a base64 blob of a whole file). A
// longer run is decoded as far as MaxSpanText reaches, and the cut is an
// error: what followed was not decoded.
const MaxSpanText = 64 << 20

// view is the scanning state of one item's bytes: where its findings go,
// where it sits in its chain of decodings, and the runs of encoded text
// that reached the end of the last window and go on in the next.
type view struct {
	ctx     context.Context
	sk      sink
	lv      level
	pending []pendingSpan
	// deepNoted is set once the item has said that it holds encoded text
	// nested too deep to decode.
	deepNoted bool
}

// pendingSpan is a run of encoded text being collected across windows.
type pendingSpan struct {
	d      Decoder
	s      Span
	text   []byte
	absEnd int64 // absolute offset just past the text collected so far
	at     anchor
	marked bool // an allow marker is on the line where the run starts
	cut    bool // the run was longer than MaxSpanText
}

// anchor is where the findings of a decoded view are located: the start
// of the encoded text in the outermost item that holds it (DESIGN §6).
type anchor struct {
	line, col int
	off       int64
	// keepsLines is set when every decoding down to the view keeps lines
	// and columns (UTF-16 decoded to one byte per code unit): a finding
	// is then placed at its own line of the encoded text.
	keepsLines bool
}

// place maps a position in the decoded view to the outermost item.
func (a *anchor) place(line, col int) (int, int) {
	switch {
	case !a.keepsLines:
		return a.line, a.col
	case line == 1:
		return a.line, a.col + col - 1
	}
	return a.line + line - 1, col
}

// spanWindow is a window as the span decoders see it.
type spanWindow struct {
	data             []byte
	base             int64
	ownStart, ownEnd int
	ls               lineState
	end              bool // no contiguous byte follows
}

// anchorAt is the anchor of a run that starts at window offset at.
func (r *run) anchorAt(v *view, w spanWindow, at int, keepsLines bool) anchor {
	line, col := w.ls.position(w.data, w.base, w.ownStart, at)
	a := anchor{line: line, col: col, off: w.base + int64(at), keepsLines: keepsLines}
	if up := v.lv.anchor; up != nil {
		a.line, a.col = up.place(line, col)
		a.off = up.off
		a.keepsLines = keepsLines && up.keepsLines
	}
	return a
}

// findSpans asks every decoder for the runs that start in the owned part
// of w, and decodes those that end in it; the others are collected on.
func (r *run) findSpans(v *view, w spanWindow) {
	for _, d := range r.e.opts.Decoders {
		d.Spans(w.data, func(s Span) {
			if s.Start < w.ownStart || s.Start >= w.ownEnd || s.End <= s.Start || s.End > len(w.data) {
				return
			}
			at := r.anchorAt(v, w, s.Start, s.KeepsLines)
			marked := rules.Allowed(w.data, s.Start, s.Start+1)
			if s.End < len(w.data) || w.end {
				r.decodeSpan(v, d, s, w.data[s.Start:s.End], at, marked)
				return
			}
			text := append([]byte(nil), w.data[s.Start:]...)
			v.pending = append(v.pending, pendingSpan{d: d, s: s, text: text,
				absEnd: w.base + int64(len(w.data)), at: at, marked: marked})
		})
	}
}

// continueSpans follows the runs collected from earlier windows into w,
// and decodes those that end in it.
func (r *run) continueSpans(v *view, w spanWindow) {
	kept := v.pending[:0]
	for _, p := range v.pending {
		from := int(p.absEnd - w.base)
		if from < 0 || from > len(w.data) {
			// Windows overlap and advance in order; this cannot happen.
			from = min(max(from, 0), len(w.data))
		}
		end := p.d.Continue(w.data[:len(w.data):len(w.data)], from, p.s)
		end = min(max(end, from), len(w.data))
		if room := MaxSpanText - len(p.text); end-from > room {
			end, p.cut = from+room, true
		}
		p.text = append(p.text, w.data[from:end]...)
		p.absEnd = w.base + int64(end)
		if end < len(w.data) || w.end || p.cut {
			r.decodePending(v, p)
			continue
		}
		kept = append(kept, p)
	}
	v.pending = kept
}

// finishSpans decodes the runs still open when an item's bytes end
// without a last window (a read error).
func (r *run) finishSpans(v *view) {
	for _, p := range v.pending {
		r.decodePending(v, p)
	}
	v.pending = nil
}

func (r *run) decodePending(v *view, p pendingSpan) {
	if p.cut {
		r.Skip(ErrorAt(displayPath(v.sk.it), fmt.Sprintf(
			"%s text at line %d longer than %s: only its first %s was decoded", p.s.Encoding, p.at.line,
			SizeString(MaxSpanText), SizeString(MaxSpanText))))
	}
	r.decodeSpan(v, p.d, p.s, p.text, p.at, p.marked)
}

// decodeSpan decodes one run and scans what it decodes to as a child view
// of the item, one level deeper, charged to the item's budget.
func (r *run) decodeSpan(v *view, d Decoder, s Span, text []byte, at anchor, marked bool) {
	if v.ctx.Err() != nil || v.lv.chain.spent {
		return
	}
	if v.lv.depth >= r.e.opts.MaxDepth {
		if !v.deepNoted {
			v.deepNoted = true
			r.Note(fmt.Sprintf("%s: %s text nested deeper than %d decodings was not decoded (line %d)",
				displayPath(v.sk.it), s.Encoding, r.e.opts.MaxDepth, at.line))
		}
		return
	}
	out, err := d.DecodeSpan(nil, text, s)
	if len(out) == 0 {
		return
	}
	ch := v.lv.chain
	if int64(len(out)) > ch.left {
		out = out[:ch.left]
		ch.spent, ch.at = true, displayPath(v.sk.it)
	}
	ch.left -= int64(len(out))
	child := v.sk.it
	child.Data, child.Open, child.Counts, child.Size, child.View = out, nil, CountNone, int64(len(out)), true
	lv := level{parent: v.sk.to, chain: ch, depth: v.lv.depth + 1, anchor: &at,
		enc: JoinEncoding(v.lv.enc, s.Encoding), allowed: v.lv.allowed || marked, raw: v.sk.raw}
	cerr := r.scanData(v.ctx, child, lv)
	if err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, errBudget) && !errors.Is(err, context.Canceled) {
		r.Skip(NoteAt(displayPath(v.sk.it), fmt.Sprintf("%s text at line %d: %s (decoded as far as it goes)",
			s.Encoding, at.line, cleanReason(err))))
	}
}
