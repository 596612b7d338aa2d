package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdReadmeBlock writes a fenced code block of the repository's README to
// a file, so scripts test the examples exactly as a reader copies them:
// readme-block INFO FILE writes the first block whose info string is INFO.
func cmdReadmeBlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: readme-block INFO FILE")
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	block, ok := readmeBlock(string(data), args[0])
	if !ok {
		ts.Fatalf("README.md has no ```%s block", args[0])
	}
	if err := os.WriteFile(ts.MkAbs(args[1]), []byte(block), 0o644); err != nil {
		ts.Fatalf("%v", err)
	}
}

// readmeBlock returns the first fenced block with the given info string,
// its lines unindented by the fence's indentation (a block inside a list
// item is indented).
func readmeBlock(text, info string) (string, bool) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		t := strings.TrimLeft(l, " ")
		if t != "```"+info {
			continue
		}
		indent := len(l) - len(t)
		var b strings.Builder
		for _, body := range lines[i+1:] {
			if strings.TrimSpace(body) == "```" {
				return b.String(), true
			}
			b.WriteString(strings.TrimPrefix(body, strings.Repeat(" ", indent)) + "\n")
		}
	}
	return "", false
}
