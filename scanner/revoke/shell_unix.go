//go:build !windows

package revoke

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs line through /bin/sh -c in a process group of its own,
// so a timeout kills the hook and everything it started, not just the
// shell.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		sh = "sh" // systems without /bin/sh (Termux, some containers)
	}
	cmd := exec.CommandContext(ctx, sh, "-c", line)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Negative pid: the whole group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}
