//go:build !unix

package report

import "io/fs"

// checkReplaceable has nothing to check where directories have no sticky
// bit; a failing rename is still reported by Commit.
func checkReplaceable(string, fs.FileInfo) error { return nil }
