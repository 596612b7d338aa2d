// Command goreleaser-check validates .goreleaser.yaml with goreleaser's
// own configuration loader (strict YAML: an unknown or mistyped key is an
// error), for CI on a machine without a goreleaser binary. Building the
// whole of goreleaser costs about 400 s of CPU on a cold 2-core machine,
// half of CI's budget; its config package costs a fifth of that.
package main

import (
	"fmt"
	"os"

	"github.com/goreleaser/goreleaser/v2/pkg/config"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goreleaser-check .goreleaser.yaml")
		os.Exit(2)
	}
	cfg, err := config.Load(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	if cfg.Version != 2 {
		fmt.Fprintf(os.Stderr, "%s: version %d, want 2 (goreleaser v2)\n", os.Args[1], cfg.Version)
		os.Exit(1)
	}
	fmt.Printf("%s: valid goreleaser v2 configuration (%d builds, %d archives)\n", os.Args[1], len(cfg.Builds), len(cfg.Archives))
}
