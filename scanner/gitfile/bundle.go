package gitfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/xaiscan/xaiscan/scanner"
)

// maxRefsText caps the bundle header kept to be scanned as "<outer>!refs".
// The header is plain text, so the engine's scan of the bundle's raw bytes
// sees all of it anyway; the member only gives a finding a clearer path.
const maxRefsText = 16 << 20

// bundleHeader reads a bundle's header up to the blank line before its
// pack: the signature, capabilities (v3: the object format), prerequisites
// ("-<id> <subject>") and refs ("<id> <name>"). Everything after the
// signature is scanned as the member "<outer>!refs": a key in a ref name
// or in a prerequisite's subject is found there.
func (p *pack) bundleHeader(br *bufio.Reader) error {
	if _, err := br.Discard(len(bundleV2)); err != nil {
		return readErr("bundle header", err)
	}
	var text []byte
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return damaged("corrupt git bundle: header line longer than %d bytes", br.Size())
		case err != nil:
			if serr := p.refs(text); serr != nil {
				return serr
			}
			return readErr("bundle header", err)
		}
		if len(line) == 1 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("@object-format=")); ok {
			if err := p.objectFormat(bytes.TrimSuffix(v, []byte("\n"))); err != nil {
				return err
			}
		}
		if len(text)+len(line) <= maxRefsText {
			text = append(text, line...)
		}
	}
	return p.refs(text)
}

// objectFormat sets the length of object ids from a v3 bundle capability.
func (p *pack) objectFormat(name []byte) error {
	switch string(name) {
	case "sha1":
		p.hashLen = 20
	case "sha256":
		p.hashLen = 32
	default:
		return damaged("git bundle of unknown object format %q", name)
	}
	return nil
}

// refs scans the bundle header's text as a member.
func (p *pack) refs(text []byte) error {
	if len(text) == 0 {
		return nil
	}
	it := p.member(p.outer+"!refs", int64(len(text)))
	it.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(text)), nil }
	return p.m.Scan(it)
}

var _ scanner.Decoder = Decoder{}
