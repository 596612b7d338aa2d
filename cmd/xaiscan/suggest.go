package main

import (
	"os"
	"strings"
)

// unknownCommand handles a first argument that is a plain word (no "/" or
// "."), neither a command nor an existing path: one close to a command's
// name (xaiscan gti) gets "did you mean git?", any other a line saying it
// is neither, and exit 2 — rather than the audit's "no such file". Paths
// and flags are left to the audit (typo is false).
func (a *app) unknownCommand(arg string) (code int, typo bool) {
	if arg == "" || strings.HasPrefix(arg, "-") || strings.ContainsAny(arg, `/\.`) {
		return 0, false
	}
	if _, err := os.Lstat(arg); err == nil {
		return 0, false // a directory that happens to look like a typo
	}
	if s := suggestCommand(arg); s != "" {
		return a.fail(usagef("unknown command %q; did you mean %s?", arg, s)), true
	}
	return a.fail(usagef("%q is neither a command nor a file or directory", arg)), true
}

// suggestCommand returns the command whose name is closest to arg, if it
// is close enough to be what was meant: the same but for case, or at most
// two edits away (one for names of up to four letters), a swap of
// neighbours counting as one.
func suggestCommand(arg string) string {
	name := strings.ToLower(arg)
	best, bestD := "", 1<<30
	for _, c := range commands() {
		d := editDistance(name, c.name)
		if d < bestD {
			best, bestD = c.name, d
		}
	}
	limit := 2
	if len(name) <= 4 {
		limit = 1
	}
	if bestD > limit || (bestD == 0 && name == arg) {
		return "" // too far, or the command itself
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// bytes each cost one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
