package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// The GitHub Action (action.yml at the repository root) is tested here by
// running its shell steps as the runner would: bash with -eo pipefail, the
// step's env with its ${{ }} expressions filled in, GITHUB_OUTPUT,
// GITHUB_PATH, GITHUB_STEP_SUMMARY and RUNNER_TEMP files, and the real
// xaiscan the install step builds.

type actionFile struct {
	Inputs  map[string]struct{ Default string } `yaml:"inputs"`
	Outputs map[string]struct{ Value string }   `yaml:"outputs"`
	Runs    struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	If               string            `yaml:"if"`
	Uses             string            `yaml:"uses"`
	Shell            string            `yaml:"shell"`
	Run              string            `yaml:"run"`
	WorkingDirectory string            `yaml:"working-directory"`
	ContinueOnError  bool              `yaml:"continue-on-error"`
	Env              map[string]string `yaml:"env"`
	With             map[string]string `yaml:"with"`
}

func actionPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func loadAction(t *testing.T) (actionFile, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(actionPath(t), "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	return a, string(raw)
}

func (a actionFile) step(t *testing.T, name string) actionStep {
	t.Helper()
	for _, s := range a.Runs.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("action.yml has no step %q", name)
	return actionStep{}
}

var (
	pinnedUse = regexp.MustCompile(`^\s*(?:-\s*)?uses:\s*[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$`)
	usesLine  = regexp.MustCompile(`^\s*(?:-\s*)?uses:`)
	expr      = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)
)

// The Action's shape: third-party actions pinned by commit, one scan, the
// upload allowed to fail with a warning, and no expression pasted into a
// script (inputs reach the shell only through env, never as code).
func TestActionWiring(t *testing.T) {
	a, raw := loadAction(t)
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q", a.Runs.Using)
	}
	uses := 0
	for _, l := range strings.Split(raw, "\n") {
		if usesLine.MatchString(l) {
			uses++
			if !pinnedUse.MatchString(l) {
				t.Errorf("not pinned by full commit SHA with its tag in a comment: %s", strings.TrimSpace(l))
			}
		}
	}
	if uses != 2 {
		t.Errorf("%d uses: lines, want 2 (setup-go, upload-sarif)", uses)
	}
	for _, s := range a.Runs.Steps {
		if s.Run != "" && strings.Contains(s.Run, "${{") {
			t.Errorf("step %q pastes an expression into its script", s.Name)
		}
		if s.Run != "" && s.Shell != "bash" {
			t.Errorf("step %q: shell %q, want bash", s.Name, s.Shell)
		}
	}
	if s := a.step(t, "Set up Go"); s.If != "inputs.version == ''" {
		t.Errorf("Go is set up when %q; want only when building from source", s.If)
	}
	scan := a.step(t, "Scan")
	if n := len(regexp.MustCompile(`(?m)^\s*xaiscan `).FindAllString(scan.Run, -1)); n != 1 {
		t.Errorf("the scan step runs xaiscan %d times, want once", n)
	}
	up := a.step(t, "Upload SARIF")
	if !up.ContinueOnError || !strings.Contains(up.If, "steps.can-upload.outputs.upload == 'true'") {
		t.Errorf("upload: continue-on-error %v, if %q", up.ContinueOnError, up.If)
	}
	for k, want := range map[string]string{
		"sarif_file":    "${{ steps.scan.outputs.sarif-file }}",
		"checkout_path": "${{ steps.scan.outputs.checkout-path }}",
		"category":      "${{ steps.scan.outputs.category }}",
	} {
		if up.With[k] != want {
			t.Errorf("upload with.%s = %q, want %q", k, up.With[k], want)
		}
	}
	warn := a.step(t, "Warn when the upload failed")
	if warn.If != "always() && steps.upload.outcome == 'failure'" || !strings.Contains(warn.Run, "::warning::") {
		t.Errorf("no warning step for a failed upload: if %q", warn.If)
	}
	for name, o := range a.Outputs {
		if !strings.HasPrefix(o.Value, "${{ steps.scan.outputs.") {
			t.Errorf("output %s = %q", name, o.Value)
		}
	}
}

// runner runs the Action's shell steps with a fake runner environment.
type runner struct {
	t         *testing.T
	a         actionFile
	workspace string
	temp      string
	files     map[string]string // GITHUB_PATH, GITHUB_STEP_SUMMARY
	ctx       map[string]string // expression values
	env       []string          // extra environment
}

func newRunner(t *testing.T, inputs map[string]string) *runner {
	a, _ := loadAction(t)
	r := &runner{t: t, a: a, workspace: t.TempDir(), temp: t.TempDir(), files: map[string]string{}, ctx: map[string]string{}}
	for _, f := range []string{"GITHUB_PATH", "GITHUB_STEP_SUMMARY"} {
		p := filepath.Join(r.temp, strings.ToLower(f))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		r.files[f] = p
	}
	for name, in := range a.Inputs {
		r.ctx["inputs."+name] = in.Default
	}
	for k, v := range inputs {
		if _, ok := a.Inputs[k]; !ok {
			t.Fatalf("action.yml has no input %q", k)
		}
		r.ctx["inputs."+k] = v
	}
	for _, k := range []string{"github.event_name", "github.event.pull_request.base.sha", "github.event.pull_request.head.sha",
		"github.event.before", "github.event.after", "github.event.pull_request.head.repo.fork", "github.actor"} {
		r.ctx[k] = ""
	}
	r.ctx["github.action_path"] = actionPath(t)
	return r
}

// eval fills in the ${{ }} expressions of s; an expression the test does
// not know is an error, so a change to the Action cannot go untested.
func (r *runner) eval(s string) string {
	return expr.ReplaceAllStringFunc(s, func(m string) string {
		k := expr.FindStringSubmatch(m)[1]
		v, ok := r.ctx[k]
		if !ok {
			r.t.Fatalf("expression %q has no value in the test", k)
		}
		return v
	})
}

type stepResult struct {
	stdout  string
	code    int
	outputs map[string]string
}

// run runs one shell step the way the runner does.
func (r *runner) run(name string, env ...string) stepResult {
	t := r.t
	t.Helper()
	s := r.a.step(t, name)
	script := filepath.Join(r.temp, "step.sh")
	if err := os.WriteFile(script, []byte(s.Run), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(r.temp, "output-"+strings.ReplaceAll(name, " ", "-"))
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", script)
	cmd.Dir = filepath.Join(r.workspace, r.eval(s.WorkingDirectory))
	cmd.Env = append(r.baseEnv(), "GITHUB_OUTPUT="+out)
	cmd.Env = append(cmd.Env, r.env...)
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+r.eval(v))
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stdout
	err := cmd.Run()
	res := stepResult{stdout: stdout.String(), outputs: map[string]string{}}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("step %q: %v", name, err)
	}
	data, _ := os.ReadFile(out)
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			res.outputs[k] = v
		}
	}
	for k, v := range res.outputs {
		if s.ID != "" {
			r.ctx["steps."+s.ID+".outputs."+k] = v
		}
	}
	return res
}

// baseEnv is the process environment with the runner's variables, PATH
// extended by what GITHUB_PATH collected, and git isolated from the
// user's configuration.
func (r *runner) baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GITHUB_") || strings.HasPrefix(k, "RUNNER_") || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	path := os.Getenv("PATH")
	if data, err := os.ReadFile(r.files["GITHUB_PATH"]); err == nil {
		for _, p := range strings.Fields(string(data)) {
			path = p + string(os.PathListSeparator) + path
		}
	}
	return append(env, "PATH="+path, "RUNNER_TEMP="+r.temp, "RUNNER_OS=Linux", "RUNNER_ARCH=X64",
		"GITHUB_PATH="+r.files["GITHUB_PATH"], "GITHUB_STEP_SUMMARY="+r.files["GITHUB_STEP_SUMMARY"],
		"GITHUB_WORKSPACE="+r.workspace, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
}

func (r *runner) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.baseEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func needTools(t *testing.T, tools ...string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the Action's steps are run with bash on Unix here")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
}

// One run of the Action on a pull request: the install step builds
// xaiscan from the action's source, the scan step runs it once for the
// pull request's commits and writes SARIF, JSON and the job summary, a
// revoke hook given in args with quotes and spaces runs once per key, and
// the last steps decide on the upload and fail the job.
func TestActionSteps(t *testing.T) {
	needTools(t, "bash", "git", "go")
	hook := "cat >> \"hook log.jsonl\" && echo >> \"hook log.jsonl\""
	r := newRunner(t, map[string]string{
		"path": "repo",
		"args": "--revoke-hook\n" + hook + "\n\n--hook-timeout\n30s\n",
	})
	repo := filepath.Join(r.workspace, "repo")
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
	r.ctx["github.event_name"] = "pull_request"
	r.ctx["github.event.pull_request.base.sha"] = base
	r.ctx["github.event.pull_request.head.sha"] = head
	r.ctx["github.event.pull_request.head.repo.fork"] = "false"
	r.ctx["github.actor"] = "ada"

	if res := r.run("Install xaiscan"); res.code != 0 || !strings.Contains(res.stdout, "xaiscan ") {
		t.Fatalf("install: exit %d\n%s", res.code, res.stdout)
	}
	res := r.run("Scan")
	if res.code != 0 {
		t.Fatalf("scan step failed (it must leave the verdict to the last step): %d\n%s", res.code, res.stdout)
	}
	fp := rules.Fingerprint([]byte(key))
	o := res.outputs
	if o["exit-code"] != "1" || o["keys"] != "1" {
		t.Errorf("outputs %v\n%s", o, res.stdout)
	}
	if !strings.Contains(res.stdout, "Scanning commits "+base+".."+head) {
		t.Errorf("not a range scan:\n%s", res.stdout)
	}
	if !strings.Contains(res.stdout, rules.Redact(key)) || !strings.Contains(res.stdout, fp) || strings.Contains(res.stdout, key) {
		t.Errorf("the log must show the redacted key and its fingerprint, never the key:\n%s", res.stdout)
	}
	if o["checkout-path"] != repo || o["category"] != "xaiscan/repo" {
		t.Errorf("upload wiring: checkout-path %q, category %q", o["checkout-path"], o["category"])
	}
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []any `json:"results"`
		} `json:"runs"`
	}
	readJSON(t, o["sarif-file"], &sarif)
	if !filepath.IsAbs(o["sarif-file"]) || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != 1 {
		t.Errorf("SARIF %s: %+v", o["sarif-file"], sarif)
	}
	var rep struct {
		Findings []struct{ Fingerprint, Commit string }
	}
	readJSON(t, o["json-file"], &rep)
	if len(rep.Findings) != 1 || rep.Findings[0].Fingerprint != fp || rep.Findings[0].Commit != head {
		t.Errorf("JSON report: %+v", rep)
	}
	summary, _ := os.ReadFile(r.files["GITHUB_STEP_SUMMARY"])
	if !strings.Contains(string(summary), "xaiscan: 1 xAI key in 1 location") || strings.Contains(string(summary), key) {
		t.Errorf("job summary:\n%s", summary)
	}
	// The hook ran once for the key (one scan, not two), its quoted
	// command intact.
	log, err := os.ReadFile(filepath.Join(repo, "hook log.jsonl"))
	if err != nil {
		t.Fatalf("the revoke hook did not run as written: %v\n%s", err, res.stdout)
	}
	if lines := strings.Split(strings.TrimSpace(string(log)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], fp) {
		t.Errorf("hook log: %q", log)
	}

	// A clean push: the step still reports, with no key.
	r.ctx["github.event_name"] = "push"
	r.ctx["github.event.before"] = base
	r.ctx["github.event.after"] = base
	r.ctx["inputs.args"] = ""
	if res := r.run("Scan"); res.code != 0 || res.outputs["exit-code"] != "0" || res.outputs["keys"] != "0" {
		t.Errorf("clean scan: step exit %d, outputs %v\n%s", res.code, res.outputs, res.stdout)
	}

	r.checkUploadDecision(o["sarif-file"])
	if w := r.run("Warn when the upload failed"); w.code != 0 || !strings.Contains(w.stdout, "::warning::SARIF upload to code scanning failed") {
		t.Errorf("upload warning: %d %s", w.code, w.stdout)
	}
	r.checkVerdicts()
}

// checkUploadDecision: a fork's or Dependabot's pull request gets a
// warning instead of an upload that would fail the job.
func (r *runner) checkUploadDecision(sarif string) {
	t := r.t
	t.Helper()
	cases := []struct {
		fork, actor, wanted string
		upload              string
		warning             string
	}{
		{"false", "ada", "true", "true", ""},
		{"true", "ada", "true", "false", "::warning::SARIF not uploaded: a pull request from a fork"},
		{"", "dependabot[bot]", "true", "false", "::warning::SARIF not uploaded: Dependabot"},
		{"false", "ada", "false", "false", ""},
	}
	for _, tc := range cases {
		r.ctx["github.event.pull_request.head.repo.fork"] = tc.fork
		r.ctx["github.actor"] = tc.actor
		r.ctx["inputs.upload-sarif"] = tc.wanted
		res := r.run("Check whether SARIF can be uploaded")
		if res.code != 0 || res.outputs["upload"] != tc.upload || (tc.warning != "") != strings.Contains(res.stdout, "::warning::") ||
			!strings.Contains(res.stdout, tc.warning) {
			t.Errorf("fork %q actor %q upload-sarif %q: exit %d, upload %q, log %q", tc.fork, tc.actor, tc.wanted, res.code, res.outputs["upload"], res.stdout)
		}
	}
}

// checkVerdicts: the last step turns the exit code into the job's result.
func (r *runner) checkVerdicts() {
	t := r.t
	t.Helper()
	for _, tc := range []struct {
		code, fail string
		want       int
		log        string
	}{
		{"0", "true", 0, "no keys found"},
		{"1", "true", 1, "::error::xaiscan found 1 xAI key(s)"},
		{"1", "false", 0, "::error::xaiscan found 1 xAI key(s)"},
		{"2", "true", 2, "::error::xaiscan could not complete the scan (exit 2)"},
		{"2", "false", 2, "could not complete"},
	} {
		r.ctx["steps.scan.outputs.exit-code"] = tc.code
		r.ctx["steps.scan.outputs.keys"] = "1"
		r.ctx["inputs.fail-on-findings"] = tc.fail
		if res := r.run("Fail on findings"); res.code != tc.want || !strings.Contains(res.stdout, tc.log) {
			t.Errorf("exit-code %s, fail-on-findings %s: step exit %d (want %d), log %q", tc.code, tc.fail, res.code, tc.want, res.stdout)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// With version set, the install step downloads the release archive for the
// runner, checks it against the release's checksums file (and the sha256
// input, when given), and refuses a mismatch.
func TestActionInstallsAVerifiedRelease(t *testing.T) {
	needTools(t, "bash", "curl", "tar")
	fake := []byte("#!/bin/sh\necho 'xaiscan v1.2.3 (fake release)'\n")
	archive := tarGz(t, map[string][]byte{"xaiscan": fake, "LICENSE": []byte("MIT\n")})
	sum := sha256.Sum256(archive)
	good := hex.EncodeToString(sum[:])
	sums := map[string]string{"v1.2.3": good, "v1.2.4": strings.Repeat("0", 64)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case req.URL.Path == "/latest":
			http.Redirect(w, req, "/tag/v1.2.3", http.StatusFound)
		case req.URL.Path == "/tag/v1.2.3":
			fmt.Fprintln(w, "release page")
		case strings.HasSuffix(req.URL.Path, "_linux_amd64.tar.gz"):
			w.Write(archive)
		case strings.HasSuffix(req.URL.Path, "_checksums.txt"):
			tag := strings.Split(req.URL.Path, "/")[2]
			fmt.Fprintf(w, "%s  xaiscan_%s_darwin_arm64.tar.gz\n%s  xaiscan_%s_linux_amd64.tar.gz\n",
				strings.Repeat("1", 64), tag[1:], sums[tag], tag[1:])
		default:
			http.NotFound(w, req)
		}
	}))
	defer srv.Close()
	install := func(inputs map[string]string) stepResult {
		r := newRunner(t, inputs)
		r.env = append(r.env, "XAISCAN_RELEASE_URL="+srv.URL)
		return r.run("Install xaiscan")
	}
	for _, v := range []string{"v1.2.3", "latest"} {
		res := install(map[string]string{"version": v})
		if res.code != 0 || !strings.Contains(res.stdout, "Checksum verified: "+good) || !strings.Contains(res.stdout, "xaiscan v1.2.3 (fake release)") {
			t.Errorf("version %s: exit %d\n%s", v, res.code, res.stdout)
		}
	}
	if res := install(map[string]string{"version": "v1.2.3", "sha256": good}); res.code != 0 {
		t.Errorf("pinned sha256: exit %d\n%s", res.code, res.stdout)
	}
	for name, tc := range map[string]struct {
		inputs map[string]string
		log    string
	}{
		"checksums file disagrees": {map[string]string{"version": "v1.2.4"}, "::error::checksum mismatch for xaiscan_1.2.4_linux_amd64.tar.gz"},
		"sha256 input disagrees":   {map[string]string{"version": "v1.2.3", "sha256": strings.Repeat("f", 64)}, "the sha256 input pins"},
		"no such release":          {map[string]string{"version": "v9.9.9"}, ""},
		"not a tag":                {map[string]string{"version": "main"}, "must be a release tag"},
	} {
		if res := install(tc.inputs); res.code == 0 || !strings.Contains(res.stdout, tc.log) || strings.Contains(res.stdout, "fake release") {
			t.Errorf("%s: exit %d\n%s", name, res.code, res.stdout)
		}
	}
}

func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// shellcheck, where installed, finds nothing in the Action's scripts.
func TestActionShellcheck(t *testing.T) {
	needTools(t, "shellcheck")
	a, _ := loadAction(t)
	for _, s := range a.Runs.Steps {
		if s.Run == "" {
			continue
		}
		script := filepath.Join(t.TempDir(), "step.sh")
		if err := os.WriteFile(script, []byte("#!/usr/bin/env bash\n"+s.Run), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("shellcheck", "-s", "bash", script).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: step %q:\n%s", s.Name, out)
		}
	}
}
