package gitfile

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/xaiscan/xaiscan/scanner"
)

// FuzzGitFile: whatever the bytes, Open neither panics nor reads beyond
// its caps, and ends with nil, damage (ErrMalformed) or the budget's error.
func FuzzGitFile(f *testing.F) {
	var b packBuilder
	base := []byte("a base object with some text in it\n")
	off := b.blob(base)
	b.ofsDelta(off, deltaOf(uint64(len(base)), 10, cp(0, 5), ins([]byte("hello"))))
	b.refDelta(blobID([]byte("later")), deltaOf(5, 5, cp(0, 5)))
	b.blob([]byte("later"))
	b.entry(typTree, -1, nil, []byte("100644 name\x00aaaaaaaaaaaaaaaaaaaa"))
	pack := b.pack(-1)
	f.Add(pack)
	f.Add(append([]byte("# v2 git bundle\n-0000 prereq\n1111 refs/heads/main\n\n"), pack...))
	f.Add([]byte("# v3 git bundle\n@object-format=sha256\n\nPACK\x00\x00\x00\x02\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Decoder{MaxHeld: 1 << 16}
		it := scanner.Item{Path: "f"}
		if !d.Opens(it, data) {
			return
		}
		r := &recorder{budget: 1 << 20}
		err := d.Open(context.Background(), it, bytes.NewReader(data), r)
		if err != nil && !errors.Is(err, scanner.ErrMalformed) && !errors.Is(err, errBudget) {
			t.Fatalf("Open: unexpected error %v", err)
		}
	})
}
