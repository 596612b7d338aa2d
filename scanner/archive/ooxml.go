package archive

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"strings"
)

// Office Open XML documents (docx, xlsx, pptx) are zips of XML parts. The
// editor splits a paragraph's text into runs wherever formatting, spell
// checking or revision marks change (<w:r><w:t>xai-abc</w:t></w:r>
// <w:r><w:t>def</w:t></w:r>), so a key typed into a document is rarely
// whole in the XML. Each text part is therefore also yielded as a second
// member of the same name, Encoding "ooxml-text": the text of each
// paragraph joined across its runs, one paragraph per line. A paragraph of
// one run is an empty line there (its text is whole in the XML member, and
// would be found twice), so line N is still paragraph N.

// ooxmlEncoding names the text view in a finding's chain.
const ooxmlEncoding = "ooxml-text"

// maxOOXMLLine caps one paragraph's line in the text view: a longer
// paragraph goes on on the next line. (A key split there is still whole
// in a single run, which the XML member shows.)
const maxOOXMLLine = 1 << 20

// isOOXMLText reports a zip member that is a text part of a Word, Excel or
// PowerPoint document.
func isOOXMLText(name string) bool {
	dir, base := path.Split(name)
	if !strings.HasSuffix(base, ".xml") {
		return false
	}
	base = strings.TrimSuffix(base, ".xml")
	switch dir {
	case "word/":
		for _, p := range []string{"document", "header", "footer", "footnotes", "endnotes", "comments"} {
			if strings.HasPrefix(base, p) {
				return true
			}
		}
	case "xl/":
		return base == "sharedStrings"
	case "xl/worksheets/": // inline strings
		return strings.HasPrefix(base, "sheet")
	case "ppt/slides/", "ppt/notesSlides/", "ppt/comments/":
		return true
	}
	return false
}

// ooxmlText yields the text view of zip member f, read a second time.
func (x *expansion) ooxmlText(f *zip.File) error {
	enc := x.enc
	x.enc = ooxmlEncoding
	defer func() { x.enc = enc }()
	var rc io.ReadCloser
	err := x.member(f.Name, func() (io.Reader, error) {
		var err error
		if rc, err = f.Open(); err != nil {
			return nil, readError("zip member", err)
		}
		return newTextRuns(&mapReader{r: rc, format: "zip member"}), nil
	})
	if rc != nil {
		rc.Close()
	}
	return err
}

// textRuns reads the XML of a text part and yields its paragraphs' text.
// Its memory is the XML decoder's (bounded by the largest token, itself
// bounded by the member's bytes, which the budget bounds) and one line.
type textRuns struct {
	dec  *xml.Decoder
	out  []byte // decoded text not yet read
	in   int    // depth inside text elements
	para []byte // the current paragraph's text, up to maxOOXMLLine
	runs int    // text elements in the current paragraph
	err  error
}

func newTextRuns(r io.Reader) *textRuns {
	d := xml.NewDecoder(r)
	d.Strict = false
	return &textRuns{dec: d}
}

func (t *textRuns) Read(p []byte) (int, error) {
	for len(t.out) == 0 {
		if t.err != nil {
			return 0, t.err
		}
		t.step()
	}
	n := copy(p, t.out)
	t.out = t.out[n:]
	if len(t.out) == 0 {
		t.out = t.out[:0:0]
	}
	return n, nil
}

// step decodes one XML token into t.out.
func (t *textRuns) step() {
	tok, err := t.dec.RawToken()
	if err != nil {
		// XML that does not parse ends the view: the part's bytes were
		// scanned as the XML member itself. The reader's own errors (the
		// budget, damage of the zip member) pass through.
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			err = io.EOF
		}
		if err == io.EOF && t.runs > 1 {
			t.out = append(t.out, t.para...)
		}
		t.err = err
		return
	}
	switch tok := tok.(type) {
	case xml.StartElement:
		switch tok.Name.Local {
		case "t", "delText", "instrText":
			t.in++
			t.runs++
		case "tab":
			t.add([]byte{'\t'})
		}
	case xml.EndElement:
		switch tok.Name.Local {
		case "t", "delText", "instrText":
			t.in = max(0, t.in-1)
		case "p", "si", "is":
			t.endPara()
		}
	case xml.CharData:
		if t.in > 0 {
			t.add(tok)
		}
	}
}

// add appends text to the paragraph; a paragraph at maxOOXMLLine is
// handed on as a line of its own, and goes on on the next.
func (t *textRuns) add(b []byte) {
	for len(b) > 0 {
		n := min(len(b), maxOOXMLLine-len(t.para))
		t.para = append(t.para, b[:n]...)
		b = b[n:]
		if len(t.para) == maxOOXMLLine {
			t.runs = 2 // cut: its parts are not whole in the XML either
			t.endPara()
			t.runs = 2
		}
	}
}

// endPara hands on the paragraph's line: its text if it was made of
// several runs, else nothing.
func (t *textRuns) endPara() {
	if t.runs > 1 {
		t.out = append(t.out, t.para...)
	}
	t.out = append(t.out, '\n')
	t.para, t.runs = t.para[:0], 0
}
