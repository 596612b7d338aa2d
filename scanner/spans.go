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
	absEnd int64   // absolute offset just past the text collected so far
	at     *anchor // resolved
	cut    bool    // the run was longer than MaxSpanText
}

// anchor is where the findings of a decoded view are located: the start
// of the encoded text in the outermost item that holds it (DESIGN §6).
// Its line and column, and whether an allow marker is on that line, are
// worked out only when a finding needs them: a window may hold thousands
// of runs that decode to nothing of interest, and each look at a line is
// a search of the window.
type anchor struct {
	line, col int
	off       int64
	// keepsLines is set when every decoding down to the view keeps lines
	// and columns (UTF-16 decoded to one byte per code unit): a finding
	// is then placed at its own line of the encoded text.
	keepsLines bool
	// marked is set when an allow marker is on the line where the
	// encoded text starts, or on that of any text it was decoded from.
	marked bool

	// Until resolved: the window the run starts in (valid while the run's
	// view is scanned, which is synchronous), and the anchor above.
	w    *spanWindow
	at   int
	up   *anchor
	done bool
}

// resolve works out the anchor's position and marker.
func (a *anchor) resolve() {
	if a.done {
		return
	}
	a.done = true
	line, col := a.w.ls.position(a.w.data, a.w.base, a.w.ownStart, a.at)
	a.marked = rules.Allowed(a.w.data, a.at, a.at+1)
	a.line, a.col = line, col
	if up := a.up; up != nil {
		up.resolve()
		a.line, a.col = up.place(line, col)
		a.off = up.off
		a.keepsLines = a.keepsLines && up.keepsLines
		a.marked = a.marked || up.marked
	}
	a.w, a.up = nil, nil
}

// place maps a position in the decoded view to the outermost item.
func (a *anchor) place(line, col int) (int, int) {
	a.resolve()
	switch {
	case !a.keepsLines:
		return a.line, a.col
	case line == 1:
		return a.line, a.col + col - 1
	}
	return a.line + line - 1, col
}

// lineNo is the line where the encoded text starts, for messages.
func (a *anchor) lineNo() int {
	a.resolve()
	return a.line
}

// isMarked reports an allow marker on the line of the encoded text.
func (a *anchor) isMarked() bool {
	if a == nil {
		return false
	}
	a.resolve()
	return a.marked
}

// spanWindow is a window as the span decoders see it.
type spanWindow struct {
	data             []byte
	base             int64
	ownStart, ownEnd int
	ls               lineState
	end              bool // no contiguous byte follows
}

// anchorAt is the anchor of a run that starts at window offset at,
// resolved later (see anchor).
func (v *view) anchorAt(w *spanWindow, at int, keepsLines bool) *anchor {
	return &anchor{off: w.base + int64(at), keepsLines: keepsLines, w: w, at: at, up: v.lv.anchor}
}

// findSpans asks every decoder for the runs that start in the owned part
// of w, and decodes those that end in it; the others are collected on.
func (r *run) findSpans(v *view, w *spanWindow) {
	for _, d := range r.e.opts.Decoders {
		d.Spans(w.data, func(s Span) {
			if s.Start < w.ownStart || s.Start >= w.ownEnd || s.End <= s.Start || s.End > len(w.data) {
				return
			}
			at := v.anchorAt(w, s.Start, s.KeepsLines)
			if s.End < len(w.data) || w.end {
				r.decodeSpan(v, d, s, w.data[s.Start:s.End], at)
				return
			}
			// The run goes on past this window: where it starts must be
			// worked out while the window is here.
			at.resolve()
			text := append([]byte(nil), w.data[s.Start:]...)
			v.pending = append(v.pending, pendingSpan{d: d, s: s, text: text,
				absEnd: w.base + int64(len(w.data)), at: at})
		})
	}
}

// continueSpans follows the runs collected from earlier windows into w,
// and decodes those that end in it.
func (r *run) continueSpans(v *view, w *spanWindow) {
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
			"%s text at line %d longer than %s: only its first %s was decoded", p.s.Encoding, p.at.lineNo(),
			SizeString(MaxSpanText), SizeString(MaxSpanText))))
	}
	r.decodeSpan(v, p.d, p.s, p.text, p.at)
}

// decodeSpan decodes one run and scans what it decodes to as a child view
// of the item, one level deeper, charged to the item's budget.
func (r *run) decodeSpan(v *view, d Decoder, s Span, text []byte, at *anchor) {
	if v.ctx.Err() != nil || v.lv.chain.spent {
		return
	}
	if v.lv.depth >= r.e.opts.MaxDepth {
		if !v.deepNoted {
			v.deepNoted = true
			r.Note(fmt.Sprintf("%s: %s text nested deeper than %d decodings was not decoded (line %d)",
				displayPath(v.sk.it), s.Encoding, r.e.opts.MaxDepth, at.lineNo()))
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
	lv := level{parent: v.sk.to, chain: ch, depth: v.lv.depth + 1, anchor: at,
		enc: JoinEncoding(v.lv.enc, s.Encoding), raw: v.sk.raw}
	cerr := r.scanData(v.ctx, child, lv)
	if err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, errBudget) && !errors.Is(err, context.Canceled) {
		r.Skip(NoteAt(displayPath(v.sk.it), fmt.Sprintf("%s text at line %d: %s (decoded as far as it goes)",
			s.Encoding, at.lineNo(), cleanReason(err))))
	}
}
