package decode

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// TestUTF16TextOrders: LE and BE, with and without BOM, the key at the
// start, in the middle and at the end of the text: found once, labelled
// with its byte order, and the decoded text keeps the lines, one byte per
// code unit.
func TestUTF16TextOrders(t *testing.T) {
	key := rulestest.APIKey()
	for _, tc := range []struct {
		be, bom bool
		enc     string
	}{{false, true, EncodingUTF16LE}, {false, false, EncodingUTF16LE}, {true, true, EncodingUTF16BE}, {true, false, EncodingUTF16BE}} {
		for _, text := range []string{
			key + "\r\n# rest of the profile\r\nSet-Location C:\\src\r\n",
			"# profile\r\n$env:XAI_API_KEY = \"" + key + "\"\r\n\r\nSet-Location C:\\src\r\n",
			"# profile\r\n$env:XAI_API_KEY = " + key,
		} {
			b := encUTF16(text, tc.be, tc.bom)
			what := fmt.Sprintf("%s bom=%v %.12q", tc.enc, tc.bom, text)
			f := wantOne(t, what, lookAll(t, b), key, tc.enc)
			bomLen := 0
			if tc.bom {
				bomLen = 2
			}
			if f.at != bomLen {
				t.Errorf("%s: located at %d, want %d", what, f.at, bomLen)
			}
			ss := spansOf(UTF16Text{}, b)
			dec, _ := UTF16Text{}.DecodeSpan(nil, b[ss[0].Start:ss[0].End], ss[0])
			if string(dec) != text {
				t.Errorf("%s: decoded %q", what, dec)
			}
			// parent = start + 2*child: the key's code units.
			k := strings.Index(text, key)
			if got := string(b[ss[0].Start+2*k+boolInt(tc.be)]); got != "x" {
				t.Errorf("%s: offset mapping gives %q", what, got)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestUTF16TextOddOffset: a UTF-16 string at every offset of a binary,
// odd ones included, is labelled by its own bytes (the old detector took
// the parity of the offset and called odd little-endian strings big
// endian).
func TestUTF16TextOddOffset(t *testing.T) {
	key := rulestest.APIKey()
	for _, be := range []bool{false, true} {
		want := EncodingUTF16LE
		if be {
			want = EncodingUTF16BE
		}
		for pre := 0; pre < 6; pre++ {
			for _, after := range [][]byte{nil, {0xff, 0xfe, 0x00}, {0x01}} {
				b := append(bytes.Repeat([]byte{0x01}, pre), encUTF16("k="+key, be, false)...)
				b = append(b, after...)
				what := fmt.Sprintf("be=%v offset %d after %q", be, pre, after)
				f := wantOne(t, what, lookAll(t, b), key, want)
				if f.at != pre && !(be && pre > 0 && f.at == pre) {
					t.Errorf("%s: located at %d", what, f.at)
				}
			}
		}
	}
}

// TestUTF16TextZeroPadded: a string between NUL paddings reads both ways
// with the same characters; it is found whichever label it gets.
func TestUTF16TextZeroPadded(t *testing.T) {
	key := rulestest.APIKey()
	for _, be := range []bool{false, true} {
		for pre := 0; pre < 4; pre++ {
			b := append(make([]byte, pre), encUTF16("k="+key, be, false)...)
			b = append(b, 0, 0, 0, 0)
			got := lookAll(t, b)
			if len(got) != 1 || got[0].key != key || !strings.HasPrefix(got[0].chain, "utf-16") {
				t.Fatalf("be=%v pre=%d: %d keys", be, pre, len(got))
			}
		}
	}
}

// TestUTF16TextNonASCII: a letter outside ASCII ends a run on its NUL
// (é is E9 00 in little endian), which leaves runs that read both ways;
// the reading on the file's even offsets wins, in both byte orders.
func TestUTF16TextNonASCII(t *testing.T) {
	key := rulestest.APIKey()
	text := "# réglages de l'équipe\r\n$clé = \"" + key + "\" # données\r\n"
	for _, be := range []bool{false, true} {
		want := EncodingUTF16LE
		if be {
			want = EncodingUTF16BE
		}
		for _, bom := range []bool{false, true} {
			b := encUTF16(text, be, bom)
			wantOne(t, fmt.Sprintf("be=%v bom=%v", be, bom), lookAll(t, b), key, want)
			for _, s := range spansOf(UTF16Text{}, b) {
				if s.Encoding != want {
					t.Errorf("be=%v bom=%v: a span [%d,%d) labelled %s", be, bom, s.Start, s.End, s.Encoding)
				}
			}
		}
	}
}

// TestUTF16TextLookalikes: the look-alikes stay silent in UTF-16 too.
func TestUTF16TextLookalikes(t *testing.T) {
	for name, plain := range lookalikes() {
		if !utf8ASCII(plain) {
			continue // the binary look-alikes have no UTF-16 form to test
		}
		for _, be := range []bool{false, true} {
			wantNone(t, fmt.Sprintf("%s be=%v", name, be), lookAll(t, encUTF16(plain+"\r\n", be, true)))
			wantNone(t, fmt.Sprintf("%s be=%v odd", name, be), lookAll(t, append([]byte{7}, encUTF16(plain, be, false)...)))
		}
	}
	key := rulestest.APIKey()
	wantNone(t, "_ before", lookAll(t, encUTF16("_"+key, false, false)))
}

func utf8ASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestUTF16TextShortRuns: runs shorter than a key are yielded only at the
// window's end, and decode to nothing.
func TestUTF16TextShortRuns(t *testing.T) {
	short := encUTF16(strings.Repeat("a", 83), false, false)
	if ss := spansOf(UTF16Text{}, append(append([]byte{0xff}, short...), 0xff, 0xff)); len(ss) != 0 {
		t.Fatalf("short run: %+v", ss)
	}
	w := append([]byte("text"), short...)
	ss := spansOf(UTF16Text{}, w)
	if len(ss) != 1 || ss[0].End != len(w) {
		t.Fatalf("open short run: %+v", ss)
	}
	if dec, _ := (UTF16Text{}).DecodeSpan(nil, w[ss[0].Start:], ss[0]); len(dec) != 0 {
		t.Fatalf("short run decodes to %q", dec)
	}
	if ss := spansOf(UTF16Text{}, []byte(strings.Repeat("plain text ", 100))); len(ss) != 0 {
		t.Fatalf("plain text: %+v", ss)
	}
}

// TestUTF16TextContinue: a UTF-16 text split at every even offset around
// the key, at an even and an odd start, resumed in the next window: the
// spans end where the whole text's do and the key is found once.
func TestUTF16TextContinue(t *testing.T) {
	key := rulestest.APIKey()
	for _, be := range []bool{false, true} {
		for pre := 0; pre < 2; pre++ {
			b := append(bytes.Repeat([]byte{0xff}, pre), encUTF16("$k = \""+key+"\"\r\n", be, false)...)
			b = append(b, 0xff, 0xff, 0xff)
			whole := decoding(UTF16Text{}, b, spansOf(UTF16Text{}, b))
			if len(whole) != 1 {
				t.Fatalf("be=%v pre=%d: %d spans", be, pre, len(whole))
			}
			for cut := 2; cut < len(b); cut += 2 {
				// The engine's windows overlap; a UTF-16 run needs 2 bytes
				// of it (see UTF16Text.Continue).
				for _, ov := range []int{2, min(cut, 40)} {
					ss := decoding(UTF16Text{}, b, windows(UTF16Text{}, b, cut, ov))
					what := fmt.Sprintf("be=%v pre=%d cut %d overlap %d", be, pre, cut, ov)
					if len(ss) != 1 || ss[0].Start != whole[0].Start || ss[0].End != whole[0].End || ss[0].Tag != whole[0].Tag {
						t.Fatalf("%s: spans %+v, whole %+v", what, ss, whole)
					}
					if keys := keysIn(t, UTF16Text{}, b, ss); len(keys) != 1 || keys[0] != key {
						t.Fatalf("%s: %d keys", what, len(keys))
					}
				}
			}
		}
	}
}

// encUTF16 encodes s in UTF-16, big or little endian, with a BOM if bom.
func encUTF16(s string, be, bom bool) []byte {
	u := utf16.Encode([]rune(s))
	var b []byte
	if bom {
		u = append([]uint16{0xfeff}, u...)
	}
	for _, c := range u {
		if be {
			b = append(b, byte(c>>8), byte(c))
		} else {
			b = append(b, byte(c), byte(c>>8))
		}
	}
	return b
}
