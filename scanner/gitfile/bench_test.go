package gitfile

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/xaiscan/xaiscan/scanner"
)

// repoPack is a pack of this repository's own history: real objects,
// real deltas.
func repoPack(b *testing.B) []byte {
	pack := gitOut(b, ".", "", "pack-objects", "-q", "--stdout", "--all", "--delta-base-offset")
	if len(pack) < 1<<20 {
		b.Skip("repository history too small to measure")
	}
	return pack
}

type discard struct {
	n     int64
	skips []scanner.Skipped
}

func (d *discard) Scan(it scanner.Item) error {
	rc, err := it.Open()
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, rc)
	d.n += n
	rc.Close()
	return err
}

func (d *discard) Skip(s scanner.Skipped) { d.skips = append(d.skips, s) }

// BenchmarkDecodePack decodes every object, deltas rebuilt.
func BenchmarkDecodePack(b *testing.B) {
	pack := repoPack(b)
	b.SetBytes(int64(len(pack)))
	for b.Loop() {
		d := &discard{}
		if err := (Decoder{}).Open(context.Background(), scanner.Item{Path: "p"}, bytes.NewReader(pack), d); err != nil || len(d.skips) > 0 {
			b.Fatalf("Open: %v, coverage %v", err, d.skips)
		}
	}
}

// BenchmarkInflateOnly is the baseline: go-git's scanner inflating every
// entry (deltas left as deltas).
func BenchmarkInflateOnly(b *testing.B) {
	pack := repoPack(b)
	b.SetBytes(int64(len(pack)))
	for b.Loop() {
		s := packfile.NewScanner(bytes.NewReader(pack))
		_, n, err := s.Header()
		if err != nil {
			b.Fatal(err)
		}
		for range n {
			if _, err := s.NextObjectHeader(); err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.NextObject(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	}
}
