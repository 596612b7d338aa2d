package scanner_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/decode"
)

func streamed(path string, data []byte) scanner.Item {
	return scanner.Item{Path: path, Source: scanner.SourceFile, Counts: scanner.CountFile,
		Open: func() (io.ReadCloser, error) {
			// OneByteReader would be too slow for big inputs; a half reader
			// still makes reads short, as pipes do.
			return io.NopCloser(iotest.HalfReader(bytes.NewReader(data))), nil
		}}
}

// wantPos computes the line and byte column of offset off the simple way.
func wantPos(data []byte, off int) (line, col int) {
	line = bytes.Count(data[:off], []byte("\n")) + 1
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

// Keys placed at every offset around the chunk boundaries must each be
// found exactly once, with the line and column a whole-buffer count gives.
func TestChunkBoundaries(t *testing.T) {
	const chunk = 4096
	eng := scanner.New(scanner.Options{ChunkSize: chunk, Workers: 2})
	key := rulestest.APIKey()
	// The windows of a stream start at 0, then advance by chunk-Reach each
	// time; probe the first three boundaries at every offset a key
	// could straddle.
	step := chunk - scanner.Reach
	for b := 1; b <= 3; b++ {
		for delta := -len(key) - 2; delta <= 2; delta++ {
			// Lines of varying length so line/column tracking across
			// windows is exercised, not just offsets.
			var sb strings.Builder
			for i := 0; sb.Len() < b*step+2*chunk; i++ {
				fmt.Fprintf(&sb, "line %d %s\n", i, strings.Repeat("=", i%97))
			}
			data := []byte(sb.String())
			off := b*step + delta
			copy(data[off:], " "+key+" ")
			off++ // the key starts after the space
			res, err := eng.Run(context.Background(), scanner.ItemList{streamed("f", data)})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Findings) != 1 {
				t.Fatalf("boundary %d delta %d: %d findings, want 1", b, delta, len(res.Findings))
			}
			f := res.Findings[0]
			line, col := wantPos(data, off)
			if f.Line != line || f.Column != col || f.Offset != int64(off) {
				t.Fatalf("boundary %d delta %d: at %d:%d (offset %d), want %d:%d (offset %d)",
					b, delta, f.Line, f.Column, f.Offset, line, col, off)
			}
			if f.Key != key || f.Secret != rules.Redact(key) || f.Fingerprint != rules.Fingerprint([]byte(key)) {
				t.Fatalf("finding fields wrong: %s %s", f.Secret, f.Fingerprint)
			}
		}
	}
}

// A body longer than 80 characters that straddles a boundary must not be
// reported as a key by the window that sees only its first 80.
func TestNoFalseKeyAtBoundary(t *testing.T) {
	const chunk = 4096
	eng := scanner.New(scanner.Options{ChunkSize: chunk})
	long := rulestest.APIKey() + "abcdef" // 86 characters: not a key
	data := bytes.Repeat([]byte("y"), 3*chunk)
	for off := chunk - scanner.Reach - 100; off < chunk-scanner.Reach+10; off++ {
		d := append([]byte(nil), data...)
		copy(d[off:], " "+long+" ")
		res, err := eng.Run(context.Background(), scanner.ItemList{streamed("f", d)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 0 {
			t.Fatalf("offset %d: reported a truncated over-long body", off)
		}
	}
}

func TestDataAndStreamAgree(t *testing.T) {
	text, keys := rulestest.Fill("a\n  KEY={{KEY}}\nb={{MGMT}}\n\n\tc: {{KEY}}  # again\n")
	data := []byte(text)
	eng := scanner.New(scanner.Options{})
	res, err := eng.Run(context.Background(), scanner.ItemList{
		{Path: "mem", Source: scanner.SourceFile, Data: data, Counts: scanner.CountFile},
		streamed("stream", data),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 6 {
		t.Fatalf("%d findings, want 6", len(res.Findings))
	}
	want := [][2]int{{2, 7}, {3, 3}, {5, 5}}
	for i, f := range res.Findings {
		w := want[i%3]
		if f.Line != w[0] || f.Column != w[1] {
			t.Errorf("%s: finding at %d:%d, want %d:%d", f.Path, f.Line, f.Column, w[0], w[1])
		}
	}
	if res.Findings[1].Rule != rules.ManagementKey || res.Findings[1].Key != keys["MGMT"] {
		t.Errorf("second finding should be the management key")
	}
	if res.Coverage.Files != 2 || res.Coverage.Bytes != int64(2*len(data)) {
		t.Errorf("coverage %+v", res.Coverage)
	}
}

func TestAllowMarkerSuppressesInEngine(t *testing.T) {
	text, _ := rulestest.Fill("k={{KEY}} # xaiscan:allow\nk2={{KEY2}}\n")
	res, err := scanner.New(scanner.Options{}).Run(context.Background(),
		scanner.ItemList{{Path: "x", Data: []byte(text), Source: scanner.SourceFile}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Line != 2 {
		t.Fatalf("want only the unmarked key, got %+v", res.Findings)
	}
	if res.Coverage.AllowMarked != 1 {
		t.Errorf("AllowMarked = %d, want 1", res.Coverage.AllowMarked)
	}
	res, err = scanner.New(scanner.Options{IgnoreAllowMarkers: true}).Run(context.Background(),
		scanner.ItemList{{Path: "x", Data: []byte(text), Source: scanner.SourceFile}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 2 || res.Coverage.AllowMarked != 0 {
		t.Fatalf("ignoring markers: %d findings (want 2), AllowMarked %d", len(res.Findings), res.Coverage.AllowMarked)
	}
	merged := scanner.Merge(scanner.Result{Coverage: scanner.Coverage{AllowMarked: 2}}, scanner.Result{Coverage: scanner.Coverage{AllowMarked: 3}})
	if merged.Coverage.AllowMarked != 5 {
		t.Errorf("Merge: AllowMarked %d, want 5", merged.Coverage.AllowMarked)
	}
}

func TestOpenAndReadErrorsAreSkipped(t *testing.T) {
	boom := errors.New("disk on fire")
	res, err := scanner.New(scanner.Options{}).Run(context.Background(), scanner.ItemList{
		{Path: "cannot-open", Source: scanner.SourceFile, Open: func() (io.ReadCloser, error) { return nil, boom }},
		{Path: "cannot-read", Source: scanner.SourceFile, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(iotest.ErrReader(boom)), nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Coverage.Partial() || len(res.Coverage.Skipped) != 2 {
		t.Fatalf("want 2 error skips, got %+v", res.Coverage.Skipped)
	}
	for _, s := range res.Coverage.Skipped {
		if !s.IsError() || !strings.Contains(s.Reason, "disk on fire") {
			t.Errorf("skip %+v lacks the cause", s)
		}
	}
}

// blockingReader never returns: only cancellation can end a scan of it.
type blockingReader struct{ ctx context.Context }

func (b blockingReader) Read(p []byte) (int, error) {
	<-b.ctx.Done()
	return 0, b.ctx.Err()
}

// Workers stuck on reads that never finish, and a source stuck waiting for
// a free worker: cancellation (Ctrl-C) must still end the scan.
func TestCancellationStopsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	src := scanner.SourceFunc(func(ctx context.Context, feed scanner.Feed) error {
		for i := 0; ; i++ {
			it := scanner.Item{Path: fmt.Sprint(i), Source: scanner.SourceFile,
				Open: func() (io.ReadCloser, error) { return io.NopCloser(blockingReader{ctx}), nil }}
			if err := feed.Send(ctx, it); err != nil {
				return err
			}
		}
	})
	res, err := scanner.New(scanner.Options{Workers: 2}).Run(ctx, src)
	if err != nil {
		t.Fatalf("Run returned %v, want nil with Interrupted", err)
	}
	if !res.Interrupted {
		t.Fatal("result not marked interrupted")
	}
}

func TestFindingsAreSorted(t *testing.T) {
	k := rulestest.APIKey()
	var items scanner.ItemList
	for _, p := range []string{"z", "a/b", "a", "m"} {
		items = append(items, scanner.Item{Path: p, Source: scanner.SourceFile, Data: []byte("\n\n" + k + "\n" + k)})
	}
	res, err := scanner.New(scanner.Options{Workers: 4}).Run(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s:%d", f.Path, f.Line))
	}
	want := "a:3 a:4 a/b:3 a/b:4 m:3 m:4 z:3 z:4"
	if strings.Join(got, " ") != want {
		t.Fatalf("order %v, want %s", got, want)
	}
}

// fakeExpander claims items whose content starts with "ARCHIVE" and fails
// to unpack them with err, as a truncated (or otherwise unreadable)
// archive would.
type fakeExpander struct {
	scanner.NoSpans
	err error
}

func (fakeExpander) Opens(it scanner.Item, head []byte) bool {
	return bytes.HasPrefix(head, []byte("ARCHIVE"))
}

func (x fakeExpander) Open(ctx context.Context, it scanner.Item, r io.Reader, m scanner.Members) error {
	io.CopyN(io.Discard, r, 10) // reads a little, as a parser does before it gives up
	return x.err
}

// errMalformed is a decoder's complaint about its input.
var errMalformed = fmt.Errorf("truncated archive: %w", scanner.ErrMalformed)

// A container whose structure is damaged is scanned as raw bytes too —
// in memory, streamed, and read once (its bytes are teed off as the
// expander reads them) — so the damage is a note, not an error. Any other
// reason an expander stops is an error.
func TestBrokenContainer(t *testing.T) {
	text, keys := rulestest.Fill("ARCHIVE header\nstored member: {{KEY}}\n")
	items := func() scanner.ItemList {
		once := streamed("stdin.tar", []byte(text))
		once.Once = true
		return scanner.ItemList{{Path: "mem.tar", Source: scanner.SourceFile, Data: []byte(text)}, streamed("a.tar", []byte(text)), once}
	}
	res, err := scanner.New(scanner.Options{Decoders: []scanner.Decoder{fakeExpander{err: errMalformed}}}).Run(context.Background(), items())
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range res.Findings {
		if f.Key != keys["KEY"] || f.Line != 2 {
			t.Errorf("%s: finding at line %d", f.Path, f.Line)
		}
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "a.tar mem.tar stdin.tar" {
		t.Fatalf("raw-scanned %v, want all three", paths)
	}
	if res.Coverage.Partial() || len(res.Coverage.Skipped) != 3 {
		t.Fatalf("want 3 notes, got %+v", res.Coverage.Skipped)
	}
	for _, s := range res.Coverage.Skipped {
		if s.Kind != scanner.KindNote || !strings.Contains(s.Reason, "truncated archive") || !strings.Contains(s.Reason, "raw bytes") {
			t.Errorf("%s: %+v", s.Path, s)
		}
	}

	res, err = scanner.New(scanner.Options{Decoders: []scanner.Decoder{fakeExpander{err: errors.New("cannot spool")}}}).Run(context.Background(), items())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 3 || !res.Coverage.Partial() || len(res.Coverage.Skipped) != 3 {
		t.Fatalf("findings %d, skipped %+v", len(res.Findings), res.Coverage.Skipped)
	}
	for _, s := range res.Coverage.Skipped {
		if !s.IsError() || s.Reason != "cannot spool" {
			t.Errorf("%+v", s)
		}
	}
}

// passExpander claims "ARCHIVE" items and hands their whole content on as
// one member, through a reader built by wrap (nil: as it is).
type passExpander struct {
	scanner.NoSpans
	wrap func(io.Reader) io.Reader
}

func (passExpander) Opens(it scanner.Item, head []byte) bool {
	return bytes.HasPrefix(head, []byte("ARCHIVE")) && !strings.Contains(it.Path, "!")
}

func (x passExpander) Open(ctx context.Context, it scanner.Item, r io.Reader, m scanner.Members) error {
	if x.wrap != nil {
		r = x.wrap(r)
	}
	return m.Scan(scanner.Item{Path: it.Path + "!member", Source: it.Source, Size: -1, Once: true,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }})
}

// A key both in a container's raw bytes and in its member (a tar's stored
// member) is reported once, from the member.
func TestKeyInRawAndMemberReportedOnce(t *testing.T) {
	text, _ := rulestest.Fill("ARCHIVE\nk={{KEY}}\n")
	res, err := scanner.New(scanner.Options{Decoders: []scanner.Decoder{passExpander{}}}).Run(context.Background(), scanner.ItemList{
		{Path: "mem", Source: scanner.SourceFile, Data: []byte(text)}, streamed("stream", []byte(text)),
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s:%d", f.Path, f.Line))
	}
	if strings.Join(got, " ") != "mem!member:2 stream!member:2" || len(res.Coverage.Skipped) != 0 {
		t.Fatalf("findings %v, skipped %+v", got, res.Coverage.Skipped)
	}
}

// dataThenError returns all its data together with err, in one Read.
type dataThenError struct {
	data []byte
	err  error
}

func (d *dataThenError) Read(p []byte) (int, error) {
	if len(d.data) == 0 {
		return 0, d.err
	}
	n := copy(p, d.data)
	d.data = d.data[n:]
	if len(d.data) == 0 {
		return n, d.err
	}
	return n, nil
}

// Bytes that arrive together with a read error are matched before the
// error is recorded: for a file (an error), and for a member whose decoder
// hit damage (a note on its container).
func TestBytesWithErrorAreScanned(t *testing.T) {
	text, keys := rulestest.Fill("a\nk={{KEY}}")
	boom := errors.New("device error")
	res, err := scanner.New(scanner.Options{ChunkSize: 4096}).Run(context.Background(), scanner.ItemList{
		{Path: "f", Source: scanner.SourceFile, Open: func() (io.ReadCloser, error) {
			return io.NopCloser(&dataThenError{data: []byte(text), err: boom}), nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Key != keys["KEY"] || res.Findings[0].Line != 2 {
		t.Fatalf("findings %+v", res.Findings)
	}
	if len(res.Coverage.Skipped) != 1 || !res.Coverage.Partial() || !strings.Contains(res.Coverage.Skipped[0].Reason, "device error") {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}

	member := passExpander{wrap: func(r io.Reader) io.Reader {
		b, _ := io.ReadAll(r)
		return &dataThenError{data: b, err: errMalformed}
	}}
	arch := "ARCHIVE\n" + text
	res, err = scanner.New(scanner.Options{ChunkSize: 4096, Decoders: []scanner.Decoder{member}}).Run(context.Background(), scanner.ItemList{streamed("x.tar", []byte(arch))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Path != "x.tar!member" {
		t.Fatalf("findings %+v", res.Findings)
	}
	if len(res.Coverage.Skipped) != 1 || res.Coverage.Partial() ||
		!strings.Contains(res.Coverage.Skipped[0].Reason, "truncated archive: malformed container (in member member, at byte") {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
}

// sparseContent is a HoleReader over data runs at offsets; between them
// are holes.
type sparseContent struct {
	runs []run
	i    int
	pos  int64
}

type run struct {
	at   int64
	data string
}

func (s *sparseContent) DataOffset() int64 {
	if s.i < len(s.runs) && s.pos < s.runs[s.i].at {
		s.pos = s.runs[s.i].at
	}
	return s.pos
}

func (s *sparseContent) Read(p []byte) (int, error) {
	if s.i == len(s.runs) {
		return 0, io.EOF
	}
	r := s.runs[s.i]
	s.DataOffset()
	n := copy(p, r.data[s.pos-r.at:])
	s.pos += int64(n)
	if s.pos == r.at+int64(len(r.data)) {
		s.i++
	}
	return n, nil
}

func (s *sparseContent) Close() error { return nil }

// Holes are skipped, not read: a terabyte of them costs nothing. Lines,
// columns and offsets stay those of the real content (holes hold no
// newlines; their zeros count in a column like any byte), and a
// hole is a NUL boundary: keys right before and after one are found,
// never glued to what lies across it.
func TestHolesAreSkipped(t *testing.T) {
	k1, k2, k3 := rulestest.APIKey(), rulestest.APIKey(), rulestest.APIKey()
	const tb = int64(1) << 40
	runs := []run{
		{0, "first line\nsecond: " + k1},
		{tb, "abc"},         // would glue to k1's end without the hole
		{2 * tb, k2 + "\n"}, // right after a hole, on line 2 still
		{3 * tb, "x=" + k3}, // line 3
		{4 * tb, "tail"},
	}
	res, err := scanner.New(scanner.Options{ChunkSize: 4096}).Run(context.Background(), scanner.ItemList{
		{Path: "sparse", Source: scanner.SourceFile, Open: func() (io.ReadCloser, error) { return &sparseContent{runs: runs}, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Coverage.Bytes > 1000 || len(res.Coverage.Skipped) != 0 {
		t.Fatalf("coverage %+v", res.Coverage)
	}
	want := []struct {
		key       string
		line, col int
		off       int64
	}{
		{k1, 2, 9, int64(len("first line\nsecond: "))},
		{k2, 2, int(2*tb - 11 + 1), 2 * tb},
		// Columns count bytes, and a hole's zeros are bytes of its line.
		{k3, 3, int(3*tb + 2 - (2*tb + int64(len(k2)) + 1) + 1), 3*tb + 2},
	}
	if len(res.Findings) != len(want) {
		t.Fatalf("%d findings, want %d", len(res.Findings), len(want))
	}
	for i, w := range want {
		f := res.Findings[i]
		if f.Key != w.key || f.Line != w.line || f.Column != w.col || f.Offset != w.off {
			t.Errorf("key %d: at %d:%d offset %d, want %d:%d offset %d", i+1, f.Line, f.Column, f.Offset, w.line, w.col, w.off)
		}
	}
}

// Content that starts with a hole is binary (it starts with NULs), so
// keys glued to other strings are found, as in any binary.
func TestLeadingHoleIsBinary(t *testing.T) {
	key := rulestest.APIKey()
	runs := []run{{1 << 30, "spans" + key + "reflect"}}
	res, err := scanner.New(scanner.Options{}).Run(context.Background(), scanner.ItemList{
		{Path: "s", Source: scanner.SourceFile, Open: func() (io.ReadCloser, error) { return &sparseContent{runs: runs}, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Offset != 1<<30+5 {
		t.Fatalf("findings %+v", res.Findings)
	}
}

// The decoded-bytes budget is charged by every member's bytes, whatever
// their ratio; reaching it is one error naming the item, the budget and
// the flag. A member that ends exactly at the budget is no error.
func TestBudget(t *testing.T) {
	text, _ := rulestest.Fill("ARCHIVE\nk={{KEY}}\n")
	big := text + strings.Repeat("log line\n", 2000)
	for _, c := range []struct {
		budget int64
		err    bool
	}{{int64(len(big)), false}, {int64(len(big)) - 1, true}, {100, true}} {
		res, err := scanner.New(scanner.Options{Decoders: []scanner.Decoder{passExpander{}}, MaxDecodedBytes: c.budget}).
			Run(context.Background(), scanner.ItemList{streamed("big.log.gz", []byte(big))})
		if err != nil {
			t.Fatal(err)
		}
		if res.Coverage.Partial() != c.err {
			t.Fatalf("budget %d: skipped %+v", c.budget, res.Coverage.Skipped)
		}
		if !c.err {
			continue
		}
		if len(res.Coverage.Skipped) != 1 {
			t.Fatalf("budget %d: skipped %+v", c.budget, res.Coverage.Skipped)
		}
		s := res.Coverage.Skipped[0]
		if s.Path != "big.log.gz" || !strings.Contains(s.Reason, fmt.Sprintf("budget of %s reached at big.log.gz!member", scanner.SizeString(c.budget))) ||
			!strings.Contains(s.Reason, "--max-decoded-bytes") {
			t.Errorf("budget %d: %+v", c.budget, s)
		}
	}
}

// Exclude drops findings at excluded paths after the source is done (for
// history, once paths are attributed) and says how many.
func TestExcludeDropsFindings(t *testing.T) {
	text, _ := rulestest.Fill("k={{KEY}}\n")
	res, err := scanner.New(scanner.Options{Exclude: func(p string) bool { return strings.HasPrefix(p, "vendor/") }}).
		Run(context.Background(), scanner.ItemList{
			{Path: "vendor/x", Source: scanner.SourceGit, Data: []byte(text)},
			{Path: "src/y", Source: scanner.SourceGit, Data: []byte(text)},
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Path != "src/y" || len(res.Coverage.Notes) != 1 ||
		!strings.Contains(res.Coverage.Notes[0], "1 finding(s) at excluded paths") {
		t.Fatalf("findings %+v notes %v", res.Findings, res.Coverage.Notes)
	}
}

// stuckReader blocks forever, ignoring cancellation, as a read from a pipe
// whose writer never writes does.
type stuckReader struct{ release chan struct{} }

func (s stuckReader) Read(p []byte) (int, error) {
	<-s.release
	return 0, io.EOF
}

// Ctrl-C must end a scan even when a worker is stuck in such a read: the
// engine gives up on it after the grace period and says so.
func TestCancellationAbandonsStuckReads(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	eng := scanner.New(scanner.Options{CancelGrace: 50 * time.Millisecond})
	res, err := eng.Run(ctx, scanner.ItemList{{Path: "pipe", Source: scanner.SourceStdin,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(stuckReader{release}), nil }}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || !res.Coverage.Partial() {
		t.Fatalf("want an interrupted, partial result; got %+v", res)
	}
}

// utf16 encodes s with a byte-order mark.
func utf16(s string, bigEndian bool) []byte {
	out := []byte{0xFF, 0xFE}
	if bigEndian {
		out = []byte{0xFE, 0xFF}
	}
	for _, r := range s {
		hi, lo := byte(r>>8), byte(r)
		if bigEndian {
			out = append(out, hi, lo)
		} else {
			out = append(out, lo, hi)
		}
	}
	return out
}

// In a UTF-16 file (with BOM) lines are UTF-16 newlines and columns count
// code units: characters whose code holds a 0x0A byte (U+4E0A, U+010A) are
// not newlines.
func TestUTF16LinesAndColumns(t *testing.T) {
	key := rulestest.APIKey()
	text := "\u4e0a\u4e0a\r\n\u010a x\n  key=" + key + "\n"
	for _, be := range []bool{false, true} {
		data := utf16(text, be)
		eng := scanner.New(scanner.Options{Decoders: decode.Decoders(), ChunkSize: 4096})
		res, err := eng.Run(context.Background(), scanner.ItemList{
			{Path: "mem", Source: scanner.SourceFile, Data: data},
			streamed("stream", data),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Findings) != 2 {
			t.Fatalf("big-endian %v: %d findings, want 2", be, len(res.Findings))
		}
		for _, f := range res.Findings {
			if f.Line != 3 || f.Column != 7 || f.Key != key {
				t.Errorf("big-endian %v, %s: at %d:%d, want 3:7", be, f.Path, f.Line, f.Column)
			}
		}
	}
}

// Line counting across windows agrees with a whole-buffer count for UTF-16
// too (keys placed past several chunk boundaries).
func TestUTF16LinesAcrossWindows(t *testing.T) {
	key := rulestest.APIKey()
	var sb strings.Builder
	for i := 0; sb.Len() < 20000; i++ {
		fmt.Fprintf(&sb, "\u4e0a line %d\n", i)
	}
	lines := strings.Count(sb.String(), "\n")
	sb.WriteString("k=" + key + "\n")
	data := utf16(sb.String(), false)
	eng := scanner.New(scanner.Options{Decoders: decode.Decoders(), ChunkSize: 4096})
	res, err := eng.Run(context.Background(), scanner.ItemList{streamed("s", data)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Line != lines+1 || res.Findings[0].Column != 3 {
		t.Fatalf("findings %+v, want line %d column 3", res.Findings, lines+1)
	}
}

// A key compiled into a binary touches the strings around it; the engine
// reads items that start with a NUL-bearing header as binary and finds it,
// while the same bytes in a text file stay a non-match.
func TestBinaryItemsFindGluedKeys(t *testing.T) {
	key := rulestest.APIKey()
	glued := "spans" + key + "reflect"
	binary := append([]byte("\x7fELF\x02\x01\x01\x00\x00\x00"), bytes.Repeat([]byte("text "), 3000)...)
	binary = append(binary, glued...)
	res, err := scanner.New(scanner.Options{ChunkSize: 4096}).Run(context.Background(), scanner.ItemList{
		{Path: "mem.bin", Source: scanner.SourceFile, Data: binary},
		streamed("stream.bin", binary),
		{Path: "text.txt", Source: scanner.SourceFile, Data: []byte("a " + glued)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range res.Findings {
		if f.Key != key {
			t.Errorf("%s: wrong key", f.Path)
		}
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "mem.bin stream.bin" {
		t.Fatalf("found in %v, want the two binary items only", paths)
	}
}

// finishingSource records a skip and a note from Finish, as the history
// source does for trees it cannot read while attributing.
type finishingSource struct{ scanner.ItemList }

func (finishingSource) Finish(ctx context.Context, raw []scanner.Finding, feed scanner.Feed) ([]scanner.Finding, error) {
	feed.Skip(scanner.Skipped{Path: "tree", Reason: "unreadable", Kind: scanner.KindError})
	feed.Note("attributed")
	return raw, nil
}

func TestFinisherSkipsAndNotesAreKept(t *testing.T) {
	res, err := scanner.New(scanner.Options{}).Run(context.Background(),
		finishingSource{scanner.ItemList{{Path: "a", Source: scanner.SourceGit, Data: []byte("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Coverage.Partial() || len(res.Coverage.Notes) != 1 {
		t.Fatalf("coverage lost what Finish recorded: %+v", res.Coverage)
	}
}
