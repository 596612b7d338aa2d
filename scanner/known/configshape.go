package known

import (
	"fmt"
	"strings"
)

// Limits on the shape of a configuration file, checked before the TOML
// decoder sees it. The decoder's memory grows with the square of the
// nesting depth and of the number of parts in a dotted key: a 600 KB
// file of one 300,000-part key took 1.5 GB, 800 KB of nested inline
// tables more than 24 GB, and even 1 MB of 14-part keys 300 MB. The
// configuration's own keys are two deep (allow.paths, an [[ignore]]
// entry's array of tables), so anything past these limits is an error
// whatever its shape: they only choose which error is shown.
const (
	maxConfigNesting  = 4 // arrays and tables inside one another
	maxConfigKeyParts = 4 // parts of one dotted key or table name
)

// checkShape refuses TOML nested deeper than maxConfigNesting or with a
// key of more than maxConfigKeyParts parts, and returns the line at
// fault. It reads the text once, passing over strings and comments.
func checkShape(text string) (line int, err error) {
	line = 1
	depth, dots := 0, 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '\n':
			line++
			dots = 0
		case '#':
			if j := strings.IndexByte(text[i:], '\n'); j > 0 {
				i += j - 1 // the newline is counted next
			} else {
				return line, nil
			}
		case '"', '\'':
			end, lines := skipString(text, i)
			i, line = end, line+lines
		case '[', '{':
			depth++
			dots = 0
			if depth > maxConfigNesting {
				return line, fmt.Errorf("arrays or tables nested more than %d deep", maxConfigNesting)
			}
		case ']', '}':
			depth = max(depth-1, 0)
			dots = 0
		case '=', ',':
			dots = 0
		case '.':
			// A dot outside a string separates key parts; a value holds
			// at most one (1.5, a time's fraction of a second).
			if dots++; dots >= maxConfigKeyParts {
				return line, fmt.Errorf("a key of more than %d dotted parts", maxConfigKeyParts)
			}
		}
	}
	return line, nil
}

// skipString passes over the string starting with the quote at text[i]
// and returns the index of its last byte and the newlines it holds. A
// single-line string ends at the end of its line at the latest (an
// unterminated one is the decoder's error to report).
func skipString(text string, i int) (end, lines int) {
	q := text[i]
	escapes := q == '"'
	if strings.HasPrefix(text[i:], strings.Repeat(string(q), 3)) {
		return skipMultiline(text, i+3, q, escapes)
	}
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			if escapes && j+1 < len(text) && text[j+1] != '\n' {
				j++
			}
		case '\n':
			return j - 1, 0
		case q:
			return j, 0
		}
	}
	return len(text) - 1, 0
}

// skipMultiline passes over a multi-line string (three double or three
// single quotes) whose content starts at text[i]. Up to two quotes before
// the closing three belong to the content, as TOML says.
func skipMultiline(text string, i int, q byte, escapes bool) (end, lines int) {
	for j := i; j < len(text); j++ {
		switch c := text[j]; {
		case c == '\\' && escapes:
			if j+1 < len(text) && text[j+1] == '\n' {
				lines++
			}
			j++
		case c == '\n':
			lines++
		case c == q && strings.HasPrefix(text[j:], strings.Repeat(string(q), 3)):
			end = j + 2
			for extra := 0; extra < 2 && end+1 < len(text) && text[end+1] == q; extra++ {
				end++
			}
			return end, lines
		}
	}
	return len(text) - 1, lines
}
