//go:build windows

package revoke

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs line through cmd /C. The command line is passed raw
// (SysProcAttr.CmdLine) because cmd.exe does its own parsing and Go's
// argument quoting would otherwise mangle quotes in the hook.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	comspec := os.Getenv("ComSpec")
	if comspec == "" {
		comspec = "cmd.exe"
	}
	cmd := exec.CommandContext(ctx, comspec)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd /S /C "` + line + `"`}
	return cmd
}
