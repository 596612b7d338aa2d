// Package remediate turns the findings of a repository audit into the
// response plan of DESIGN §7: per distinct key, where it is exposed and
// whether it is live, then the steps in the order the xAI security FAQ
// gives — disable or delete the key, create a new one, update the
// applications — and the purge of history: a replacement file for git
// filter-repo, the force-pushes of the exposed refs, reflog expiry and gc,
// and what only the hosting service can purge.
//
// The package only plans; it runs nothing.
package remediate

import (
	"sort"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// Remote is a configured git remote.
type Remote struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Input is what a plan is made from.
type Input struct {
	Findings []scanner.Finding
	Remotes  []Remote
	// Revoked maps a key's fingerprint to what --revoke did with it
	// ("revoked", "failed", ...); nil when --revoke was not used.
	Revoked map[string]string
	// ReplaceText is the path of the filter-repo replacement file written
	// for this plan, or "" (the commands then name it FILE).
	ReplaceText string
}

// Plan is the response plan.
type Plan struct {
	Keys  []Key  `json:"keys"`
	Purge []Step `json:"purge"`
}

// Key is one distinct leaked key and what to do about it.
type Key struct {
	Rule         string `json:"rule"`
	Secret       string `json:"secret"`
	Fingerprint  string `json:"fingerprint"`
	Verification string `json:"verification,omitempty"`
	// Refs is every ref that exposes the key, over all its locations.
	Refs []string `json:"refs"`
	// Pushed is true when a remote-tracking ref exposes it: the key has
	// left this machine.
	Pushed    bool       `json:"pushed"`
	Locations []Location `json:"locations"`
	Steps     []Step     `json:"steps"`

	key string // the full key, for the replacement file only
}

// Location is one place the key was found.
type Location struct {
	Source   string   `json:"source"`
	Path     string   `json:"path,omitempty"`
	Line     int      `json:"line"`
	Commit   string   `json:"commit,omitempty"`
	Object   string   `json:"object,omitempty"`
	Tag      string   `json:"tag,omitempty"`
	Part     string   `json:"part,omitempty"`
	Encoding string   `json:"encoding,omitempty"`
	Refs     []string `json:"refs,omitempty"`
}

// Step is one thing to do, in order.
type Step struct {
	// Action is revoke, create, deploy, rewrite, force-push, expire or
	// host.
	Action   string   `json:"action"`
	Text     string   `json:"text"`
	Commands []string `json:"commands,omitempty"`
}

// Build makes the plan: keys in the order of their first finding.
func Build(in Input) Plan {
	var p Plan
	index := map[string]int{}
	for _, f := range in.Findings {
		fp := f.Fingerprint
		if fp == "" && f.Key != "" {
			fp = rules.Fingerprint([]byte(f.Key))
		}
		i, ok := index[fp]
		if !ok {
			i = len(p.Keys)
			index[fp] = i
			p.Keys = append(p.Keys, Key{Rule: f.Rule, Secret: rules.Redact(f.Key), Fingerprint: fp, key: f.Key})
		}
		k := &p.Keys[i]
		if k.Verification == "" {
			k.Verification = f.Verification
		}
		k.Locations = append(k.Locations, Location{Source: f.Source, Path: f.Path, Line: f.Line, Commit: f.Commit,
			Object: f.Object, Tag: f.Tag, Part: f.Part, Encoding: f.Encoding, Refs: f.Refs})
		k.Refs = union(k.Refs, f.Refs)
	}
	for i := range p.Keys {
		k := &p.Keys[i]
		k.Pushed = anyPrefix(k.Refs, "refs/remotes/")
		k.Steps = keySteps(*k, in.Revoked)
	}
	p.Purge = purgeSteps(p.Keys, in)
	return p
}

// keySteps are the FAQ's first three steps for one key.
func keySteps(k Key, revoked map[string]string) []Step {
	first := Step{Action: "revoke", Text: "Disable or delete the key in the xAI console (https://console.x.ai, API Keys), or run this command again with --revoke (needs XAI_MANAGEMENT_API_KEY)."}
	switch {
	case revoked[k.Fingerprint] != "":
		first.Text = "--revoke: " + revoked[k.Fingerprint] + "; check the xAI console that the key is gone."
	case k.Verification == "dead":
		first.Text = "The key is already rejected by the xAI API (dead); make sure it is deleted in the xAI console (https://console.x.ai, API Keys)."
	}
	return []Step{
		first,
		{Action: "create", Text: "Create a new key in the xAI console, with only the permissions the application needs."},
		{Action: "deploy", Text: "Update the applications and secret stores that used the old key (" + usedAt(k) + "); keep the new key out of the repository (environment, secret manager, a git-ignored .env)."},
	}
}

// usedAt names where the key was found, for the deploy step.
func usedAt(k Key) string {
	var paths []string
	for _, l := range k.Locations {
		if l.Path != "" && !contains(paths, l.Path) {
			paths = append(paths, l.Path)
		}
	}
	if len(paths) == 0 {
		return "found in commit or tag messages only"
	}
	if len(paths) > 5 {
		return "found at " + strings.Join(paths[:5], ", ") + " and more"
	}
	return "found at " + strings.Join(paths, ", ")
}

func union(a, b []string) []string {
	for _, s := range b {
		if !contains(a, s) {
			a = append(a, s)
		}
	}
	sort.Strings(a)
	return a
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func anyPrefix(l []string, p string) bool {
	for _, s := range l {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
