package gitsource

import (
	"context"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
)

// syntheticHistory is a history of n commits (a main line with a merge
// every 50 commits from a short side branch) and refs refs: branches at
// recent commits, tags along the line, pull-request refs, remote-tracking
// refs.
func syntheticHistory(n, refs int) (*Source, []plumbing.Hash) {
	s := &Source{commits: map[plumbing.Hash]*commitInfo{}, tags: map[plumbing.Hash]*tagInfo{}}
	hashes := make([]plumbing.Hash, n)
	for i := range hashes {
		var h plumbing.Hash
		copy(h[:], fmt.Sprintf("%020d", i))
		hashes[i] = h
		c := &commitInfo{hash: h, when: int64(i)}
		if i > 0 {
			c.parents = append(c.parents, hashes[i-1])
		}
		if i >= 5 && i%50 == 0 {
			c.parents = append(c.parents, hashes[i-5])
		}
		s.commits[h] = c
	}
	prefixes := []string{"refs/heads/b", "refs/tags/v", "refs/pull/", "refs/remotes/origin/b"}
	for i := 0; i < refs; i++ {
		at := n - 1 - (i*7919)%n
		s.refs.tips = append(s.refs.tips, ref{fmt.Sprintf("%s%d", prefixes[i%len(prefixes)], i), hashes[at]})
	}
	return s, hashes
}

func targetsAt(hashes []plumbing.Hash, k int) exposureTargets {
	t := exposureTargets{bit: map[plumbing.Hash]int{}, tags: map[plumbing.Hash]bool{}, blobs: map[plumbing.Hash]bool{}}
	for i := 0; i < k; i++ {
		h := hashes[(i*len(hashes))/k]
		t.bit[h] = len(t.commits)
		t.commits = append(t.commits, h)
	}
	return t
}

// BenchmarkExposurePass: one pass over 50,000 commits and 15,000 refs for
// 8 and 100 key-holding commits.
func BenchmarkExposurePass(b *testing.B) {
	s, hashes := syntheticHistory(50000, 15000)
	for _, k := range []int{8, 100} {
		t := targetsAt(hashes, k)
		b.Run(fmt.Sprintf("targets=%d", k), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				x := s.exposurePass(t)
				if len(x.commits[t.commits[0]]) == 0 {
					b.Fatal("the oldest target is reached by no ref")
				}
			}
		})
	}
}

// The pass agrees with a plain walk per target on the synthetic history.
func TestExposurePassMatchesWalk(t *testing.T) {
	s, hashes := syntheticHistory(1500, 200)
	tg := targetsAt(hashes, 70) // more than one bitset word
	x := s.exposurePass(tg)
	for _, target := range tg.commits {
		var want []string
		for _, r := range s.refs.tips {
			if reaches(s, r.hash, target) {
				want = append(want, r.name)
			}
		}
		got := append([]string(nil), x.commits[target]...)
		sort.Strings(got)
		sort.Strings(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("target %x: %d refs, walk says %d", target[:4], len(got), len(want))
		}
	}
}

func reaches(s *Source, from, to plumbing.Hash) bool {
	seen := map[plumbing.Hash]bool{}
	stack := []plumbing.Hash{from}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if h == to {
			return true
		}
		if seen[h] || s.commits[h] == nil {
			continue
		}
		seen[h] = true
		stack = append(stack, s.commits[h].parents...)
	}
	return false
}

// TestExposureRealRepo measures the exposure pass on a real repository
// (XAISCAN_EXPOSURE_REPO=path): the whole-history scan, then the pass for
// 8 commits spread over the history, as a ratio of the scan's time.
func TestExposureRealRepo(t *testing.T) {
	repo := os.Getenv("XAISCAN_EXPOSURE_REPO")
	if repo == "" {
		t.Skip("set XAISCAN_EXPOSURE_REPO to a repository to measure")
	}
	src, err := New(repo, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := scanner.New(scanner.Options{Workers: 2}).Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	scanTime := time.Since(start)
	all := sortedHashes(src.commits)
	sort.Slice(all, func(i, j int) bool { return src.commits[all[i]].when < src.commits[all[j]].when })
	tg := targetsAt(all, 8)
	start = time.Now()
	x := src.exposurePass(tg)
	passTime := time.Since(start)
	reached := 0
	for _, h := range tg.commits {
		reached += len(x.commits[h])
	}
	t.Logf("%s: %d commits, %d refs + %d reflog entries; history scan %v; exposure pass (8 targets) %v = %.4f of the scan; %d (target, ref) pairs",
		repo, len(src.commits), len(src.refs.tips), len(src.refs.reflog), scanTime, passTime, passTime.Seconds()/scanTime.Seconds(), reached)
}
