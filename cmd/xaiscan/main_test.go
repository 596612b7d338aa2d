package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner/verify/xaitest"
)

// TestMain lets testscript run the real xaiscan main as a subprocess
// command named "xaiscan".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"xaiscan": func() { os.Exit(mainExit()) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: the real
// binary against real files, real git repositories and a fake of the xAI
// APIs served on loopback.
func TestScripts(t *testing.T) {
	fake := xaitest.New(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("XAI_API_BASE_URL", fake.API.URL)
			env.Setenv("XAI_MANAGEMENT_API_BASE_URL", fake.Mgmt.URL)
			env.Setenv("NO_COLOR", "")
			// Scripts that compile a program share the real build cache:
			// HOME is the script's own directory, and a cold cache would
			// rebuild the standard library.
			if out, err := exec.Command("go", "env", "GOCACHE").Output(); err == nil {
				env.Setenv("GOCACHE", strings.TrimSpace(string(out)))
			}
			env.Setenv("GOFLAGS", "-buildvcs=false")
			env.Setenv("GOTOOLCHAIN", "local")
			for _, kv := range [][2]string{
				{"GIT_AUTHOR_NAME", "Ada Lovelace"}, {"GIT_AUTHOR_EMAIL", "ada@example.com"},
				{"GIT_COMMITTER_NAME", "Ada Lovelace"}, {"GIT_COMMITTER_EMAIL", "ada@example.com"},
				{"GIT_CONFIG_NOSYSTEM", "1"}, {"GIT_CONFIG_GLOBAL", env.WorkDir + "/.gitconfig-test"},
				{"HOME", env.WorkDir},
			} {
				env.Setenv(kv[0], kv[1])
			}
			return os.WriteFile(env.WorkDir+"/.gitconfig-test",
				[]byte("[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n[commit]\n\tgpgsign = false\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"), 0o644)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"fill":         cmdFill,
			"xai-key":      func(ts *testscript.TestScript, neg bool, args []string) { cmdXAIKey(ts, fake, args) },
			"xai-count":    func(ts *testscript.TestScript, neg bool, args []string) { cmdXAICount(ts, fake, args) },
			"xai-deleted":  func(ts *testscript.TestScript, neg bool, args []string) { cmdXAIDeleted(ts, fake, neg, args) },
			"filemode":     cmdFileMode,
			"xai-wait":     func(ts *testscript.TestScript, neg bool, args []string) { cmdXAIWait(ts, fake, args) },
			"waitfile":     cmdWaitFile,
			"gone":         cmdGone,
			"gitserve":     cmdGitServe,
			"fakeapi":      cmdFakeAPI,
			"readme-block": cmdReadmeBlock,
			"encode":       cmdEncode,
		},
	})
}

var placeholder = regexp.MustCompile(`\{\{(KEY|MGMT)[0-9]*\}\}`)

// cmdFill replaces {{KEY}}, {{KEY2}}, {{MGMT}} ... in the named files with
// fake keys, the same key for the same name across files of a script. It
// sets $KEY (the key), $KEY_RED (its redacted form) and $KEY_FP (its
// fingerprint) for each, so scripts can assert on them without the
// repository ever holding a key-shaped string.
func cmdFill(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: fill FILE...")
	}
	for _, name := range args {
		data := ts.ReadFile(name)
		out := placeholder.ReplaceAllStringFunc(data, func(m string) string {
			v := m[2 : len(m)-2]
			if k := ts.Getenv(v); k != "" {
				return k
			}
			k := rulestest.APIKey()
			if strings.HasPrefix(v, "MGMT") {
				k = rulestest.ManagementKey()
			}
			ts.Setenv(v, k)
			ts.Setenv(v+"_RED", regexp.QuoteMeta(rules.Redact(k)))
			ts.Setenv(v+"_FP", rules.Fingerprint([]byte(k)))
			return k
		})
		if err := os.WriteFile(ts.MkAbs(name), []byte(out), 0o644); err != nil {
			ts.Fatalf("fill %s: %v", name, err)
		}
	}
}

// cmdXAIKey tells the fake xAI API how to answer for a key:
// xai-key VAR live|disabled|401|500|... [id]  (inference key)
// xai-key -mgmt VAR live|401|403             (management key)
func cmdXAIKey(ts *testscript.TestScript, fake *xaitest.Server, args []string) {
	if len(args) > 0 && args[0] == "-mgmt" {
		if len(args) != 3 {
			ts.Fatalf("usage: xai-key -mgmt VAR MODE")
		}
		key := ts.Getenv(args[1])
		if key == "" {
			key = rulestest.ManagementKey()
			ts.Setenv(args[1], key)
		}
		fake.AddMgmtKey(key, xaitest.MgmtKey{Mode: xaitest.Mode(args[2]), Name: "ops"})
		return
	}
	if len(args) < 2 {
		ts.Fatalf("usage: xai-key VAR MODE [ID]")
	}
	key := ts.Getenv(args[0])
	if key == "" {
		ts.Fatalf("$%s is not set (fill a file first)", args[0])
	}
	k := xaitest.APIKey{Mode: xaitest.Mode(args[1]), Name: "ci-bot", ACLs: []string{"api-key:model:*"}, ID: "id-" + args[0]}
	if len(args) > 2 {
		k.ID = args[2]
	}
	fake.AddAPIKey(key, k)
}

// cmdXAICount asserts how many requests the fake saw: xai-count METHOD PATH VAR N.
func cmdXAICount(ts *testscript.TestScript, fake *xaitest.Server, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: xai-count METHOD PATH VAR N")
	}
	want, err := strconv.Atoi(args[3])
	if err != nil {
		ts.Fatalf("bad count %q", args[3])
	}
	method := args[0]
	if method == "*" {
		method = ""
	}
	path := args[1]
	if path == "*" {
		path = ""
	}
	if got := fake.Count(method, path, ts.Getenv(args[2])); got != want {
		ts.Fatalf("%s %s with $%s: %d requests, want %d", args[0], args[1], args[2], got, want)
	}
}

// cmdXAIDeleted asserts an API key id was (or, negated, was not) deleted:
// xai-deleted ID.
func cmdXAIDeleted(ts *testscript.TestScript, fake *xaitest.Server, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: xai-deleted ID")
	}
	deleted := slices.Contains(fake.Deleted(), args[0])
	if deleted == neg {
		ts.Fatalf("key id %s deleted: %v (deleted ids: %v)", args[0], deleted, fake.Deleted())
	}
}

// cmdFileMode asserts a file's permission bits: filemode FILE 0600.
func cmdFileMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: filemode FILE MODE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	if got := fmt.Sprintf("%04o", fi.Mode().Perm()); got != args[1] {
		ts.Fatalf("%s has mode %s, want %s", args[0], got, args[1])
	}
}

// cmdXAIWait waits (up to 10s) until the fake has seen N requests:
// xai-wait METHOD PATH VAR N. Scripts use it to interrupt a request in
// flight without guessing with sleeps.
func cmdXAIWait(ts *testscript.TestScript, fake *xaitest.Server, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: xai-wait METHOD PATH VAR N")
	}
	n, err := strconv.Atoi(args[3])
	if err != nil {
		ts.Fatalf("bad count %q", args[3])
	}
	if !fake.WaitFor(args[0], args[1], ts.Getenv(args[2]), n, 10*time.Second) {
		ts.Fatalf("no %s %s with $%s within 10s", args[0], args[1], args[2])
	}
}

// cmdWaitFile waits (up to 10s) until each FILE exists and ends in a
// newline: waitfile FILE...
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	for _, name := range args {
		deadline := time.Now().Add(10 * time.Second)
		for {
			b, err := os.ReadFile(ts.MkAbs(name))
			if err == nil && strings.HasSuffix(string(b), "\n") {
				break
			}
			if time.Now().After(deadline) {
				ts.Fatalf("%s not written within 10s", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// cmdGone asserts that the processes whose pids the files hold no longer
// run (gone, or zombies nobody has reaped yet), waiting up to 5s for a
// kill to complete: gone PIDFILE...
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	for _, name := range args {
		pid := strings.TrimSpace(ts.ReadFile(name))
		if _, err := strconv.Atoi(pid); err != nil {
			ts.Fatalf("%s: bad pid %q", name, pid)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !processGone(pid) {
			if time.Now().After(deadline) {
				ts.Fatalf("process %s (from %s) still runs", pid, name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// processGone reports whether pid has no process, or only a zombie.
func processGone(pid string) bool {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z")
}
