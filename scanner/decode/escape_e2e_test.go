package decode

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// These tests run the real xaiscan binary, so they hold once the
// recursive engine runs the escape decoders (issue 11); the lead drops
// the build tag after the merge.

// xaiscanBin builds the binary once per test run.
func xaiscanBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "xaiscan")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/xaiscan/xaiscan/cmd/xaiscan")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type e2eFinding struct {
	Path, Encoding, Fingerprint string
	Line                        int
}

// scanDir runs `xaiscan dir -f json` over dir and returns its findings.
func scanDir(t *testing.T, bin, dir string, stdin string, args ...string) []e2eFinding {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("xaiscan %v: %v", args, err)
	}
	if code != 1 {
		t.Errorf("xaiscan %v: exit %d, want 1 (findings)", args, code)
	}
	var rep struct{ Findings []e2eFinding }
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	return rep.Findings
}

// TestEscapesEndToEnd: every family, a chain of two, and a QP e-mail
// whose key is cut by soft breaks, each found in a file of its own with
// the chain as encoding and the line where the encoded text starts.
func TestEscapesEndToEnd(t *testing.T) {
	bin := xaiscanBin(t)
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
	got := scanDir(t, bin, dir, "", "dir", "-f", "json", ".")
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
	bin := xaiscanBin(t)
	k1, k2 := rulestest.APIKey(), rulestest.APIKey()
	log := "step 1\n\x1b[2K\x1b[1;1H" + k1 + "\n" + `{"text": "\u001b[2K` + k2 + `\n"}` + "\n"
	got := scanDir(t, bin, t.TempDir(), log, "stdin", "-f", "json")
	fps := map[string]bool{}
	for _, f := range got {
		fps[f.Fingerprint] = true
	}
	if len(got) != 2 || !fps[rules.Fingerprint([]byte(k1))] || !fps[rules.Fingerprint([]byte(k2))] {
		t.Errorf("findings %+v, want both keys", got)
	}
}
