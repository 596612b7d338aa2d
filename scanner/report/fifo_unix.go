//go:build unix

package report

import (
	"errors"
	"os"
	"syscall"
)

// openFIFO opens a named pipe for writing without waiting for a reader:
// a blocking open would hang the run before the scan starts, deaf to
// Ctrl-C, when nobody reads the pipe. With a reader there, the open
// succeeds and writes block on the reader as usual (Go's poller handles
// the non-blocking descriptor).
func openFIFO(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ENXIO) {
		return nil, errors.New("a named pipe that no process is reading: start the reader first")
	}
	return f, err
}
