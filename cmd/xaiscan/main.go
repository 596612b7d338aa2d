// Command xaiscan finds leaked xAI API keys and management keys in files,
// git history, staged changes and standard input, and can check whether
// they are live and revoke them.
//
// Run `xaiscan --help` for usage. Exit codes: 0 clean, 1 findings, 2 usage
// error or incomplete scan (see DESIGN §3).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// Stamped at release time by goreleaser (-ldflags -X main.version=...).
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func main() {
	os.Exit(mainExit())
}

// mainExit runs the CLI with the process's streams and returns the exit
// code; it is separate from main so testscript can run it in-process.
func mainExit() int {
	// A reader that goes away (xaiscan ... | head) must not kill xaiscan
	// before the revoke hook and the revoker have had every key: with
	// SIGPIPE handled, a write to the closed stdout fails with EPIPE, and
	// finish says so and goes on. A handled signal (unlike an ignored one)
	// is reset for child processes, so hooks see the default behaviour.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	defer startProfile(os.Getenv("XAISCAN_CPUPROFILE"))()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the scan winds down; restore the default
		// handler so a second Ctrl-C kills the process at once.
		<-ctx.Done()
		stop()
	}()
	a := &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		getenv: os.Getenv,
	}
	return a.run(ctx, os.Args[1:])
}

// startProfile writes a CPU profile of the run to path, when set: how the
// README's performance figures were taken apart (go tool pprof). It is an
// environment variable, not a flag, because it is for developers.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "xaiscan: cpu profile: %v\n", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "xaiscan: cpu profile: %v\n", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
