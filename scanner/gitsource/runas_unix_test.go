//go:build unix

package gitsource

import (
	"os/exec"
	"syscall"
)

// runAsNobody makes cmd run as uid/gid 65534 (the caller must be root).
func runAsNobody(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
}
