package gitsource

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// commitInfo is what attribution needs of a commit; the message itself is
// scanned and then dropped.
type commitInfo struct {
	hash    plumbing.Hash
	tree    plumbing.Hash
	parents []plumbing.Hash
	author  string
	email   string
	when    int64 // author time, Unix seconds
	head    headerSpan
}

// date formats the author time as RFC 3339 in UTC, the report's form.
func (c *commitInfo) date() string {
	if c.when == 0 {
		return ""
	}
	return time.Unix(c.when, 0).UTC().Format(time.RFC3339)
}

// tagInfo is an annotated tag object.
type tagInfo struct {
	target     plumbing.Hash
	targetType int8
	name       string
	tagger     string
	email      string
	when       int64
	head       headerSpan
}

// headerSpan is where a commit's or tag's header block ends: the whole
// object is scanned, so a finding's offset says whether the key sits in
// a header line or in the message.
type headerSpan struct {
	msgStart int64 // offset of the message's first byte
	lines    int   // header lines, before the blank line
}

// spanOf measures the header block hdr that splitMessage returned.
func spanOf(hdr []byte) headerSpan {
	return headerSpan{msgStart: int64(len(hdr) + 1), lines: bytes.Count(hdr, []byte("\n"))}
}

// splitMessage returns the header block and the message of a commit or tag.
func splitMessage(data []byte) (hdr, msg []byte) {
	if i := bytes.Index(data, []byte("\n\n")); i >= 0 {
		return data[:i+1], data[i+2:]
	}
	return data, nil
}

var errBadCommit = errors.New("malformed commit object")

// parseCommit reads a commit's headers. Continuation lines (signatures,
// mergetag) are skipped.
func parseCommit(h plumbing.Hash, data []byte) (*commitInfo, []byte, error) {
	hdr, msg := splitMessage(data)
	c := &commitInfo{hash: h, head: spanOf(hdr)}
	haveTree := false
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line, hdr = hdr[:i], hdr[i+1:]
		} else {
			hdr = nil
		}
		if len(line) == 0 || line[0] == ' ' {
			continue
		}
		key, val, _ := bytes.Cut(line, []byte(" "))
		switch string(key) {
		case "tree":
			t, ok := parseHex(string(val))
			if !ok {
				return nil, nil, errBadCommit
			}
			c.tree, haveTree = t, true
		case "parent":
			p, ok := parseHex(string(val))
			if !ok {
				return nil, nil, errBadCommit
			}
			c.parents = append(c.parents, p)
		case "author":
			c.author, c.email, c.when = parseSignature(string(val))
		}
	}
	if !haveTree {
		return nil, nil, errBadCommit
	}
	return c, msg, nil
}

// parseTag reads an annotated tag's headers.
func parseTag(data []byte) (*tagInfo, []byte, error) {
	hdr, msg := splitMessage(data)
	t := &tagInfo{head: spanOf(hdr)}
	haveObj := false
	for _, line := range strings.Split(string(hdr), "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "object":
			h, ok := parseHex(val)
			if !ok {
				return nil, nil, errors.New("malformed tag object")
			}
			t.target, haveObj = h, true
		case "type":
			switch val {
			case "commit":
				t.targetType = typCommit
			case "tree":
				t.targetType = typTree
			case "blob":
				t.targetType = typBlob
			case "tag":
				t.targetType = typTag
			}
		case "tag":
			t.name = val
		case "tagger":
			t.tagger, t.email, t.when = parseSignature(val)
		}
	}
	if !haveObj {
		return nil, nil, errors.New("malformed tag object")
	}
	return t, msg, nil
}

// parseSignature splits "Name <email> 1700000000 +0100".
func parseSignature(s string) (name, email string, when int64) {
	lt := strings.IndexByte(s, '<')
	gt := strings.LastIndexByte(s, '>')
	if lt < 0 || gt < lt {
		return strings.TrimSpace(s), "", 0
	}
	name = strings.TrimSpace(s[:lt])
	email = s[lt+1 : gt]
	f := strings.Fields(s[gt+1:])
	if len(f) > 0 {
		when, _ = strconv.ParseInt(f[0], 10, 64)
	}
	return name, email, when
}

// treeEntry is one entry of a tree object.
type treeEntry struct {
	name string
	mode uint32
	hash plumbing.Hash
}

const (
	modeTree    = 0o40000
	modeGitlink = 0o160000
)

func (e treeEntry) isTree() bool    { return e.mode&0o170000 == modeTree }
func (e treeEntry) isGitlink() bool { return e.mode&0o170000 == modeGitlink }

var errBadTree = errors.New("malformed tree object")

// walkTree calls fn for every entry of a tree object without allocating
// names (name aliases data).
func walkTree(data []byte, fn func(name []byte, mode uint32, h []byte)) error {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return errBadTree
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return errBadTree
			}
			mode = mode<<3 | uint32(c-'0')
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || nul+21 > len(data) {
			return errBadTree
		}
		fn(data[:nul], mode, data[nul+1:nul+21])
		data = data[nul+21:]
	}
	return nil
}

// parseTree returns a tree's entries.
func parseTree(data []byte) ([]treeEntry, error) {
	var out []treeEntry
	err := walkTree(data, func(name []byte, mode uint32, h []byte) {
		e := treeEntry{name: string(name), mode: mode}
		copy(e.hash[:], h)
		out = append(out, e)
	})
	return out, err
}
