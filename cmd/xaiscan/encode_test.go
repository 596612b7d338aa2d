package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"mime/quotedprintable"
	"net/url"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdEncode is the testscript command `encode CHAIN IN OUT`: it applies the
// comma-separated encodings of CHAIN to file IN, innermost first, and
// writes OUT. So `encode gzip,base64 secret.json out` writes the base64 of
// the gzip of secret.json, which xaiscan reports as "base64/gzip". Scripts
// build every leak shape with it from a filled fixture, with nothing but
// Go, so no key-shaped string is ever committed and no tool is needed.
func cmdEncode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: encode CHAIN IN OUT")
	}
	data := []byte(ts.ReadFile(args[1]))
	for _, enc := range strings.Split(args[0], ",") {
		out, err := encodeOnce(enc, data)
		if err != nil {
			ts.Fatalf("encode %s: %v", enc, err)
		}
		data = out
	}
	if err := os.WriteFile(ts.MkAbs(args[2]), data, 0o644); err != nil {
		ts.Fatalf("encode: %v", err)
	}
}

// encodeOnce applies one encoding. "tar:NAME" and "zip:NAME" make an
// archive with one member NAME.
func encodeOnce(enc string, data []byte) ([]byte, error) {
	name := ""
	if i := strings.IndexByte(enc, ':'); i >= 0 {
		enc, name = enc[:i], enc[i+1:]
	}
	switch enc {
	case "base64":
		return []byte(base64.StdEncoding.EncodeToString(data)), nil
	case "base64url":
		return []byte(base64.RawURLEncoding.EncodeToString(data)), nil
	case "base64wrap":
		return wrap(base64.StdEncoding.EncodeToString(data), 76, "\n"), nil
	case "base64jsonwrap":
		return wrap(base64.StdEncoding.EncodeToString(data), 76, `\n`), nil
	case "gzip", "zlib":
		return compress(enc, data)
	case "utf16le", "utf16be":
		return utf16Of(data, enc == "utf16be"), nil
	case "jsonu":
		var b strings.Builder
		for _, c := range string(data) {
			fmt.Fprintf(&b, `\u%04x`, c)
		}
		return []byte(b.String()), nil
	case "html":
		var b strings.Builder
		for _, c := range string(data) {
			fmt.Fprintf(&b, "&#x%x;", c)
		}
		return []byte(b.String()), nil
	case "percent":
		var b strings.Builder
		for _, c := range data {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		return []byte(b.String()), nil
	case "urlquery":
		return []byte(url.QueryEscape(string(data))), nil
	case "qp":
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write(data)
		w.Close()
		return b.Bytes(), nil
	case "tar", "zip":
		return archiveOf(enc, name, data)
	}
	return nil, fmt.Errorf("unknown encoding %q", enc)
}

func wrap(s string, width int, sep string) []byte {
	var b strings.Builder
	for len(s) > width {
		b.WriteString(s[:width] + sep)
		s = s[width:]
	}
	b.WriteString(s)
	return []byte(b.String())
}

func compress(enc string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if enc == "gzip" {
		w = gzip.NewWriter(&b)
	} else {
		w = zlib.NewWriter(&b)
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	err := w.Close()
	return b.Bytes(), err
}

func utf16Of(data []byte, bigEndian bool) []byte {
	var out []byte
	for _, c := range string(data) {
		hi, lo := byte(c>>8), byte(c)
		if bigEndian {
			out = append(out, hi, lo)
		} else {
			out = append(out, lo, hi)
		}
	}
	return out
}

func archiveOf(enc, name string, data []byte) ([]byte, error) {
	if name == "" {
		name = "member"
	}
	var b bytes.Buffer
	if enc == "tar" {
		tw := tar.NewWriter(&b)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return nil, err
		}
		tw.Write(data)
		err := tw.Close()
		return b.Bytes(), err
	}
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		return nil, err
	}
	w.Write(data)
	err = zw.Close()
	return b.Bytes(), err
}
