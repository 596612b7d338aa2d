//go:build !unix

package files_test

import "os/exec"

// runAs is not needed where the permission test is skipped.
func runAs(cmd *exec.Cmd, uid, gid uint32) {}
