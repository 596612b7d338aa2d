package gitsource

import (
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// salvageReader reads one object and turns a read error (a zlib stream
// that ends early, a checksum that is off) into the end of the content,
// after recording the error against the object. The bytes decompressed
// before the damage are then scanned like any others, which the engine
// does not do with bytes that arrive together with an error (DESIGN §3:
// they are scanned before the error is recorded).
type salvageReader struct {
	rc   io.ReadCloser
	n    int64
	fail func(err error, n int64)
}

func (r *salvageReader) Read(b []byte) (int, error) {
	n, err := r.rc.Read(b)
	r.n += int64(n)
	if err != nil && err != io.EOF {
		if r.fail != nil {
			r.fail(err, r.n)
			r.fail = nil
		}
		return n, io.EOF
	}
	return n, err
}

func (r *salvageReader) Close() error { return r.rc.Close() }

// salvaging wraps the stream of object h in a salvageReader.
func (s *Source) salvaging(h plumbing.Hash, rc io.ReadCloser) io.ReadCloser {
	return &salvageReader{rc: rc, fail: func(err error, n int64) { s.damaged(h, err, n) }}
}

// damaged records object h as an error: it could only be read in part, and
// its first n bytes (all of it, when only the checksum is off) were
// scanned.
func (s *Source) damaged(h plumbing.Hash, err error, n int64) {
	what := fmt.Sprintf("the %d bytes decompressed before the damage were scanned", n)
	if errors.Is(err, zlib.ErrChecksum) {
		what = fmt.Sprintf("all %d bytes were decompressed and scanned; the stored checksum does not match them", n)
	}
	s.feed.Skip(scanner.ErrorAt(h.String(), fmt.Sprintf("damaged object: %v (%s)", err, what)))
}

// salvageBlob handles a blob that was read whole and found damaged: when
// some of its bytes were decompressed, the damage is recorded and those
// bytes are returned for scanning.
func (s *Source) salvageBlob(h plumbing.Hash, typ int8, data []byte, err error) (io.ReadCloser, bool) {
	if typ != typBlob || len(data) == 0 {
		return nil, false
	}
	s.damaged(h, err, int64(len(data)))
	return nopReader(data), true
}
