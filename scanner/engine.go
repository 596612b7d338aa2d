package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/xaiscan/xaiscan/rules"
)

const (
	// DefaultChunkSize is how much of a file a worker reads at a time.
	// Large enough that per-read overhead vanishes, small enough that
	// memory stays flat with many workers.
	DefaultChunkSize = 1 << 20
	// Reach is how far past its start a detector may need to look to
	// recognise a key, in the largest encoding (UTF-16 doubles a key's 90
	// bytes; base64 of UTF-16 grows it further). Each chunk leaves the last
	// Reach bytes to the next chunk, so a key straddling a boundary is seen
	// whole exactly once.
	Reach = 1024
	// lineContext is how much of the previous chunk is kept before the
	// first owned byte, so a key near the start of a chunk still sees its
	// left boundary and the allow marker earlier on its line.
	lineContext = 1024
)

// Hit is a key located by a Detector.
type Hit struct {
	Rule    string
	Start   int // offset of the evidence in the window (the encoded text, for decoded keys)
	End     int
	Key     []byte // the decoded key; may alias the window, copy to keep
	Entropy float64
	// Encoding is empty for plain bytes, else the decoding applied.
	Encoding string
	// Allowed is set by a decoder that found an allow marker inside the
	// decoded text, on the key's line; the engine decides whether to
	// honour it (Options.IgnoreAllowMarkers).
	Allowed bool
}

// Detector finds keys in a window of bytes. Detectors must be safe for
// concurrent use and should not allocate on key-free input.
type Detector interface {
	Detect(window []byte, fn func(Hit))
}

// Plain is the detector for keys written as plain bytes: the built-in rules.
type Plain struct{}

// Detect implements Detector.
func (Plain) Detect(window []byte, fn func(Hit)) {
	rules.Find(window, func(m rules.Match) {
		fn(Hit{Rule: m.Rule, Start: m.Start, End: m.End, Key: window[m.Start:m.End], Entropy: m.Entropy})
	})
}

// DetectBinary implements BinaryDetector: in binary content keys may
// touch other strings (see rules.FindBinary).
func (Plain) DetectBinary(window []byte, fn func(Hit)) {
	rules.FindBinary(window, func(m rules.Match) {
		fn(Hit{Rule: m.Rule, Start: m.Start, End: m.End, Key: window[m.Start:m.End], Entropy: m.Entropy})
	})
}

// BinaryDetector is implemented by detectors that read binary content
// (an item whose first bytes hold a NUL) differently from text.
type BinaryDetector interface {
	DetectBinary(window []byte, fn func(Hit))
}

// Expander opens containers (archives, compressed files) so their members
// are scanned instead of their raw bytes. It runs on worker goroutines and
// must be safe for concurrent use.
type Expander interface {
	// Wants reports, from the item and its first bytes (up to one chunk),
	// whether the item is a container this expander opens.
	Wants(it Item, head []byte) bool
	// Expand reads the container from r, positioned at its first byte, and
	// calls scan for every member (which may itself be a container). An
	// error is recorded against the item as a partial scan.
	Expand(ctx context.Context, it Item, r io.Reader, scan func(Item)) error
}

// Options configure an Engine.
type Options struct {
	// Workers bounds concurrent item scans; 0 means runtime.NumCPU().
	Workers int
	// ChunkSize is the read size for streamed items; 0 means DefaultChunkSize.
	ChunkSize int
	// Detectors find keys; nil means []Detector{Plain{}}.
	Detectors []Detector
	// Expander, if set, opens containers (archives, compressed files).
	Expander Expander
	// Progress, if set, is called about every ProgressEvery while the scan
	// runs, and once at the end.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// CancelGrace is how long a cancelled scan waits for workers stuck in
	// reads before returning without them; 0 means 2 seconds.
	CancelGrace time.Duration
	// IgnoreAllowMarkers reports keys on lines with an allow marker
	// (xaiscan:allow and the peers' markers) instead of suppressing them.
	// Suppressed keys are counted in Coverage.AllowMarked either way.
	IgnoreAllowMarkers bool
}

// Progress is a snapshot of a running scan.
type Progress struct {
	Done     int64 // items finished
	Expected int64 // items announced by the source, 0 if unknown
	Bytes    int64
	Elapsed  time.Duration
	Final    bool
}

// Engine runs sources through the rules. It is the one place that owns
// concurrency in a scan.
type Engine struct {
	opts Options
}

// New returns an engine with opts, defaults filled in.
func New(opts Options) *Engine {
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.ChunkSize < 4*Reach {
		opts.ChunkSize = 4 * Reach
	}
	// Windows advance by whole pages, so every window starts at an even
	// offset: the UTF-16 detector decides byte order from offset parity.
	opts.ChunkSize &^= 4095
	if opts.Detectors == nil {
		opts.Detectors = []Detector{Plain{}}
	}
	if opts.CancelGrace <= 0 {
		opts.CancelGrace = 2 * time.Second
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 250 * time.Millisecond
	}
	return &Engine{opts: opts}
}

// run is the state of one scan; it implements Feed.
type run struct {
	e     *Engine
	pool  *pool.Pool
	slots chan struct{} // one token per busy worker; bounds concurrency
	bufs  sync.Pool

	done, expected, bytes atomic.Int64
	files, blobs, commits atomic.Int64
	allowMarked           atomic.Int64

	mu       sync.Mutex
	findings []Finding
	skipped  []Skipped
	notes    []string
}

// Run scans every item src produces and returns the sorted result. A
// cancelled context stops the scan promptly; the partial result is returned
// with Interrupted set and a nil error.
func (e *Engine) Run(ctx context.Context, src Source) (Result, error) {
	r := &run{e: e, pool: pool.New(), slots: make(chan struct{}, e.opts.Workers)}
	r.bufs.New = func() any {
		b := make([]byte, e.opts.ChunkSize+Reach+lineContext)
		return &b
	}
	start := time.Now()
	stopProgress := r.startProgress(ctx, start)

	srcErr := src.Items(ctx, r)
	abandoned := r.wait(ctx, e.opts.CancelGrace)
	stopProgress()

	// Once workers are abandoned they may still append; take copies.
	r.mu.Lock()
	raw := append([]Finding(nil), r.findings...)
	r.mu.Unlock()
	var finErr error
	if fin, ok := src.(Finisher); ok && ctx.Err() == nil && srcErr == nil {
		raw, finErr = fin.Finish(ctx, raw, r)
	}
	// After Finish, which may record skips and notes of its own.
	r.mu.Lock()
	skipped := append([]Skipped(nil), r.skipped...)
	notes := append([]string(nil), r.notes...)
	r.mu.Unlock()
	if abandoned {
		skipped = append(skipped, Skipped{Path: "(scan)", Reason: "interrupted while reading: some items were left unfinished", Kind: KindError})
	}
	res := Result{
		Findings: raw,
		Coverage: Coverage{
			Files: r.files.Load(), Blobs: r.blobs.Load(), Commits: r.commits.Load(),
			Bytes: r.bytes.Load(), Skipped: skipped, Notes: notes,
			AllowMarked: r.allowMarked.Load(),
		},
		Interrupted: ctx.Err() != nil,
	}
	if res.Coverage.Skipped == nil {
		res.Coverage.Skipped = []Skipped{}
	}
	SortFindings(res.Findings)
	sortSkipped(res.Coverage.Skipped)
	if res.Interrupted {
		return res, nil
	}
	if srcErr != nil {
		return res, srcErr
	}
	return res, finErr
}

// wait waits for the workers. After cancellation it waits at most grace
// more: a worker blocked in a read that ignores cancellation (a pipe whose
// writer never writes) must not keep Ctrl-C from ending the scan. It
// reports whether workers were abandoned; the process is about to exit,
// and they hold no state the result still needs.
func (r *run) wait(ctx context.Context, grace time.Duration) (abandoned bool) {
	done := make(chan struct{})
	go func() {
		r.pool.Wait()
		close(done)
	}()
	select {
	case <-done:
		return false
	case <-ctx.Done():
	}
	select {
	case <-done:
		return false
	case <-time.After(grace):
		return true
	}
}

func (r *run) startProgress(ctx context.Context, start time.Time) (stop func()) {
	report := r.e.opts.Progress
	if report == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.e.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report(r.snapshot(start, false))
			case <-ctx.Done():
				return
			case <-quit:
				return
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
		report(r.snapshot(start, true))
	}
}

func (r *run) snapshot(start time.Time, final bool) Progress {
	return Progress{Done: r.done.Load(), Expected: r.expected.Load(), Bytes: r.bytes.Load(),
		Elapsed: time.Since(start), Final: final}
}

// Send implements Feed.
func (r *run) Send(ctx context.Context, it Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Wait for a free worker, but not past cancellation: a worker blocked
	// on a slow read must not keep the source from noticing Ctrl-C.
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.pool.Go(func() {
		defer func() { <-r.slots }()
		r.scanItem(ctx, it, 0)
		r.done.Add(1)
	})
	return nil
}

// Skip implements Feed.
func (r *run) Skip(s Skipped) {
	r.mu.Lock()
	r.skipped = append(r.skipped, s)
	r.mu.Unlock()
}

// Note implements Feed.
func (r *run) Note(msg string) {
	r.mu.Lock()
	r.notes = append(r.notes, msg)
	r.mu.Unlock()
}

// AddCommits implements Feed.
func (r *run) AddCommits(n int64) { r.commits.Add(n) }

// Expect implements Feed.
func (r *run) Expect(n int64) { r.expected.Add(n) }

// maxNesting bounds how deep expanders may recurse, whatever they do.
const maxNesting = 8

// scanItem reads one item and records its findings. It runs on a worker.
func (r *run) scanItem(ctx context.Context, it Item, depth int) {
	if ctx.Err() != nil {
		return
	}
	switch it.Counts {
	case CountFile:
		r.files.Add(1)
	case CountBlob:
		r.blobs.Add(1)
	}
	if it.Data != nil {
		if r.wantsExpansion(it, it.Data, depth) {
			err := r.expand(ctx, it, bytes.NewReader(it.Data), depth)
			if err == nil {
				return
			}
			// Could not unpack it: scan the raw bytes instead, so a key
			// stored uncompressed (tar members, stored zip entries) is
			// still found.
			r.containerFailed(it, err, true)
		}
		r.bytes.Add(int64(len(it.Data)))
		r.scanWindow(it, it.Data, 0, 0, len(it.Data), newLineState(it.Data), true)
		return
	}
	if it.Open == nil {
		r.Skip(Skipped{Path: displayPath(it), Reason: "internal error: item has no content", Kind: KindError})
		return
	}
	rc, err := it.Open()
	if err != nil {
		r.Skip(Skipped{Path: displayPath(it), Reason: cleanReason(err), Kind: KindError})
		return
	}
	defer rc.Close()
	expandErr, err := r.scanStream(ctx, it, rc, depth)
	if expandErr != nil && ctx.Err() == nil {
		// The container could not be unpacked (corrupt, truncated, not
		// really an archive): scan its raw bytes instead if the item can
		// be read again, so a key stored uncompressed is still found.
		rescan := !it.Once
		if rescan {
			rc.Close()
			rc2, err2 := it.Open()
			if err2 != nil {
				rescan = false
			} else {
				defer rc2.Close()
				_, err = r.scanStream(ctx, it, rc2, noExpand)
			}
		}
		r.containerFailed(it, expandErr, rescan)
	}
	if err != nil {
		reason := cleanReason(err)
		if errors.Is(err, context.Canceled) {
			reason = "scan interrupted before this was fully read"
		}
		r.Skip(Skipped{Path: displayPath(it), Reason: reason, Kind: KindError})
	}
}

func (r *run) wantsExpansion(it Item, head []byte, depth int) bool {
	return r.e.opts.Expander != nil && depth < maxNesting && r.e.opts.Expander.Wants(it, head)
}

// expand hands a container to the expander; its members are scanned on
// this same worker, one level deeper. It returns why the container could
// not be read through, or nil.
func (r *run) expand(ctx context.Context, it Item, rd io.Reader, depth int) error {
	err := r.e.opts.Expander.Expand(ctx, it, rd, func(child Item) {
		r.scanItem(ctx, child, depth+1)
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// containerFailed records a container that could not be unpacked, saying
// whether its raw bytes were scanned instead.
func (r *run) containerFailed(it Item, err error, rawScanned bool) {
	reason := cleanReason(err)
	if rawScanned {
		reason += " (its raw bytes were scanned instead)"
	}
	r.Skip(Skipped{Path: displayPath(it), Reason: reason, Kind: KindError})
}

// noExpand is a depth at which containers are scanned as raw bytes.
const noExpand = maxNesting

// scanStream reads rc in chunks that overlap by Reach+lineContext bytes.
// Each window "owns" the key starts in [ownStart, ownEnd): the first window
// owns from 0, later ones from lineContext (the bytes before are context);
// every window but the last leaves its final Reach bytes to the next. So
// each start position is examined by exactly one window, always with the
// whole key and both of its boundaries in view.
func (r *run) scanStream(ctx context.Context, it Item, rc io.Reader, depth int) (expandErr, err error) {
	bp := r.bufs.Get().(*[]byte)
	defer r.bufs.Put(bp)
	buf := *bp
	carry := 0
	var base int64 // absolute offset of buf[0]
	var ls lineState
	first := true
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := fill(rc, buf[carry:])
		total := carry + n
		r.bytes.Add(int64(n))
		final := false
		switch {
		case err == nil:
		case err == io.EOF:
			final = true
		default:
			return nil, fmt.Errorf("read error at byte %d: %w", base+int64(total), err)
		}
		if first {
			first = false
			ls = newLineState(buf[:total])
			if r.wantsExpansion(it, buf[:total], depth) {
				// The expander reads the container from its first byte:
				// what was read so far, then the rest of the stream. Its
				// members' bytes are counted as they are scanned.
				r.bytes.Add(-int64(n))
				return r.expand(ctx, it, io.MultiReader(bytes.NewReader(buf[:total]), rc), depth), nil
			}
		}
		ownStart := 0
		if base > 0 {
			ownStart = lineContext
		}
		ownEnd := total
		if !final {
			ownEnd = total - Reach
		}
		ls = r.scanWindow(it, buf[:total], base, ownStart, ownEnd, ls, final)
		if final {
			return nil, nil
		}
		// Keep the context and the unowned tail for the next window.
		keep := lineContext + Reach
		copy(buf, buf[total-keep:total])
		base += int64(total - keep)
		carry = keep
	}
}

// scanWindow runs the detectors over window, records the hits whose start
// lies in [ownStart, ownEnd), and returns the line state advanced to
// ownEnd. base is the absolute offset of window[0].
func (r *run) scanWindow(it Item, window []byte, base int64, ownStart, ownEnd int, ls lineState, final bool) lineState {
	for _, d := range r.e.opts.Detectors {
		detect := d.Detect
		if bd, ok := d.(BinaryDetector); ok && ls.binary {
			detect = bd.DetectBinary
		}
		detect(window, func(h Hit) {
			if h.Start < ownStart || h.Start >= ownEnd {
				return
			}
			if (h.Allowed || rules.Allowed(window, h.Start, h.End)) && !r.e.opts.IgnoreAllowMarkers {
				// Counted, so a suppression is never silent.
				r.allowMarked.Add(1)
				return
			}
			r.record(it, window, base, ownStart, ls, h)
		})
	}
	if final {
		return ls
	}
	return ls.advance(window[ownStart:ownEnd], base+int64(ownStart))
}

// record turns a hit into a finding. Line and column are computed here,
// only for the rare windows that hold a key.
func (r *run) record(it Item, window []byte, base int64, ownStart int, ls lineState, h Hit) {
	line, col := ls.position(window, base, ownStart, h.Start)
	key := string(h.Key)
	f := it.Template
	f.Rule = h.Rule
	f.Source = it.Source
	f.Path = it.Path
	f.Line = line
	f.Column = col
	f.Key = key
	f.Secret = rules.Redact(key)
	f.Fingerprint = rules.Fingerprint(h.Key)
	f.Entropy = roundEntropy(h.Entropy)
	f.Encoding = h.Encoding
	f.Object = it.Object
	f.Offset = base + int64(h.Start)
	r.mu.Lock()
	r.findings = append(r.findings, f)
	r.mu.Unlock()
}

func roundEntropy(h float64) float64 {
	return float64(int(h*100+0.5)) / 100
}

func displayPath(it Item) string {
	if it.Path != "" {
		return it.Path
	}
	if it.Object != "" {
		return it.Object
	}
	return "(" + it.Source + ")"
}

// fill reads into buf until it is full or the reader ends. Unlike
// io.ReadFull it reports only a clean end as io.EOF (with the bytes read),
// so a reader's own io.ErrUnexpectedEOF — a truncated gzip stream or git
// object — is an error, not the end of the content.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			// Tolerate a few empty reads, as io.ReadAtLeast does not:
			// a reader that keeps returning nothing is broken.
			m2, err := r.Read(buf[n:])
			n += m2
			if err != nil {
				return n, err
			}
			if m2 == 0 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}
