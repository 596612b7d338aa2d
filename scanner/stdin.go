package scanner

import (
	"context"
	"io"
)

// ReaderSource scans one stream, such as standard input.
type ReaderSource struct {
	// Name is the path shown in reports ("-" for standard input by default).
	Name string
	// Reader is the content; it is read once, in chunks, so a stream of
	// any length uses flat memory.
	Reader io.Reader
	// Kind is the Finding.Source; default SourceStdin.
	Kind string
}

// Items implements Source.
func (s *ReaderSource) Items(ctx context.Context, feed Feed) error {
	kind := s.Kind
	if kind == "" {
		kind = SourceStdin
	}
	feed.Expect(1)
	return feed.Send(ctx, Item{
		Path:   s.Name,
		Source: kind,
		Size:   -1,
		Counts: CountFile,
		Once:   true,
		Open:   func() (io.ReadCloser, error) { return io.NopCloser(s.Reader), nil },
	})
}
