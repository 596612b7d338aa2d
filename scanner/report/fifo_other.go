//go:build !unix

package report

import "os"

// openFIFO opens a named pipe for writing; only Unix can refuse one that
// has no reader.
func openFIFO(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
}
