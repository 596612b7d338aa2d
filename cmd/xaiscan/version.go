package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// buildInfo is what `xaiscan version` reports about the binary.
type buildInfo struct {
	// version is the release version (v1.2.3), the module version go
	// install or go build recorded, or "dev".
	version string
	// commit is the VCS revision, empty when unknown.
	commit string
	// date is the build time goreleaser stamped, or the commit time the
	// toolchain recorded (committed set), empty when unknown.
	date      string
	committed bool
	// modified is set when the binary was built from a work tree with
	// uncommitted changes.
	modified bool
}

// currentBuild describes the running binary: what goreleaser stamped with
// -ldflags, or else what the Go toolchain recorded in the build info
// (the module version of `go install ...@v1.2.3`, and the VCS revision,
// time and dirty flag of a `go build` in a checkout).
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(version, commit, date, bi)
}

// describeBuild merges the stamped values with the toolchain's build info
// (nil when unavailable). Stamped values win: they are the release's.
func describeBuild(stampedVersion, stampedCommit, stampedDate string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{version: stampedVersion, commit: stampedCommit, date: stampedDate}
	if b.version == "" {
		b.version = "dev"
	}
	if bi == nil {
		return b
	}
	if b.version == "dev" {
		// "(devel)" is what the toolchain records when it knows no
		// version (a build without VCS information).
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.version = v
		}
	}
	if stampedCommit != "" {
		return b
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.commit = s.Value
		case "vcs.time":
			b.date, b.committed = s.Value, true
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// String is the line `xaiscan version` prints:
// "xaiscan v1.2.3 (commit 0123abc..., built 2026-01-02T03:04:05Z)" for a
// release, "xaiscan v0.0.0-... (commit 0123abc..., committed ..., modified)"
// for a go build from a work tree with uncommitted changes.
func (b buildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "xaiscan %s", b.version)
	if b.commit == "" {
		return s.String()
	}
	fmt.Fprintf(&s, " (commit %s", b.commit)
	switch {
	case b.date != "" && b.committed:
		fmt.Fprintf(&s, ", committed %s", b.date)
	case b.date != "":
		fmt.Fprintf(&s, ", built %s", b.date)
	}
	if b.modified {
		s.WriteString(", modified")
	}
	s.WriteString(")")
	return s.String()
}

// reportVersion is the version written into reports (tool.version, the
// SARIF driver, the GitLab analyzer): the version, and for a build from a
// dirty work tree a "+dirty" mark, so a report says which code wrote it.
func (b buildInfo) reportVersion() string {
	if b.modified && !strings.HasSuffix(b.version, "+dirty") {
		return b.version + "+dirty"
	}
	return b.version
}
