package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// Every help text fits in 80 columns.
func TestHelpFitsEightyColumns(t *testing.T) {
	pages := [][]string{{"--help"}, {"help", "help"}, {"help", "audit"}}
	for _, c := range commands() {
		pages = append(pages, []string{"help", c.name})
	}
	for _, args := range pages {
		var out, errs bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errs, getenv: os.Getenv}
		if code := a.run(context.Background(), args); code != exitClean {
			t.Errorf("%v: exit %d: %s", args, code, errs.String())
		}
		if out.Len() == 0 {
			t.Errorf("%v: no help", args)
		}
		for _, l := range strings.Split(out.String(), "\n") {
			if len(l) > helpWidth {
				t.Errorf("%v: %d columns: %q", args, len(l), l)
			}
		}
	}
}

func TestSuggestCommand(t *testing.T) {
	for in, want := range map[string]string{
		"gti": "git", "gi": "git", "dri": "dir", "stagd": "staged", "prepush": "pre-push", "pre_push": "pre-push",
		"verfy": "verify", "revok": "revoke", "instal-hook": "install-hook", "VERSION": "version",
		"git": "", "xyz": "", "frobnicate": "", "d": "", "stdinn": "stdin", "hlep": "help",
	} {
		if got := suggestCommand(in); got != want {
			t.Errorf("suggestCommand(%q) = %q, want %q", in, got, want)
		}
	}
	if d := editDistance("gti", "git"); d != 1 {
		t.Errorf("a swap of neighbours costs %d, want 1", d)
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("kitten/sitting: %d, want 3", d)
	}
}

func TestParseOutputs(t *testing.T) {
	type dest struct{ format, path string }
	cases := []struct {
		specs  []string
		format string
		want   []dest
		err    string
	}{
		{nil, "text", []dest{{"text", "-"}}, ""},
		{[]string{"r.json"}, "json", []dest{{"json", "r.json"}}, ""},
		{[]string{"sarif=a.sarif", "JSON=b.json"}, "text", []dest{{"sarif", "a.sarif"}, {"json", "b.json"}, {"text", "-"}}, ""},
		{[]string{"r.json", "sarif=a.sarif"}, "json", []dest{{"json", "r.json"}, {"sarif", "a.sarif"}}, ""},
		{[]string{"json=-"}, "text", []dest{{"json", "-"}}, ""},
		{[]string{"summary=$GITHUB_STEP_SUMMARY"}, "text", []dest{{"markdown", "$GITHUB_STEP_SUMMARY"}, {"text", "-"}}, ""},
		{[]string{"./a=b"}, "text", []dest{{"text", "./a=b"}}, ""},
		{[]string{"-"}, "sarif", []dest{{"sarif", "-"}}, ""},
		{[]string{"a", "b"}, "text", nil, "given twice"},
		{[]string{"json=x", "sarif=x"}, "text", nil, "two reports would be written to x"},
		{[]string{"json=-", "-"}, "text", nil, "standard output"},
		{[]string{"jsn=x"}, "text", nil, `unknown format "jsn"`},
		{[]string{"json="}, "text", nil, "no FILE"},
		{[]string{""}, "text", nil, "empty FILE"},
	}
	for _, tc := range cases {
		outs, err := parseOutputs(tc.specs, tc.format)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.specs, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.specs, err)
			continue
		}
		var got []dest
		for _, o := range outs {
			got = append(got, dest{o.format, o.path})
		}
		if len(got) != len(tc.want) {
			t.Errorf("%q: %v, want %v", tc.specs, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: %v, want %v", tc.specs, got, tc.want)
			}
		}
	}
}
