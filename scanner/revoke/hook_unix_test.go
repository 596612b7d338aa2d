//go:build unix

package revoke

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// waitFile waits for a file to hold something, for at most ten seconds.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
	}
	t.Fatalf("%s never written", path)
	return ""
}

// processGone reports whether pid no longer runs: it does not exist or is
// a zombie (an orphan whose reaper has not reaped it yet is dead all the
// same). It waits up to five seconds for the kernel to finish the kill.
func processGone(t *testing.T, pid string) bool {
	t.Helper()
	n, err := strconv.Atoi(pid)
	if err != nil {
		t.Fatalf("bad pid %q", pid)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(n, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if stat, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
				return true
			}
		}
	}
	return false
}

// TestHookInterruptedKillsItsProcessGroup: cancelling while a hook runs
// kills the hook and what it started, reports that key and every later
// one as not handled (interrupted), and runs no further hook.
func TestHookInterruptedKillsItsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	first, second := rulestest.APIKey(), rulestest.APIKey()
	h := &Hook{
		Command: `n=$(ls ` + dir + ` | wc -l); echo $$ > ` + dir + `/hook$n.pid; sleep 60 & echo $! > ` + dir + `/child$n.pid; wait`,
		Timeout: time.Minute,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Failure)
	go func() { done <- h.Run(ctx, findingsFor(1, first, second)) }()
	hook := waitFile(t, filepath.Join(dir, "hook0.pid"))
	child := waitFile(t, filepath.Join(dir, "child0.pid"))
	cancel()
	fails := <-done

	if len(fails) != 2 || CountInterrupted(fails) != 2 {
		t.Fatalf("failures %+v", fails)
	}
	if !strings.Contains(fails[0].Reason, "interrupted: the hook was killed") || fails[1].Reason != "not run: interrupted" {
		t.Errorf("reasons %q, %q", fails[0].Reason, fails[1].Reason)
	}
	for what, pid := range map[string]string{"hook shell": hook, "hook's child": child} {
		if !processGone(t, pid) {
			t.Errorf("the %s (pid %s) still runs", what, pid)
			_ = syscall.Kill(-mustAtoi(hook), syscall.SIGKILL)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hook2.pid")); err == nil {
		t.Error("a hook ran after the interruption")
	}
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
