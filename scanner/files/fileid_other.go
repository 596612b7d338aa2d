//go:build !unix

package files

import "io/fs"

// fileID identifies a directory across symlinks, for loop detection. Where
// the OS gives no inode numbers there is none; the walker's depth limit
// then bounds a symlink loop instead.
type fileID struct{}

func idOf(fs.FileInfo) (fileID, bool) { return fileID{}, false }
