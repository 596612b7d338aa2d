// End-to-end tests of the span decoders through the recursive engine of
// issue 11. They assume scanner.Options.Decoders (the lead's engine);
// the lead removes the build tag once it is merged.

package decode

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// scanDecoders runs the real engine with the span decoders and small
// chunks, so runs cross window boundaries.
func scanDecoders(t *testing.T, items ...scanner.Item) scanner.Result {
	t.Helper()
	res, err := scanner.New(scanner.Options{Decoders: Decoders(), ChunkSize: 4096, Workers: 2}).
		Run(context.Background(), scanner.ItemList(items))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestE2EChains: each shape found once, with its chain and the line where
// the outermost encoded text starts, in an in-memory and a streamed item.
func TestE2EChains(t *testing.T) {
	key := rulestest.APIKey()
	b64 := base64.StdEncoding.EncodeToString
	pad, lines := filler(6000) // pushes the text across the first window
	cases := []struct {
		name, chain string
		text        []byte
	}{
		{"encoded-command", "base64/utf-16le", []byte(pad + "powershell -EncodedCommand " +
			b64(encUTF16("$env:XAI_API_KEY='"+key+"'", false, false)) + "\n")},
		{"dockerconfigjson", "base64/base64", []byte(pad + "  .dockerconfigjson: " +
			b64([]byte(`{"auths":{"r.example.com":{"auth":"`+b64([]byte("u:"+key))+`"}}}`)) + "\n")},
		{"json-wrapped", "base64", []byte(pad + `{"blob":"` +
			strings.ReplaceAll(wrap(b64([]byte("\xff\xfe/KEY="+key+"\n")), 76, `\n`), "/", `\/`) + "\"}\n")},
		{"glued", "base64", []byte(pad + "path: secrets/" + base64.RawURLEncoding.EncodeToString([]byte(key)) + "\n")},
		{"utf-16 holding base64", "utf-16le/base64", encUTF16(pad+"token = "+b64([]byte("Bearer "+key))+"\r\n", false, true)},
	}
	for _, c := range cases {
		res := scanDecoders(t, dataItem(c.name+"/data", c.text), openItem(c.name+"/open", c.text))
		if len(res.Findings) != 2 {
			t.Fatalf("%s: %d findings, want 2 (one per item)", c.name, len(res.Findings))
		}
		for _, f := range res.Findings {
			if f.Key != key || f.Encoding != c.chain || f.Line != lines+1 {
				t.Errorf("%s %s: %s under %q line %d, want %q line %d", c.name, f.Path, f.Secret, f.Encoding, f.Line, c.chain, lines+1)
			}
		}
	}
}

// TestE2ELookalikes: no finding in any encoding of a look-alike.
func TestE2ELookalikes(t *testing.T) {
	var items []scanner.Item
	for name, plain := range lookalikes() {
		for ename, enc := range b64Encodings {
			items = append(items, dataItem(name+"/"+ename, []byte("v: "+enc.EncodeToString([]byte(plain))+"\n")))
		}
		items = append(items, dataItem(name+"/utf-16", encUTF16(plain, false, true)))
	}
	if res := scanDecoders(t, items...); len(res.Findings) != 0 {
		t.Fatalf("%d findings, first in %s", len(res.Findings), res.Findings[0].Path)
	}
}

// TestE2EUTF16OddOffset: a little-endian string at an odd offset of a
// binary is reported as utf-16le (the old detector said utf-16be).
func TestE2EUTF16OddOffset(t *testing.T) {
	key := rulestest.APIKey()
	bin := append([]byte{0x7f, 'E', 'L', 'F', 1, 2, 3}, encUTF16(key, false, false)...)
	bin = append(bin, 0xff, 0xfe, 0)
	res := scanDecoders(t, dataItem("a.bin", bin))
	if len(res.Findings) != 1 || res.Findings[0].Encoding != EncodingUTF16LE {
		t.Fatalf("%+v", res.Findings)
	}
}
