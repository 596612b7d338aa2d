package decode

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/archive"
)

func TestZZPerf(t *testing.T) {
	root := os.Getenv("ZZ_ROOT")
	if root == "" {
		t.Skip()
	}
	var wins [][]byte
	total := 0
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || total > 400<<20 {
			return nil
		}
		b, _ := os.ReadFile(p)
		for len(b) > 0 {
			n := min(len(b), 1<<20)
			wins = append(wins, b[:n])
			total += n
			b = b[n:]
		}
		return nil
	})
	run := func(name string, f func(w []byte)) {
		st := time.Now()
		for _, w := range wins {
			f(w)
		}
		d := time.Since(st)
		t.Logf("%-12s %6.0f MB/s", name, float64(total)/d.Seconds()/1e6)
	}
	run("rules", func(w []byte) { rules.Find(w, func(rules.Match) {}) })
	run("idx =\\n", func(w []byte) { bytes.Index(w, []byte("=\n")) })
	run("idx =\\r\\n", func(w []byte) { bytes.Index(w, []byte("=\r\n")) })
	run("idxbyte %", func(w []byte) { bytes.IndexByte(w, '%') })
	run("idxbyte ^", func(w []byte) { bytes.IndexByte(w, 0x7f) })
	run("count nl", func(w []byte) { bytes.Count(w, []byte("\n")) })
	ds := append(Decoders(), archive.PDFFlate{})
	for _, d := range ds {
		n, long, atEnd := 0, 0, 0
		run(typeName(d), func(w []byte) { d.Spans(w, func(s scanner.Span) { n++; long = max(long, s.End-s.Start); if s.End == len(w) { atEnd++ } }) })
		t.Logf("   spans %d longest %d at-end %d", n, long, atEnd)
	}
}

func typeName(d scanner.Decoder) string {
	switch d.(type) {
	case Base64Text:
		return "base64"
	case UTF16Text:
		return "utf16"
	case JSONEscape:
		return "json"
	case HTMLEntity:
		return "html"
	case Percent:
		return "percent"
	case QuotedPrintable:
		return "qp"
	}
	return "pdf"
}
