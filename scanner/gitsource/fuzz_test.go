package gitsource

import (
	"bytes"
	"compress/zlib"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// Corrupt input must be an error, never a panic or a runaway allocation.

func FuzzApplyDelta(f *testing.F) {
	f.Add([]byte("hello world"), []byte{11, 5, 0x90, 5})
	f.Add([]byte("abc"), []byte{3, 3, 3, 'x', 'y', 'z'})
	f.Add([]byte{}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, base, delta []byte) {
		out, err := applyDelta(base, delta)
		if err == nil && out == nil {
			t.Fatal("nil result without error")
		}
	})
}

func FuzzParsers(f *testing.F) {
	f.Add([]byte("tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@b> 1 +0000\n\nmsg"))
	f.Add([]byte("100644 a\x00aaaaaaaaaaaaaaaaaaaa40000 d\x00bbbbbbbbbbbbbbbbbbbb"))
	f.Add([]byte("object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v\n\nm"))
	f.Add([]byte{0x95, 0x0a, 0x78, 0x9c})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseCommit(plumbing.ZeroHash, b)
		parseTag(b)
		parseTree(b)
		parseHeader(b, 100)
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(b)
		w.Close()
		inflate(bytes.NewReader(z.Bytes()), int64(len(b)))
		inflate(bytes.NewReader(b), 10)
	})
}
