package decode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/files"
)

// These tests run the engine as the CLI builds it for decoding: a real
// directory walk (or a stdin item) through every decoder of the registry.

type e2eFinding struct {
	Path, Encoding, Fingerprint string
	Line                        int
}

// scanDir scans dir (or, with args[0] == "stdin", the text stdin) and
// returns the findings.
func scanDir(t *testing.T, dir string, stdin string, args ...string) []e2eFinding {
	t.Helper()
	var src scanner.Source = files.New([]string{dir}, files.Options{})
	if len(args) > 0 && args[0] == "stdin" {
		src = scanner.ItemList{{Source: scanner.SourceStdin, Data: []byte(stdin)}}
	}
	res, err := scanner.New(scanner.Options{Decoders: Decoders()}).Run(context.Background(), src)
	if err != nil || res.Coverage.Partial() {
		t.Fatalf("scan: %v, coverage %+v", err, res.Coverage)
	}
	var out []e2eFinding
	for _, f := range res.Findings {
		out = append(out, e2eFinding{Path: filepath.ToSlash(f.Path), Encoding: f.Encoding, Fingerprint: f.Fingerprint, Line: f.Line})
	}
	return out
}

// TestEscapesEndToEnd: every family, a chain of two, and a QP e-mail
// whose key is cut by soft breaks, each found in a file of its own with
// the chain as encoding and the line where the encoded text starts.
func TestEscapesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	type want struct {
		key, encoding string
		line          int
	}
	wants := map[string]want{}
	put := func(name, text, key, encoding string, line int) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		wants[name] = want{key, encoding, line}
	}
	k := rulestest.APIKey
	key := k()
	put("notebook.ipynb", "{\n \"cells\": [\n  {\"outputs\": [\"token \\u0078"+key[1:]+"\\n\"]}\n ]\n}\n", key, "json-escape", 3)
	key = k()
	put("page.html", "<html>\n<body>\n<p>"+htmlDec(key, all)+"</p>\n", key, "html-entity", 3)
	key = k()
	put("redirect.log", "GET /login?next=%2Fcb%3Ftoken%3D"+strings.ReplaceAll(pct(key, all), "%", "%25")+" 302\n", key, "percent/percent", 1)
	key = k()
	put("mail.eml", "Subject: key\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
		"Here it is: "+softWrap("XAI_API_KEY=3D"+key, 30)+"\r\nBye\r\n", key, "quoted-printable", 4)
	key = k()
	put("chain.json", `{"body":"`+strings.ReplaceAll(htmlDec(key, firstOnly), "&", `\u0026`)+`"}`+"\n", key, "json-escape/html-entity", 1)
	got := scanDir(t, dir, "")
	for _, f := range got {
		w, ok := wants[f.Path]
		if !ok || f.Fingerprint != rules.Fingerprint([]byte(w.key)) || f.Encoding != w.encoding || f.Line != w.line {
			t.Errorf("unexpected finding %+v (want %+v)", f, w)
		}
		delete(wants, f.Path)
	}
	for name := range wants {
		t.Errorf("%s: key not found", name)
	}
}

// TestTerminalLogEndToEnd: keys right after cursor moves and erase-line
// sequences in a terminal log, and in a notebook's JSON-escaped output,
// are found (the rules' boundary, no decoder needed for the raw log).
func TestTerminalLogEndToEnd(t *testing.T) {
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	log := "step 1\n\x1b[2K\x1b[1;1H" + k1 + "\n" + `{"text": "\u001b[2K` + k2 + `\n"}` + "\n"
	got := scanDir(t, "", log, "stdin")
	fps := map[string]bool{}
	for _, f := range got {
		fps[f.Fingerprint] = true
	}
	if len(got) != 2 || !fps[rules.Fingerprint([]byte(k1))] || !fps[rules.Fingerprint([]byte(k2))] {
		t.Errorf("findings %+v, want both keys", got)
	}
}
