package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/xaiscan/xaiscan/scanner/remote/remotetest"
)

// cmdGitServe serves the bare repositories under ROOT over smart HTTP on
// loopback (git http-backend) and sets $VAR to its URL:
// gitserve [-auth USER:PASS] [-stall] VAR ROOT.
func cmdGitServe(ts *testscript.TestScript, neg bool, args []string) {
	var o remotetest.Options
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-auth":
			if len(args) < 2 {
				ts.Fatalf("gitserve: -auth needs USER:PASS")
			}
			o.User, o.Password, _ = strings.Cut(args[1], ":")
			args = args[1:]
		case "-stall":
			o.Stall = true
		default:
			ts.Fatalf("gitserve: unknown flag %s", args[0])
		}
		args = args[1:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: gitserve [-auth USER:PASS] [-stall] VAR ROOT")
	}
	srv, err := remotetest.Start(ts.MkAbs(args[1]), o)
	if err != nil {
		ts.Fatalf("gitserve: %v", err)
	}
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}

// cmdFakeAPI serves a fake GitHub organisation "acme" or GitLab group
// "acme/sub" listing the named repositories two per page, with clone URLs
// under BASE: fakeapi github|gitlab VAR BASE [fork:|archived:]NAME...
func cmdFakeAPI(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || (args[0] != "github" && args[0] != "gitlab") {
		ts.Fatalf("usage: fakeapi github|gitlab VAR BASE NAME...")
	}
	kind, base, names := args[0], args[2], args[3:]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		want := "/orgs/acme/repos"
		if kind == "gitlab" {
			want = "/groups/acme%2Fsub/projects"
		}
		if r.URL.EscapedPath() != want {
			http.Error(w, `{"message":"Not Found"}`, http.StatusNotFound)
			return
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		lo, hi := (page-1)*2, min(page*2, len(names))
		if hi < len(names) {
			next := fmt.Sprintf("http://%s%s?page=%d", r.Host, r.URL.EscapedPath(), page+1)
			w.Header().Set("Link", `<`+next+`>; rel="next"`)
			w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
		} else {
			w.Header().Set("X-Next-Page", "")
		}
		var out []map[string]any
		for _, n := range names[min(lo, hi):hi] {
			fork, archived := strings.HasPrefix(n, "fork:"), strings.HasPrefix(n, "archived:")
			n = n[strings.IndexByte(n, ':')+1:]
			clone := base + "/" + n + ".git"
			out = append(out, map[string]any{
				"full_name": "acme/" + n, "clone_url": clone, "fork": fork, "archived": archived,
				"path_with_namespace": "acme/sub/" + n, "http_url_to_repo": clone,
			})
			if fork && kind == "gitlab" {
				out[len(out)-1]["forked_from_project"] = map[string]any{"id": 1}
			}
		}
		json.NewEncoder(w).Encode(out)
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[1], srv.URL)
}
