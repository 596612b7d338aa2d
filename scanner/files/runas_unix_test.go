//go:build unix

package files_test

import (
	"os/exec"
	"syscall"
)

// runAs makes cmd run as another user (the caller must be root).
func runAs(cmd *exec.Cmd, uid, gid uint32) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
}
