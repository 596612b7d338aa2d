//go:build unix

package report

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// checkReplaceable reports now what rename would refuse only after the
// scan: in a directory with the sticky bit (/tmp), a file may be replaced
// only by its owner or the directory's owner (or root).
func checkReplaceable(path string, fi fs.FileInfo) error {
	uid := os.Geteuid()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if uid == 0 || !ok || int(st.Uid) == uid {
		return nil
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return nil // CreateTemp will say what is wrong with the directory
	}
	dst, ok := di.Sys().(*syscall.Stat_t)
	if di.Mode()&fs.ModeSticky != 0 && ok && int(dst.Uid) != uid {
		return fmt.Errorf("%s belongs to another user in the sticky directory %s, so it cannot be replaced: remove it or choose another name", path, dir)
	}
	return nil
}
