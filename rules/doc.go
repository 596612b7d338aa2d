// Package rules recognises xAI credentials in raw bytes.
//
// It is pure: bytes in, matches out, no I/O and no allocation on the hot
// path. The built-in rules need no regular expression: the scanner finds the
// literal "xai-" with bytes.Index (SIMD on amd64/arm64) and then validates the
// bytes that follow by hand, so key-free text is scanned at close to memory
// bandwidth.
package rules
