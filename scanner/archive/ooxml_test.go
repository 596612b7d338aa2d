package archive

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// runs splits s into Word runs of about n letters, with formatting and a
// proofing mark between them, as Word writes a word it underlines.
func runs(s string, n int) string {
	var b strings.Builder
	for len(s) > 0 {
		k := min(n, len(s))
		fmt.Fprintf(&b, `<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">%s</w:t></w:r><w:proofErr w:type="spellStart"/>`, s[:k])
		s = s[k:]
	}
	return b.String()
}

func docx(t *testing.T, paras ...string) []byte {
	var body strings.Builder
	for _, p := range paras {
		body.WriteString("<w:p><w:pPr><w:pStyle w:val=\"Normal\"/></w:pPr>" + p + "</w:p>")
	}
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\r\n" +
		`<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>` + body.String() + `</w:body></w:document>`
	return makeZip(t, zip.Deflate, file{"[Content_Types].xml", []byte("<Types/>")}, file{"word/styles.xml", []byte("<w:styles/>")},
		file{"word/document.xml", []byte(doc)})
}

// A key split across runs in the first, a middle and the last paragraph
// of a Word document is found in the text view, on its paragraph's line.
func TestOOXMLRuns(t *testing.T) {
	key := rulestest.APIKey()
	for _, at := range []int{0, 50, 99} {
		var paras []string
		for i := range 100 {
			text := runs(fmt.Sprintf("Paragraph %d &amp; nothing secret.", i), 7)
			if i == at {
				text = runs("The key is ", 100) + runs(key, 9) + runs(" (rotate it).", 100)
			}
			paras = append(paras, text)
		}
		data := docx(t, paras...)
		for _, it := range both("report.docx", data) {
			res := scan(t, Options{}, it)
			if len(res.Coverage.Skipped) != 0 {
				t.Fatalf("skipped %+v", res.Coverage.Skipped)
			}
			foundAt(t, res, key, fmt.Sprintf("report.docx!word/document.xml:%d", at+1))
			if f := res.Findings[0]; f.Column != len("The key is ")+1 {
				t.Errorf("column %d", f.Column)
			}
		}
	}
}

// The text view of a spreadsheet's shared strings and a slide, the text
// joined across runs, entities decoded; paragraphs one per line, those of
// a single run empty (their text is whole in the XML).
func TestOOXMLTextView(t *testing.T) {
	cases := map[string]string{
		`<sst><si><t>plain</t></si><si><r><t>ab</t></r><r><rPr/><t>cd</t></r></si></sst>`:                                "\nabcd\n",
		`<p:sld><a:p><a:r><a:t>x&lt;</a:t></a:r><a:r><a:t>y</a:t></a:r></a:p><a:p><a:r><a:t>z</a:t></a:r></a:p></p:sld>`: "x<y\n\n",
		`<w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del></w:p>`:    "a\tbgone\n",
		`<w:p><w:r><w:t>cut`: "", `<w:p><w:r><w:t>c</w:t><w:t>ut`: "cut",
	}
	for in, want := range cases {
		got, err := io.ReadAll(newTextRuns(strings.NewReader(in)))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", in, got, err, want)
		}
	}
	long := "<w:p><w:r><w:t>" + strings.Repeat("a", maxOOXMLLine+10) + "</w:t></w:r></w:p>"
	got, _ := io.ReadAll(newTextRuns(strings.NewReader(long)))
	if lines := bytes.Split(got, []byte("\n")); len(lines) != 3 || len(lines[0]) != maxOOXMLLine {
		t.Errorf("long paragraph: %d lines", len(lines))
	}
	for _, c := range []struct {
		name string
		want bool
	}{{"word/document.xml", true}, {"word/footer2.xml", true}, {"word/styles.xml", false}, {"xl/sharedStrings.xml", true},
		{"ppt/slides/slide3.xml", true}, {"ppt/slides/_rels/slide3.xml.rels", false}, {"document.xml", false}} {
		if isOOXMLText(c.name) != c.want {
			t.Errorf("%s: %v", c.name, !c.want)
		}
	}
}

// A key whole in one run is found once: in the XML member.
func TestOOXMLSingleRun(t *testing.T) {
	key := rulestest.APIKey()
	res := scan(t, Options{}, dataItem("r.docx", docx(t, runs("k "+key, 200))))
	if len(res.Findings) != 1 || res.Findings[0].Line != 2 { // (the XML declaration is line 1)
		t.Fatalf("findings %+v", len(res.Findings))
	}
}
