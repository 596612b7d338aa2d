package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// The GitLab CI template (deploy/gitlab/xaiscan.gitlab-ci.yml): its script, run with
// bash in a merge request's environment, writes GitLab's secret detection
// report to the file the job publishes as artifacts:reports:secret_detection,
// and fails the job on a key.
func TestGitLabTemplate(t *testing.T) {
	needTools(t, "bash", "git", "go")
	data, err := os.ReadFile(filepath.Join(actionPath(t), "deploy", "gitlab", "xaiscan.gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var ci map[string]struct {
		Variables map[string]string `yaml:"variables"`
		Script    []string          `yaml:"script"`
		Artifacts struct {
			When    string            `yaml:"when"`
			Reports map[string]string `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	if err := yaml.Unmarshal(data, &ci); err != nil {
		t.Fatal(err)
	}
	job, ok := ci["xaiscan"]
	if !ok {
		t.Fatal("no xaiscan job")
	}
	report := job.Artifacts.Reports["secret_detection"]
	if report == "" || job.Artifacts.When != "always" || job.Variables["GIT_DEPTH"] != "0" {
		t.Fatalf("artifacts %+v, variables %v", job.Artifacts, job.Variables)
	}
	if !strings.Contains(strings.Join(job.Script, "\n"), "--output gitlab="+report) {
		t.Fatalf("the script does not write %s", report)
	}

	// A repository with a merge request that adds a key; go install is a
	// fake, xaiscan the real one.
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "xaiscan"), ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(bin, "go"), []byte("#!/bin/sh\necho \"fake go $*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := &runner{t: t, files: map[string]string{}}
	repo := filepath.Join(dir, "repo")
	if err := os.MkdirAll(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git(repo, "init", "-q")
	r.git(repo, "commit", "-q", "--allow-empty", "-m", "base")
	base := r.git(repo, "rev-parse", "HEAD")
	key := rulestest.APIKey()
	if err := os.WriteFile(filepath.Join(repo, "app.env"), []byte("XAI_API_KEY="+key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.git(repo, "add", "app.env")
	r.git(repo, "commit", "-q", "-m", "add a key")
	head := r.git(repo, "rev-parse", "HEAD")

	script := "set -eo pipefail\n" + strings.Join(job.Script, "\n")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = repo
	cmd.Env = append(r.baseEnv(), "PATH="+bin+":"+os.Getenv("PATH"),
		"CI_MERGE_REQUEST_DIFF_BASE_SHA="+base, "CI_COMMIT_SHA="+head, "XAISCAN_VERSION=v1.2.3", "XAISCAN_ARGS=--workers 2")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("the job must fail with exit 1 on a key: %v\n%s", err, out)
	}
	log := string(out)
	if !strings.Contains(log, "fake go install github.com/xaiscan/xaiscan/cmd/xaiscan@v1.2.3") ||
		!strings.Contains(log, "Scanning commits "+base+".."+head) || !strings.Contains(log, rules.Redact(key)) || strings.Contains(log, key) {
		t.Errorf("job log:\n%s", log)
	}
	var gl struct {
		Scan            struct{ Type string } `json:"scan"`
		Vulnerabilities []struct {
			Location struct {
				File   string `json:"file"`
				Commit struct{ SHA string }
			} `json:"location"`
		} `json:"vulnerabilities"`
	}
	readJSON(t, filepath.Join(repo, report), &gl)
	if gl.Scan.Type != "secret_detection" || len(gl.Vulnerabilities) != 1 ||
		gl.Vulnerabilities[0].Location.File != "app.env" || gl.Vulnerabilities[0].Location.Commit.SHA != head {
		t.Errorf("GitLab report: %+v", gl)
	}
	var rep json.RawMessage
	readJSON(t, filepath.Join(repo, "xaiscan.json"), &rep)

	// The runner may use sh: the script is POSIX, and shellcheck agrees.
	if _, err := exec.LookPath("shellcheck"); err == nil {
		f := filepath.Join(dir, "job.sh")
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"+strings.Join(job.Script, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("shellcheck", "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck:\n%s", out)
		}
	}
}
