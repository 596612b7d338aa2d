package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The deploy/ examples wire a shard index to `--shard K/N`. These tests
// parse them and check that wiring: N agrees everywhere, every index runs
// a command the real CLI accepts, the shards those commands select are
// disjoint and together the whole list, and the merge reads exactly the
// reports the shards write.

type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		CompletionMode string `yaml:"completionMode"`
		Completions    *int   `yaml:"completions"`
		Parallelism    *int   `yaml:"parallelism"`
		Template       struct {
			Spec struct {
				RestartPolicy string         `yaml:"restartPolicy"`
				Containers    []k8sContainer `yaml:"containers"`
				Volumes       []struct {
					Name string `yaml:"name"`
					PVC  *struct {
						ClaimName string `yaml:"claimName"`
					} `yaml:"persistentVolumeClaim"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Env     []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			FieldRef *struct {
				FieldPath string `yaml:"fieldPath"`
			} `yaml:"fieldRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
}

func (c k8sContainer) env(name string) (string, string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			field := ""
			if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
				field = e.ValueFrom.FieldRef.FieldPath
			}
			return e.Value, field, true
		}
	}
	return "", "", false
}

func readK8sJob(t *testing.T, file, name string) (k8sDoc, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", file))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d k8sDoc
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: no Job %s (%v)", file, name, err)
		}
		if d.Kind == "Job" && d.Metadata.Name == name {
			return d, file
		}
	}
}

func TestKubernetesIndexedJobWiring(t *testing.T) {
	job, file := readK8sJob(t, "audit-job.yaml", "xaiscan-audit")
	s := job.Spec
	if s.CompletionMode != "Indexed" {
		t.Fatalf("%s: completionMode %q, want Indexed", file, s.CompletionMode)
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Completions < 1 || *s.Completions != *s.Parallelism {
		t.Fatalf("%s: completions and parallelism must be set and equal", file)
	}
	n := *s.Completions
	if s.Template.Spec.RestartPolicy != "Never" {
		t.Errorf("%s: restartPolicy %q, want Never (a retried shard is a new pod)", file, s.Template.Spec.RestartPolicy)
	}
	c := container(t, file, s.Template.Spec.Containers, "xaiscan")
	if _, field, _ := c.env("JOB_COMPLETION_INDEX"); field != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("%s: JOB_COMPLETION_INDEX must come from the completion-index annotation, got %q", file, field)
	}
	if v, _, _ := c.env("SHARDS"); v != strconv.Itoa(n) {
		t.Errorf("%s: SHARDS=%q, want %d (= completions)", file, v, n)
	}
	script := strings.Join(c.Args, "\n")
	words := commandLine(t, file, script, "xaiscan git")
	if v := flagValue(words, "--shard"); v != "$(JOB_COMPLETION_INDEX)/$(SHARDS)" {
		t.Errorf("%s: --shard %q, want $(JOB_COMPLETION_INDEX)/$(SHARDS)", file, v)
	}
	out := flagValue(words, "-o")
	if !strings.Contains(out, "$(JOB_COMPLETION_INDEX)") {
		t.Errorf("%s: the report %q does not name the shard index", file, out)
	}
	// Every index runs a command the CLI accepts, and the shards they
	// select cover the list exactly once.
	envOf := func(k int) map[string]string {
		return map[string]string{"JOB_COMPLETION_INDEX": strconv.Itoa(k), "SHARDS": strconv.Itoa(n)}
	}
	checkShardsCover(t, file, n, func(k int) []string { return expandWords(words, envOf(k), k8sVar) })

	merge, mfile := readK8sJob(t, "merge-job.yaml", "xaiscan-merge")
	mc := container(t, mfile, merge.Spec.Template.Spec.Containers, "merge")
	if v, _, _ := mc.env("SHARDS"); v != strconv.Itoa(n) {
		t.Errorf("%s: SHARDS=%q, want %d (= completions in %s)", mfile, v, n, file)
	}
	mscript := strings.Join(mc.Args, "\n")
	want := strings.ReplaceAll(out, "$(JOB_COMPLETION_INDEX)", "$i")
	if !strings.Contains(mscript, `"$i" -lt "$SHARDS"`) || !strings.Contains(mscript, `"`+want+`"`) {
		t.Errorf("%s: the merge must read %s for i = 0 ... SHARDS-1:\n%s", mfile, want, mscript)
	}
	if !strings.Contains(mscript, "xaiscan merge") {
		t.Errorf("%s: no xaiscan merge", mfile)
	}
	if a, b := claim(job), claim(merge); a == "" || a != b {
		t.Errorf("the shards write to claim %q, the merge reads claim %q", a, b)
	}
}

func container(t *testing.T, file string, cs []k8sContainer, name string) k8sContainer {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s: no container %s", file, name)
	return k8sContainer{}
}

func claim(d k8sDoc) string {
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "reports" && v.PVC != nil {
			return v.PVC.ClaimName
		}
	}
	return ""
}

type workflow struct {
	Env  map[string]any `yaml:"env"`
	Jobs map[string]struct {
		Needs    any    `yaml:"needs"`
		If       string `yaml:"if"`
		Strategy struct {
			Matrix map[string]any `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			If   string            `yaml:"if"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]any    `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func TestActionsMatrixWiring(t *testing.T) {
	file := "fleet-audit.yml"
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "github", file))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(fmt.Sprint(wf.Env["SHARDS"]))
	if err != nil || n < 1 {
		t.Fatalf("%s: env SHARDS = %v, want a positive number", file, wf.Env["SHARDS"])
	}
	audit, ok := wf.Jobs["audit"]
	if !ok {
		t.Fatalf("%s: no audit job", file)
	}
	var shards []int
	for _, v := range audit.Strategy.Matrix["shard"].([]any) {
		shards = append(shards, v.(int))
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(shards, want) {
		t.Fatalf("%s: matrix.shard %v, want 0 ... SHARDS-1 = %v", file, shards, want)
	}
	var words []string
	uploaded := false
	for _, st := range audit.Steps {
		if strings.Contains(st.Run, "xaiscan git") {
			if st.Env["SHARD"] != "${{ matrix.shard }}" {
				t.Errorf("%s: the audit step's SHARD is %q, want ${{ matrix.shard }}", file, st.Env["SHARD"])
			}
			words = commandLine(t, file, st.Run, "xaiscan git")
		}
		if strings.HasPrefix(st.Uses, "actions/upload-artifact") {
			uploaded = st.With["name"] == "shard-${{ matrix.shard }}" && st.With["path"] == "shard-${{ matrix.shard }}.json" && st.If == "always()"
		}
	}
	if v := flagValue(words, "--shard"); v != "$SHARD/$SHARDS" {
		t.Errorf("%s: --shard %q, want $SHARD/$SHARDS", file, v)
	}
	if v := flagValue(words, "-o"); v != "shard-$SHARD.json" {
		t.Errorf("%s: report %q, want shard-$SHARD.json", file, v)
	}
	if !uploaded {
		t.Errorf("%s: each shard must upload shard-${{ matrix.shard }}.json as artifact shard-${{ matrix.shard }}, always", file)
	}
	checkShardsCover(t, file, n, func(k int) []string {
		return expandWords(words, map[string]string{"SHARD": strconv.Itoa(k), "SHARDS": strconv.Itoa(n)}, shellVar)
	})

	merge := wf.Jobs["merge"]
	if fmt.Sprint(merge.Needs) != "audit" || merge.If != "always()" {
		t.Errorf("%s: the merge must need audit and run always (needs %v, if %q)", file, merge.Needs, merge.If)
	}
	merged := false
	for _, st := range merge.Steps {
		if strings.HasPrefix(st.Uses, "actions/download-artifact") && st.With["pattern"] != "shard-*" {
			t.Errorf("%s: the merge downloads %v, want pattern shard-*", file, st.With["pattern"])
		}
		if strings.Contains(st.Run, "xaiscan merge") {
			merged = strings.Contains(st.Run, "i < SHARDS") && strings.Contains(st.Run, `"shard-$i.json"`)
		}
	}
	if !merged {
		t.Errorf("%s: the merge must name shard-$i.json for i = 0 ... SHARDS-1", file)
	}
}

// checkShardsCover runs the shard command of every index, with a list of
// repositories in place of the one named and --list-repos added, and
// checks that the shards are disjoint and together the whole list.
func checkShardsCover(t *testing.T, file string, n int, argsOf func(k int) []string) {
	t.Helper()
	list := filepath.Join(t.TempDir(), "repos.txt")
	var all []string
	for i := 0; i < 3*n+1; i++ {
		all = append(all, fmt.Sprintf("https://git.example.com/r%02d.git", i))
	}
	if err := os.WriteFile(list, []byte(strings.Join(all, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := 0; k < n; k++ {
		args := argsOf(k)
		if i := slices.Index(args, "--repos"); i >= 0 && i+1 < len(args) {
			args[i+1] = list
		} else {
			t.Fatalf("%s: the shard command has no --repos", file)
		}
		var stdout, stderr bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		if code := a.run(context.Background(), append(args, "--list-repos", "-q")); code != 0 {
			t.Fatalf("%s: index %d: %q exits %d: %s", file, k, args, code, stderr.String())
		}
		got = append(got, strings.Fields(stdout.String())...)
	}
	slices.Sort(got)
	if !slices.Equal(got, all) {
		t.Errorf("%s: the %d shards select %d repositories %v, want each of %d once", file, n, len(got), got, len(all))
	}
}

// commandLine finds the line of script that runs prog and splits it into
// words (double quotes group, as in sh), from "git" on.
func commandLine(t *testing.T, file, script, prog string) []string {
	t.Helper()
	for _, line := range strings.Split(script, "\n") {
		i := strings.Index(line, prog)
		if i < 0 {
			continue
		}
		rest := line[i+len("xaiscan "):]
		var words []string
		for _, m := range regexp.MustCompile(`"([^"]*)"|(\S+)`).FindAllStringSubmatch(rest, -1) {
			words = append(words, m[1]+m[2])
		}
		return words
	}
	t.Fatalf("%s: no %q command", file, prog)
	return nil
}

func flagValue(words []string, name string) string {
	if i := slices.Index(words, name); i >= 0 && i+1 < len(words) {
		return words[i+1]
	}
	return ""
}

var (
	k8sVar   = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
	shellVar = regexp.MustCompile(`\$([A-Za-z_][A-Za-z0-9_]*)`)
)

// expandWords substitutes variables the way the runner would: Kubernetes'
// $(VAR) or the shell's $VAR.
func expandWords(words []string, env map[string]string, re *regexp.Regexp) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = re.ReplaceAllStringFunc(w, func(m string) string {
			return env[re.FindStringSubmatch(m)[1]]
		})
	}
	return out
}
