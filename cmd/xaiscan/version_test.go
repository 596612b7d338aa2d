package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribeBuild(t *testing.T) {
	vcs := &debug.BuildInfo{
		Main: debug.Module{Version: "v0.0.0-20260102030405-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	cases := []struct {
		name              string
		ver, commit, date string
		bi                *debug.BuildInfo
		want, wantReport  string
	}{
		{"go build in a checkout", "dev", "", "", vcs,
			"xaiscan v0.0.0-20260102030405-0123456789ab+dirty (commit 0123456789abcdef0123456789abcdef01234567, committed 2026-01-02T03:04:05Z, modified)",
			"v0.0.0-20260102030405-0123456789ab+dirty"},
		{"goreleaser stamps win", "1.2.3", "abc", "2026-02-03", vcs,
			"xaiscan 1.2.3 (commit abc, built 2026-02-03)", "1.2.3"},
		{"go install module@version", "dev", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			"xaiscan v1.4.0", "v1.4.0"},
		{"no version known", "dev", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"xaiscan dev", "dev"},
		{"no build info", "", "", "", nil, "xaiscan dev", "dev"},
		{"clean checkout", "dev", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "fedcba"}, {Key: "vcs.modified", Value: "false"}}},
			"xaiscan dev (commit fedcba)", "dev"},
		{"dirty dev build", "dev", "", "", &debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "fedcba"}, {Key: "vcs.modified", Value: "true"}}},
			"xaiscan dev (commit fedcba, modified)", "dev+dirty"},
	}
	for _, tc := range cases {
		b := describeBuild(tc.ver, tc.commit, tc.date, tc.bi)
		if got := b.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		if got := b.reportVersion(); got != tc.wantReport {
			t.Errorf("%s: report version %q, want %q", tc.name, got, tc.wantReport)
		}
	}
}

// A plain `go build` from a clone, no -ldflags: `xaiscan version` names the
// commit the toolchain recorded, and says when the tree was modified.
func TestVersionOfAPlainGoBuild(t *testing.T) {
	if testing.Short() || raceEnabled {
		// It builds the binary (the race run adds nothing to that).
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// A fresh repository holding the module's files as they are now (the
	// toolchain does not read VCS information from a git worktree).
	repo := t.TempDir()
	files := gitOut(t, root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, f := range strings.Split(strings.TrimRight(files, "\x00"), "\x00") {
		if !strings.HasSuffix(f, ".go") && f != "go.mod" && f != "go.sum" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(repo, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitOut(t, repo, "init", "-q")
	gitOut(t, repo, "add", "-A")
	gitOut(t, repo, "-c", "user.name=t", "-c", "user.email=t@e", "-c", "commit.gpgsign=false", "commit", "-q", "-m", "snapshot")
	head := strings.TrimSpace(gitOut(t, repo, "rev-parse", "HEAD"))

	bin := filepath.Join(t.TempDir(), "xaiscan")
	build := func() string {
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/xaiscan")
		cmd.Dir = repo
		// The environment may say -buildvcs=false (CI does, for speed).
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	got := build()
	if !strings.Contains(got, "(commit "+head+", committed ") || strings.Contains(got, "modified") {
		t.Errorf("clean build: %q, want commit %s", got, head)
	}
	if strings.HasPrefix(got, "xaiscan dev") {
		t.Errorf("clean build: %q, want the module version the toolchain derives", got)
	}
	if err := os.WriteFile(filepath.Join(repo, "cmd", "xaiscan", "zz_local.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := build(); !strings.HasSuffix(got, ", modified)") {
		t.Errorf("build from a modified tree: %q", got)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
