package rules_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/rules/rulestest"
)

// tcase is one table case: the text to scan, built at test time from a
// fresh body, and the key it must yield ("" for none).
type tcase struct {
	name string
	make func(body string) (text, want string)
	rule string
}

// around builds a case where the key sits between before and after.
func around(before, prefix, after string) func(string) (string, string) {
	return func(body string) (string, string) {
		key := prefix + body
		return before + key + after, key
	}
}

// none builds a negative case from a function of a valid body.
func none(f func(body string) string) func(string) (string, string) {
	return func(body string) (string, string) { return f(body), "" }
}

var api, mgmt = rules.Prefix, rules.ManagementPrefix

var cases = []tcase{
	// Positives: the neighbours keys really have.
	{"bare", around("", api, ""), rules.APIKey},
	{"double quotes", around(`"`, api, `"`), rules.APIKey},
	{"single quotes", around(`'`, api, `'`), rules.APIKey},
	{"env assignment", around("XAI_API_KEY=", api, "\n"), rules.APIKey},
	{"export with spaces", around("export XAI_API_KEY = ", api, " # prod"), rules.APIKey},
	{"json value", around(`{"api_key": "`, api, `", "x": 1}`), rules.APIKey},
	{"yaml value", around("xai:\n  api_key: ", api, "\n  model: grok\n"), rules.APIKey},
	{"escaped newline after", around(`"`, api, `\n"`), rules.APIKey},
	{"url query then ampersand", around("https://h/x?key=", api, "&y=1"), rules.APIKey},
	{"userinfo before at", around("https://user:", api, "@proxy.example/"), rules.APIKey},
	{"url path segment", around("https://h/keys/", api, "/info"), rules.APIKey},
	{"semicolon after", around("key=", api, ";next"), rules.APIKey},
	{"NUL neighbours", around("\x00", api, "\x00"), rules.APIKey},
	{"tab before", around("\t", api, "\t"), rules.APIKey},
	{"bearer header", around("Authorization: Bearer ", api, "\r\n"), rules.APIKey},
	{"dash after", around("", api, "-suffix"), rules.APIKey},
	{"dot after", around("the key is ", api, "."), rules.APIKey},
	{"dash before", around("--key=--", api, ""), rules.APIKey},
	{"colon before", around("k:", api, ""), rules.APIKey},
	{"comma separated", around("a,", api, ",b"), rules.APIKey},
	{"backtick markdown", around("`", api, "`"), rules.APIKey},
	{"python string", around(`client = Client(api_key="`, api, `")`), rules.APIKey},
	{"high bytes around", around("\xff\xfe", api, "\xc3\xa9"), rules.APIKey},
	{"after \\n escape in a log line", around(`msg="config loaded\n`, api, `\n"`), rules.APIKey},
	{"after \\t escape", around(`"k\t`, api, `"`), rules.APIKey},
	{"notebook source line", around(`    "os.environ[\"XAI_API_KEY\"] = \"`, api, `\"\n",`), rules.APIKey},
	{"after \\u0022 escape", around(`{"v":"\u0022`, api, `\u0022"}`), rules.APIKey},
	{"after \\x3d escape", around(`key\x3d`, api, ``), rules.APIKey},
	{"percent-encoded URL", around("next=https%3A%2F%2Fapi%2Fv1%3Fkey%3D", api, "%26x%3D1"), rules.APIKey},
	{"quoted-printable e-mail", around("XAI_API_KEY=3D", api, "=0A"), rules.APIKey},
	{"after ANSI colour code in a log", around("level=info key=\x1b[1;32m", api, "\x1b[0m"), rules.APIKey},
	{"management bare", around("", mgmt, ""), rules.ManagementKey},
	{"management json", around(`{"mgmt":"`, mgmt, `"}`), rules.ManagementKey},
	{"management env", around("XAI_MANAGEMENT_API_KEY=", mgmt, "\n"), rules.ManagementKey},

	// Negatives: near misses and placeholders.
	{"79 chars", none(func(b string) string { return api + b[:79] }), ""},
	{"81 chars", none(func(b string) string { return api + b + "Q" }), ""},
	{"81 chars then space", none(func(b string) string { return api + b + "7 " }), ""},
	{"letter before", none(func(b string) string { return "ta" + api + b }), ""},
	{"digit before", none(func(b string) string { return "9" + api + b }), ""},
	{"n before without backslash", none(func(b string) string { return "an" + api + b }), ""},
	{"m before without colour code", none(func(b string) string { return "[32m" + api + b }), ""},
	{"incomplete percent-encoding", none(func(b string) string { return "%3" + api + b }), ""},
	{"incomplete unicode escape", none(func(b string) string { return "\\u002" + api + b }), ""},
	{"underscore before", none(func(b string) string { return "MY_" + api + b }), ""},
	{"underscore after", none(func(b string) string { return api + b + "_old" }), ""},
	{"underscore prefix", none(func(b string) string { return "xai_" + b }), ""},
	{"upper-case prefix", none(func(b string) string { return "XAI-" + b }), ""},
	{"dash in body", none(func(b string) string { return api + b[:40] + "-" + b[41:] }), ""},
	{"non-ascii in body", none(func(b string) string { return api + b[:40] + "é" + b[42:] }), ""},
	{"all x", none(func(string) string { return api + strings.Repeat("x", 80) }), ""},
	{"all zeros", none(func(string) string { return api + strings.Repeat("0", 80) }), ""},
	{"sequential alphabet", none(func(string) string {
		seq := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
		return api + (seq + seq)[:80]
	}), ""},
	{"repeated short pattern", none(func(string) string { return api + strings.Repeat("aB3dE6gH9k", 8) }), ""},
	{"repeated 20-char pattern", none(func(b string) string { return api + strings.Repeat(b[:20], 4) }), ""},
	{"xxxx run in random body", none(func(b string) string { return api + b[:30] + "xxxxxxxxxx" + b[40:] }), ""},
	{"example word", none(func(b string) string { return api + b[:20] + "EXAMPLE" + b[27:] }), ""},
	{"your api key words", none(func(b string) string { return api + "YourApiKeyHere" + b[14:] }), ""},
	{"two-letter alphabet", none(func(b string) string {
		return api + strings.Map(func(r rune) rune { return 'a' + r%2 }, b)
	}), ""},
	{"hex body (entropy under 4)", none(func(b string) string {
		return api + strings.Map(func(r rune) rune { return rune("0123456789abcdef"[int(r)%16]) }, b)
	}), ""},
	{"management 79", none(func(b string) string { return mgmt + b[:79] }), ""},
	{"management 81", none(func(b string) string { return mgmt + b + "z" }), ""},
	{"management underscore", none(func(b string) string { return "xai-token_" + b }), ""},
	{"prefix only", none(func(string) string { return api }), ""},
	{"empty", none(func(string) string { return "" }), ""},
	{"prefix at end of short text", none(func(b string) string { return "x " + api + b[:10] }), ""},
}

func TestFindTable(t *testing.T) {
	if n := len(cases); n < 40 {
		t.Fatalf("table has %d cases, want at least 40", n)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, want := tc.make(rulestest.Body())
			got := rules.FindAll([]byte(text))
			if want == "" {
				if len(got) != 0 {
					t.Fatalf("found %d keys, want none (first: %s)", len(got), rules.Redact(text[got[0].Start:got[0].End]))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("found %d keys, want 1", len(got))
			}
			m := got[0]
			if key := text[m.Start:m.End]; key != want {
				t.Fatalf("match %d..%d is %s, want %s", m.Start, m.End, rules.Redact(key), rules.Redact(want))
			}
			if m.Rule != tc.rule {
				t.Fatalf("rule %q, want %q", m.Rule, tc.rule)
			}
			if m.Entropy < rules.MinEntropy || m.Entropy > 6.33 {
				t.Fatalf("entropy %.2f out of range", m.Entropy)
			}
		})
	}
}

func TestFindSeveralKeysInOrder(t *testing.T) {
	k1, k2, k3 := rulestest.APIKey(), rulestest.ManagementKey(), rulestest.APIKey()
	text := "a=" + k1 + "\nb=" + k2 + "," + k3 + "\n" + k1
	got := rules.FindAll([]byte(text))
	want := []string{k1, k2, k3, k1}
	if len(got) != len(want) {
		t.Fatalf("found %d keys, want %d", len(got), len(want))
	}
	for i, m := range got {
		if text[m.Start:m.End] != want[i] {
			t.Errorf("match %d is %s, want %s", i, rules.Redact(text[m.Start:m.End]), rules.Redact(want[i]))
		}
		if i > 0 && m.Start < got[i-1].End {
			t.Errorf("match %d overlaps the previous one", i)
		}
	}
}

// A prefix that fails validation must not hide a real key right after it.
func TestFindAfterFalseStart(t *testing.T) {
	k := rulestest.APIKey()
	text := "xai-xai-" + k[4:] // "xai-" then a key: the first prefix is not a key
	got := rules.FindAll([]byte(text))
	// The second prefix is preceded by '-', a legal neighbour, so it is a
	// key; the first is not.
	if len(got) != 1 || got[0].Start != 4 {
		t.Fatalf("want one key at offset 4, got %+v", got)
	}
}

func TestMatchAtMatchesFind(t *testing.T) {
	k := rulestest.APIKey()
	buf := []byte("  " + k + "  ")
	m, ok := rules.MatchAt(buf, 2)
	if !ok || m.Start != 2 || m.End != 2+len(k) {
		t.Fatalf("MatchAt = %+v, %v", m, ok)
	}
	if _, ok := rules.MatchAt(buf, 3); ok {
		t.Fatal("MatchAt accepted a start that is not a prefix")
	}
}

func TestEntropyOfRealBodies(t *testing.T) {
	for i := 0; i < 200; i++ {
		b := rulestest.Body()
		// 80 draws from 62 symbols: about 5.6 bits on average; the lowest
		// seen in 200,000 draws was 4.79, far above the 4.0 threshold.
		if h := rules.Entropy([]byte(b)); h < 4.5 {
			t.Fatalf("random body entropy %.2f, expected above 4.5", h)
		}
	}
	if h := rules.Entropy([]byte("aaaa")); h != 0 {
		t.Fatalf("entropy of a constant = %v", h)
	}
	if h := rules.Entropy([]byte("ab")); h != 1 {
		t.Fatalf("entropy of ab = %v", h)
	}
}

// Placeholder rejection must not reject real keys: across many random
// bodies, none may be judged a placeholder.
func TestPlaceholderNeverRejectsRandomBodies(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var seed uint64 = 88172645463325252
	next := func() byte { // xorshift: deterministic and unfiltered, unlike rulestest
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return alphabet[seed%62]
	}
	body := make([]byte, rules.BodyLen)
	for i := 0; i < 20000; i++ {
		for j := range body {
			body[j] = next()
		}
		if rules.IsPlaceholder(body) || rules.Entropy(body) < rules.MinEntropy {
			t.Fatalf("random body %d rejected as a placeholder", i)
		}
	}
}

func TestFingerprintIsSHA256OfKey(t *testing.T) {
	k := rulestest.APIKey()
	sum := sha256.Sum256([]byte(k))
	if got, want := rules.Fingerprint([]byte(k)), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
}

func TestRedact(t *testing.T) {
	k := rulestest.APIKey()
	if got, want := rules.Redact(k), "xai-..."+k[len(k)-4:]; got != want {
		t.Fatalf("Redact = %q, want %q", got, want)
	}
	m := rulestest.ManagementKey()
	if got := rules.Redact(m); got != "xai-..."+m[len(m)-4:] || strings.Contains(got, m[10:20]) {
		t.Fatalf("Redact(management) = %q", got)
	}
	if got := rules.Redact("xai"); got != "xai-..." {
		t.Fatalf("Redact(short) = %q", got)
	}
}

func TestAllowMarkers(t *testing.T) {
	for _, marker := range rules.AllowMarkers {
		k := rulestest.APIKey()
		line := `key = "` + k + `" # ` + marker
		buf := []byte("before\n" + line + "\nafter " + k + "\n")
		ms := rules.FindAll(buf)
		if len(ms) != 2 {
			t.Fatalf("%s: found %d keys, want 2", marker, len(ms))
		}
		if !rules.Allowed(buf, ms[0].Start, ms[0].End) {
			t.Errorf("%s: key on the marked line not allowed", marker)
		}
		if rules.Allowed(buf, ms[1].Start, ms[1].End) {
			t.Errorf("%s: key on the next line allowed too", marker)
		}
	}
	// A marker on the previous line does not count.
	k := rulestest.APIKey()
	buf := []byte("# xaiscan:allow\n" + k)
	if rules.Allowed(buf, 16, 16+len(k)) {
		t.Fatal("marker on the line above suppressed the key")
	}
	// Marker before the key on the same line counts.
	buf = []byte("// xaiscan:allow\tk=" + k)
	if !rules.Allowed(buf, bytes.Index(buf, []byte("xai-")), len(buf)) {
		t.Fatal("marker earlier on the line ignored")
	}
}

func FuzzFind(f *testing.F) {
	k := rulestest.APIKey()
	f.Add([]byte("a=" + k + "\n"))
	f.Add([]byte(rulestest.ManagementKey()))
	f.Add([]byte("xai-xai-token-" + k))
	f.Add([]byte("xai-"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		prev := 0
		rules.Find(data, func(m rules.Match) {
			if m.Start < prev || m.Start < 0 || m.End > len(data) || m.Start >= m.End {
				t.Fatalf("bad offsets %d..%d in %d bytes (prev end %d)", m.Start, m.End, len(data), prev)
			}
			key := data[m.Start:m.End]
			switch m.Rule {
			case rules.APIKey:
				if len(key) != len(rules.Prefix)+rules.BodyLen {
					t.Fatalf("api key of length %d", len(key))
				}
			case rules.ManagementKey:
				if len(key) != rules.MaxKeyLen || !bytes.HasPrefix(key, []byte(rules.ManagementPrefix)) {
					t.Fatalf("bad management key shape")
				}
			default:
				t.Fatalf("unknown rule %q", m.Rule)
			}
			if _, ok := rules.MatchAt(data, m.Start); !ok {
				t.Fatal("MatchAt disagrees with Find")
			}
			_ = rules.Allowed(data, m.Start, m.End)
			prev = m.End
		})
		// The binary reading finds everything the text reading finds,
		// with the same shapes.
		strict := len(rules.FindAll(data))
		loose, prevEnd := 0, 0
		rules.FindBinary(data, func(m rules.Match) {
			if m.Start < prevEnd || m.End > len(data) || m.End-m.Start < len(rules.Prefix)+rules.BodyLen {
				t.Fatalf("FindBinary: bad offsets %d..%d in %d bytes", m.Start, m.End, len(data))
			}
			prevEnd = m.End
			loose++
		})
		if loose < strict {
			t.Fatalf("FindBinary found %d keys, Find %d", loose, strict)
		}
	})
}

// Linkers lay string constants end to end: in binary content a key glued
// between other strings is still found, and only there.
func TestFindBinaryGluedStrings(t *testing.T) {
	k, m := rulestest.APIKey(), rulestest.ManagementKey()
	buf := []byte("\x00\x01one-page spans" + k + "reflect.Value.Interface" + m + "Zzz\x00")
	if got := rules.FindAll(buf); len(got) != 0 {
		t.Fatalf("text rules matched glued keys: %d", len(got))
	}
	var got []string
	rules.FindBinary(buf, func(mt rules.Match) { got = append(got, mt.Rule+" "+string(buf[mt.Start:mt.End])) })
	want := []string{rules.APIKey + " " + k, rules.ManagementKey + " " + m}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("FindBinary found %d keys, want the API and management keys whole", len(got))
	}
	// Placeholders and short bodies are still rejected.
	for _, bad := range []string{
		"ab" + rules.Prefix + strings.Repeat("x", 90),
		"ab" + rules.Prefix + k[4:60] + "-",
	} {
		rules.FindBinary([]byte(bad), func(rules.Match) { t.Errorf("FindBinary accepted %q...", bad[:12]) })
	}
}
