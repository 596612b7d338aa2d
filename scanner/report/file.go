package report

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// File is a report file (-o FILE) written atomically: the report goes to
// a new temporary file in the target's directory, created with mode 0600,
// and only once it is complete and on disk does it replace the target, by
// rename. Until then the old file is untouched; a reader never sees half a
// report; two scans writing one file each leave one whole report (the last
// rename wins).
//
// A symbolic link at the target is replaced by the report, never followed:
// rename replaces the link itself, so what it points to keeps its content
// and mode. The one exception are the system's aliases of streams under
// /dev and /proc (/dev/stdout, /dev/fd/3, /proc/self/fd/1), and streams
// named directly (a FIFO, a terminal, /dev/null): those are written in
// place, as a stream, since there is no file to replace.
type File struct {
	path   string
	f      *os.File // the temporary file, or the stream
	w      *bufio.Writer
	stream bool
	done   bool
}

// CreateFile prepares to write a report to path. Everything that can be
// checked before a scan is checked here — the directory exists and is
// writable (the temporary file is created now), the target is not a
// directory, and, on Unix, rename will be allowed to replace it — so a bad
// -o fails in a second rather than after a long scan.
func CreateFile(path string) (*File, error) {
	fi, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if err == nil {
		switch mode := fi.Mode(); {
		case mode.IsRegular():
		case mode&fs.ModeSymlink != 0:
			if isStreamAlias(path) {
				return openStream(path)
			}
		case mode.IsDir():
			return nil, fmt.Errorf("%s is a directory", path)
		case mode&fs.ModeNamedPipe != 0:
			f, err := openFIFO(path)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
			}
			return &File{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10), stream: true}, nil
		case mode&fs.ModeCharDevice != 0:
			return openStream(path)
		default:
			return nil, fmt.Errorf("%s is not a regular file (%s)", path, mode.Type())
		}
		if err := checkReplaceable(path, fi); err != nil {
			return nil, err
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if errors.Is(err, fs.ErrPermission) {
		// The file itself may be writable: say why that is not enough.
		return nil, fmt.Errorf("%s: %w (the report is written to a new file in %s, then renamed over it)", path, unwrapPath(err), filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	if runtime.GOOS != "windows" {
		// CreateTemp asks for 0600 already; say it explicitly, whatever
		// the platform's default.
		if err := tmp.Chmod(0o600); err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
		}
	}
	return &File{path: path, f: tmp, w: bufio.NewWriterSize(tmp, 64<<10)}, nil
}

// openStream opens a stream target for writing, in append mode so that
// /dev/stdout redirected to a file with >> does not overwrite it.
func openStream(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return &File{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10), stream: true}, nil
}

// isStreamAlias reports whether path is one of the system's names for an
// open stream, whose link must be followed: /dev/stdout, /dev/stderr,
// /dev/fd/N, /proc/self/fd/N and the like.
func isStreamAlias(path string) bool {
	if runtime.GOOS == "windows" {
		return false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	return strings.HasPrefix(abs, "/dev/") || strings.HasPrefix(abs, "/proc/")
}

// Path is the target's path, as given.
func (f *File) Path() string { return f.path }

// IsStream reports whether the target is written in place as a stream
// (so a failed write may have left part of a report there) rather than
// replaced (so a failed write left it as it was).
func (f *File) IsStream() bool { return f.stream }

// Write adds p to the report.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, fmt.Errorf("%s: write after the report was finished", f.path)
	}
	return f.w.Write(p)
}

// Commit finishes the report: flushed, synced to disk, closed, and renamed
// over the target. On any error the temporary file is removed and the
// target left as it was.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("%s: the report was already finished", f.path)
	}
	f.done = true
	if f.stream {
		err := f.w.Flush()
		if cerr := f.f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, unwrapPath(err))
		}
		return nil
	}
	tmp := f.f.Name()
	err := f.w.Flush()
	if err == nil {
		err = f.f.Sync()
	}
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", f.path, unwrapPath(err))
	}
	syncDir(filepath.Dir(f.path))
	return nil
}

// Abort discards an unfinished report: the temporary file is removed and
// the target left as it was. It does nothing after Commit, so callers can
// defer it.
func (f *File) Abort() {
	if f == nil || f.done {
		return
	}
	f.done = true
	f.f.Close()
	if !f.stream {
		os.Remove(f.f.Name())
	}
}

// syncDir makes a rename in dir durable. Failure only loses durability
// across a power cut, not the report, so it is not reported.
func syncDir(dir string) {
	if runtime.GOOS == "windows" {
		return
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// unwrapPath drops the *fs.PathError's operation and path, which name the
// temporary file rather than the report the user asked for.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
