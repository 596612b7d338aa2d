package scanner

import (
	"context"
	"fmt"
	"runtime"
	"strings"
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

// hit is a key located by the rules in a window.
type hit struct {
	Rule    string
	Start   int // offset of the key in the window
	End     int
	Key     []byte // may alias the window, copy to keep
	Entropy float64
}

// findKeys runs the rules over window: text rules, or for binary content
// (a NUL in its first bytes) the binary rules, where keys may touch other
// strings (see rules.FindBinary).
func findKeys(window []byte, binary bool, fn func(hit)) {
	find := rules.Find
	if binary {
		find = rules.FindBinary
	}
	find(window, func(m rules.Match) {
		fn(hit{Rule: m.Rule, Start: m.Start, End: m.End, Key: window[m.Start:m.End], Entropy: m.Entropy})
	})
}

// DefaultMaxDecodedBytes is the default decoded-bytes budget of one
// top-level item: 4 GiB. It is far above what the logs, source archives
// and backups found in repositories and CI workspaces decode to (a 200 MB
// log gzipped at 226:1 uses 5% of it, where a ratio cap cut it at 8 MiB),
// and low enough that a decompression bomb costs one worker about five
// seconds (measured: 4 GiB of gzipped zeros, 5.5 s of CPU) before it stops
// with an error that names the item, the budget and the flag to raise it.
const DefaultMaxDecodedBytes = 4 << 30

// Options configure an Engine.
type Options struct {
	// Workers bounds concurrent item scans; 0 means runtime.NumCPU().
	Workers int
	// ChunkSize is the read size for streamed items; 0 means DefaultChunkSize.
	ChunkSize int
	// Decoders see through encodings and containers; nil means the
	// rules alone, on plain bytes.
	Decoders []Decoder
	// MaxDepth bounds how many decodings are stacked (a base64 of a gzip
	// of a tar is 3); 0 means MaxNesting. An encoded view found deeper is
	// not decoded: a note for text, an error for a container.
	MaxDepth int
	// MaxDecodedBytes is the budget of decoded bytes of one top-level
	// item, shared by its whole chain of nested containers (every level's
	// output counts); 0 means DefaultMaxDecodedBytes. Reaching it is an
	// error naming the item and the budget.
	MaxDecodedBytes int64
	// Exclude, if set, drops the findings at the paths it matches (after
	// a source's Finish, so history findings are matched on their
	// attributed paths), counted in a note. Sources that know paths before
	// reading (the directory walker) skip excluded paths instead.
	Exclude func(path string) bool
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

// Fingerprints returns the fingerprints of every key in data, as a scan
// with opts finds them (decoded views included), allow markers ignored:
// a key that was committed is committed, whatever its line says.
func Fingerprints(ctx context.Context, opts Options, data []byte) map[string]bool {
	opts.IgnoreAllowMarkers = true
	opts.Workers, opts.Progress, opts.Exclude = 1, nil, nil
	res, _ := New(opts).Run(ctx, ItemList{{Data: data, Source: SourceStdin, Path: "(content)"}})
	fps := make(map[string]bool, len(res.Findings))
	for _, f := range res.Findings {
		fps[f.Fingerprint] = true
	}
	return fps
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
// concurrency in a scan, and the one place that decides, from what every
// item's read came to, what the coverage account says (DESIGN §3).
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
	if opts.MaxDepth <= 0 || opts.MaxDepth > MaxNesting {
		opts.MaxDepth = MaxNesting
	}
	if opts.MaxDecodedBytes <= 0 {
		opts.MaxDecodedBytes = DefaultMaxDecodedBytes
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
	raw := dedupeDecoded(append([]Finding(nil), r.findings...))
	r.mu.Unlock()
	var finErr error
	if fin, ok := src.(Finisher); ok && ctx.Err() == nil && srcErr == nil {
		raw, finErr = fin.Finish(ctx, raw, r)
	}
	raw = r.dropExcluded(raw)
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

// dedupeDecoded keeps one finding per key and line of an item: the same
// key reached through two decodings of one line (a percent-encoded line
// holding base64, decoded both ways) is one finding, the one with the
// shortest chain of decodings.
func dedupeDecoded(fs []Finding) []Finding {
	type where struct {
		source, object, path, part, fp string
		line                           int
	}
	best := make(map[where]int, len(fs))
	kept := fs[:0]
	for _, f := range fs {
		k := where{f.Source, f.Object, f.Path, f.Part, f.Fingerprint, f.Line}
		i, seen := best[k]
		switch {
		case !seen:
			best[k] = len(kept)
			kept = append(kept, f)
		case simplerThan(f, kept[i]):
			kept[i] = f
		}
	}
	return kept
}

// simplerThan prefers fewer decodings, then the earlier column.
func simplerThan(a, b Finding) bool {
	if da, db := decodings(a.Encoding), decodings(b.Encoding); da != db {
		return da < db
	}
	return a.Column < b.Column
}

// decodings counts the decodings in a chain.
func decodings(chain string) int {
	if chain == "" {
		return 0
	}
	return strings.Count(chain, "/") + 1
}

// dropExcluded removes the findings at excluded paths and says how many.
func (r *run) dropExcluded(fs []Finding) []Finding {
	ex := r.e.opts.Exclude
	if ex == nil {
		return fs
	}
	kept := fs[:0]
	n := 0
	for _, f := range fs {
		if f.Path != "" && ex(f.Path) {
			n++
			continue
		}
		kept = append(kept, f)
	}
	if n > 0 {
		r.Note(fmt.Sprintf("%d finding(s) at excluded paths were dropped", n))
	}
	return kept
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
		r.scanTop(ctx, it)
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

// scanWindow runs the rules and the decoders over window, records the
// keys and decodes the runs of encoded text whose start lies in
// [ownStart, ownEnd), and returns the line state advanced to ownEnd
// (unchanged when last: nothing follows). base is the absolute offset of
// window[0]; end says no contiguous byte follows the window.
func (r *run) scanWindow(v *view, window []byte, base int64, ownStart, ownEnd int, ls lineState, end, last bool) lineState {
	findKeys(window, ls.binary, func(h hit) {
		if h.Start < ownStart || h.Start >= ownEnd {
			return
		}
		if r.suppressed(v, rules.Allowed(window, h.Start, h.End)) {
			return
		}
		r.record(v, window, base, ownStart, ls, h)
	})
	if len(r.e.opts.Decoders) > 0 {
		w := &spanWindow{data: window, base: base, ownStart: ownStart, ownEnd: ownEnd, ls: ls, end: end}
		r.continueSpans(v, w)
		r.findSpans(v, w)
	}
	if last {
		return ls
	}
	return ls.advance(window[ownStart:ownEnd], base+int64(ownStart))
}

// suppressed reports whether a key is on a line with an allow marker (its
// own, or the line of the encoded text it was decoded from), and counts
// it: a suppression is never silent.
func (r *run) suppressed(v *view, marked bool) bool {
	if r.e.opts.IgnoreAllowMarkers || !(marked || v.lv.anchor.isMarked()) {
		return false
	}
	r.allowMarked.Add(1)
	return true
}

// record turns a hit into a finding. Line and column are computed here,
// only for the rare windows that hold a key.
func (r *run) record(v *view, window []byte, base int64, ownStart int, ls lineState, h hit) {
	line, col := ls.position(window, base, ownStart, h.Start)
	off := base + int64(h.Start)
	if a := v.lv.anchor; a != nil {
		line, col = a.place(line, col)
		off = a.off
	}
	key := string(h.Key)
	it := &v.sk.it
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
	f.Encoding = v.lv.enc
	f.Object = it.Object
	f.Offset = off
	r.emit(&v.sk, f)
}

// emit hands a finding to where it belongs: the result, or the container
// being expanded, which keeps it until all its members are scanned.
func (r *run) emit(sk *sink, f Finding) {
	switch {
	case sk.to == nil:
		r.mu.Lock()
		r.findings = append(r.findings, f)
		r.mu.Unlock()
	case sk.raw:
		sk.to.raw = append(sk.to.raw, f)
	default:
		sk.to.add(f)
	}
}

// sink says where the findings of one stream of bytes go.
type sink struct {
	it Item
	// to is the container frame that collects them; nil sends them to
	// the result directly.
	to *frame
	// raw marks the container's own bytes (not a member's): those
	// findings are kept only for keys no member holds.
	raw bool
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
