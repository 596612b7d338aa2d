package gitsource

import (
	"bytes"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/names"
)

// Parts of a git object a key can sit in (Finding.Part). A blob's content
// has no part.
const (
	partMessage = "message" // a commit's or annotated tag's message
	partAuthor  = "author"  // an author, committer or tagger header
	partHeader  = "header"  // any other header line (encoding, mergetag, gpgsig)
)

// rawFindings are a scan's findings sorted by what holds them: commit and
// tag objects (their headers and messages), and blobs, with every
// occurrence of each key in each blob.
type rawFindings struct {
	objects []scanner.Finding
	other   []scanner.Finding // not from an object of this store (no Object)
	blobs   map[plumbing.Hash]map[string][]scanner.Finding
	// trees holds the keys found in the entry names of each tree.
	trees map[plumbing.Hash][]scanner.Finding
}

// splitRaw sorts raw findings by holder. Every occurrence of a key in a
// blob is kept: a file that holds the same key twice is reported twice,
// like the working tree's copy of it.
func (s *Source) splitRaw(raw []scanner.Finding) rawFindings {
	r := rawFindings{blobs: map[plumbing.Hash]map[string][]scanner.Finding{}, trees: map[plumbing.Hash][]scanner.Finding{}}
	for _, f := range raw {
		h, ok := parseHex(f.Object)
		switch {
		case !ok:
			r.other = append(r.other, f)
		case f.Path == "" && s.nameTrees[h]:
			r.trees[h] = append(r.trees[h], f)
		case f.Part == names.Part:
			r.other = append(r.other, s.refNameFinding(f))
		case f.Path == "" && (s.commits[h] != nil || s.tags[h] != nil):
			r.objects = append(r.objects, f)
		default:
			m := r.blobs[h]
			if m == nil {
				m = map[string][]scanner.Finding{}
				r.blobs[h] = m
			}
			m[f.Key] = appendOccurrence(m[f.Key], f)
		}
	}
	return r
}

// appendOccurrence adds f to a key's occurrences in one blob unless the
// same spot is there already (a container opened twice).
func appendOccurrence(l []scanner.Finding, f scanner.Finding) []scanner.Finding {
	for _, g := range l {
		if g.Offset == f.Offset && g.Path == f.Path && g.Encoding == f.Encoding {
			return l
		}
	}
	return append(l, f)
}

// attributeObjects attributes findings in commit and tag objects.
func (s *Source) attributeObjects(fs []scanner.Finding, reach reachability) []scanner.Finding {
	out := make([]scanner.Finding, 0, len(fs))
	for _, f := range fs {
		h, _ := parseHex(f.Object)
		if c := s.commits[h]; c != nil {
			out = append(out, s.commitFinding(f, c, reach))
		} else {
			out = append(out, s.tagFinding(f, h, s.tags[h], reach))
		}
	}
	return out
}

// commitFinding is a key in commit c's message or headers, attributed to
// c itself.
func (s *Source) commitFinding(f scanner.Finding, c *commitInfo, reach reachability) scanner.Finding {
	f.Commit, f.Author, f.Email, f.Date = c.hash.String(), c.author, c.email, c.date()
	f.Reachable = reach.commit(c.hash)
	f.Part, f.Line = s.partOf(c.hash, c.head, f)
	return f
}

// tagFinding is a key in an annotated tag's message or tagger: it is
// labelled with the tag (name and object), and with the commit the tag
// finally names, when that is a commit.
func (s *Source) tagFinding(f scanner.Finding, h plumbing.Hash, t *tagInfo, reach reachability) scanner.Finding {
	f.Tag = t.name
	f.Commit = ""
	if target, typ := s.peelTyped(h); typ == typCommit || s.commits[target] != nil {
		f.Commit = target.String()
	}
	f.Author, f.Email = t.tagger, t.email
	if t.when != 0 {
		f.Date = (&commitInfo{when: t.when}).date()
	}
	f.Reachable = reach.tag(h)
	f.Part, f.Line = s.partOf(h, t.head, f)
	return f
}

// partOf says where in object h (whose header block is span) the finding
// sits, and its line: in the message, the line of the message (DESIGN
// §4); in a header, the header's line in the object.
func (s *Source) partOf(h plumbing.Hash, span headerSpan, f scanner.Finding) (string, int) {
	if f.Offset >= span.msgStart {
		return partMessage, f.Line - span.lines - 1
	}
	_, data, err := s.st.read(h)
	if err != nil {
		return partHeader, f.Line
	}
	return headerPart(data, f.Offset), f.Line
}

// headerPart names the header line of a commit or tag object data that
// holds offset: an identity (author, committer, tagger) or another header.
func headerPart(data []byte, off int64) string {
	if off < 0 || off >= int64(len(data)) {
		return partHeader
	}
	// A continuation line (a space first) belongs to the header above it.
	start := int64(bytes.LastIndexByte(data[:off], '\n') + 1)
	for start > 0 && data[start] == ' ' {
		start = int64(bytes.LastIndexByte(data[:start-1], '\n') + 1)
	}
	key, _, _ := bytes.Cut(data[start:], []byte(" "))
	switch string(key) {
	case "author", "committer", "tagger":
		return partAuthor
	}
	return partHeader
}

// peelTyped follows a tag to the object it finally names, and the type
// the last tag gives it.
func (s *Source) peelTyped(h plumbing.Hash) (plumbing.Hash, int8) {
	var typ int8
	for depth := 0; depth < 10; depth++ {
		t := s.tags[h]
		if t == nil {
			break
		}
		h, typ = t.target, t.targetType
	}
	return h, typ
}
