package archive

// End-to-end tests for the recursive engine of issue 11: they need
// scanner.Options.Decoders and Item.Encoding carried into
// Finding.Encoding. The lead removes the build tag after the merge.

import (
	"context"
	"fmt"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

func scanE2E(t *testing.T, items ...scanner.Item) scanner.Result {
	t.Helper()
	res, err := scanner.New(scanner.Options{ChunkSize: 4096, Workers: 2,
		Decoders: []scanner.Decoder{New(Options{}), PDF{}}}).Run(context.Background(), scanner.ItemList(items))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Chains through the new formats carry their encodings, outermost first.
func TestE2EChains(t *testing.T) {
	key := rulestest.APIKey()
	content := []byte("K=" + key + "\n")
	tarball := makeTar(t, file{"etc/app.env", content})
	pdf := append([]byte("%PDF-1.7\n"), pdfStream(1, "/Filter /FlateDecode", zlibBytes(pageText(key, 0, 3)))...)
	cases := []struct {
		path, member, enc string
		data              []byte
	}{
		{"b.tar.xz", "b.tar.xz!etc/app.env", "xz/tar", xzOf(t, tarball, 0)},
		{"b.tar.zst", "b.tar.zst!etc/app.env", "zstd/tar", zstdOf(t, tarball)},
		{"b.zz", "b.zz!b", "zlib", zlibOf(t, content)},
		{"x.gz.xz", "x.gz.xz!x.gz!x", "xz/gzip", xzOf(t, gz(t, "", content), 0)},
		{"doc.pdf", "doc.pdf", "pdf-flate", pdf},
		{"r.docx", "r.docx!word/document.xml", "ooxml-text", docx(t, runs(key, 9))},
	}
	for _, c := range cases {
		for _, it := range both(c.path, c.data) {
			res := scanE2E(t, it)
			if len(res.Findings) != 1 || len(res.Coverage.Skipped) != 0 {
				t.Fatalf("%s: %d findings, skipped %+v", c.path, len(res.Findings), res.Coverage.Skipped)
			}
			if f := res.Findings[0]; f.Path != c.member || f.Encoding != c.enc {
				t.Errorf("%s: %s %q, want %s %q", c.path, f.Path, f.Encoding, c.member, c.enc)
			}
		}
	}
}

// A 42.zip-style nest of xz-compressed tars of zeros stops at the budget,
// with an error naming the item.
func TestE2ENestedXzBomb(t *testing.T) {
	level := xzOf(t, make([]byte, 1<<20), 0)
	for d := range 3 {
		var files []file
		for i := range 8 {
			files = append(files, file{fmt.Sprintf("l%d-%d.xz", d, i), level})
		}
		level = xzOf(t, makeTar(t, files...), 0)
	}
	res, err := scanner.New(scanner.Options{Decoders: []scanner.Decoder{New(Options{})}, MaxDecodedBytes: 8 << 20}).
		Run(context.Background(), scanner.ItemList{dataItem("nest.tar.xz", level)})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Coverage.Partial() || len(res.Coverage.Skipped) != 1 || res.Coverage.Skipped[0].Path != "nest.tar.xz" {
		t.Fatalf("skipped %+v", res.Coverage.Skipped)
	}
}
