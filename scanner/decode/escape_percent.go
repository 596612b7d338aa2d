package decode

import "github.com/xaiscan/xaiscan/scanner"

// Percent decodes URL percent-encoding (%NN, either case). It decodes one
// level: `%2578` becomes `%78`, which the engine decodes again, so a key
// encoded twice is reported as "percent/percent". '+' is left as it is:
// in a form body it stands for a space, and either way it is a boundary.
// Spans are chosen as for JSONEscape: URLs escape reserved characters,
// never letters, and printf's `%2d` is rejected by the "xai-" check.
//
// The zero value is ready to use and safe for concurrent use.
type Percent struct{ scanner.NoContainer }

// Spans implements scanner.Decoder.
func (Percent) Spans(w []byte, yield func(scanner.Span)) { tokenSpans(famPercent, w, yield) }

// Continue implements scanner.Decoder: a run goes on to the next delimiter.
func (Percent) Continue(w []byte, from int, _ scanner.Span) int { return tokenEnd(w, from) }

// DecodeSpan implements scanner.Decoder: one level of percent-encoding.
func (Percent) DecodeSpan(dst, text []byte, _ scanner.Span) ([]byte, error) {
	return famPercent.decodeSpan(dst, text), nil
}

// percentBody reads the two hex digits after a '%' at text[q-1].
func percentBody(text []byte, q int) unit {
	if v := hexN(text, q, 2); v >= 0 {
		return unit{c: v, kind: asByte, n: 2}
	}
	return unit{}
}
