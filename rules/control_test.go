package rules_test

import (
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// TestKeyAfterControlSequence: a key right after any terminal control
// sequence is found, whether the ESC is the byte itself or written as
// text (JSON in a notebook, a shell script, caret notation).
func TestKeyAfterControlSequence(t *testing.T) {
	seqs := []string{
		"\x1b[2K", "\x1b[1;1H", "\x1b[K", "\x1b[?25l", "\x1b[38;2;255;128;0m", "\x1b[38:5:208m",
		"\x1b[0m", "\x1b[3A", "\x1b[1 q", "\x1b7", "\x1bM", "\x1b(B", "\x1b(B\x1b[m",
		"\x1b]0;title\x07", "\x1b]8;;https://example.invalid\x1b\\",
		`\u001b[2K`, `\u001B[1;1H`, `\u001b[0m`, `\u001b]0;title\u0007`, `\u001b]8;;u\u001b\\`,
		`\x1b[2K`, `\x1B[1;1H`, `\033[2K`, `\e[2K`, `\E[0m`, `\u{1b}[2K`, "^[[2K", `\u001b7`,
	}
	for _, seq := range seqs {
		key := rulestest.APIKey()
		for _, text := range []string{seq + key, "progress 99%" + seq + key + "\n", `{"text": ["` + seq + key + `\n"]}`} {
			ms := rules.FindAll([]byte(text))
			if len(ms) != 1 || text[ms[0].Start:ms[0].End] != key {
				t.Errorf("after %q: %d matches", seq, len(ms))
			}
		}
	}
}

// TestWordBeforeKeyStillRejected: a longer word stays a longer word, even
// with sequence-like bytes before it that a terminal would not consume.
func TestWordBeforeKeyStillRejected(t *testing.T) {
	body := rulestest.Body()
	for _, before := range []string{
		"ta", "[2K", "x1b[2K", "u001b[2K", "\\[2K", "^[2K", "e[2K", "\x1b[2", "033[2K", "\x1b2K",
		"\x1b[0123456789012345678901234567890123456789K", "\\u001c[2K", "\\x1c[2K",
	} {
		text := before + rules.Prefix + body
		if ms := rules.FindAll([]byte(text)); len(ms) != 0 {
			t.Errorf("%q + key: matched", before)
		}
	}
}
