// Package rulestest builds fake xAI keys at test time.
//
// The repository must never contain a key-shaped literal (push protection
// and every scanner, ours included, would flag it), so tests call these
// helpers instead of writing keys down. Keys are random over the real
// alphabet and guaranteed to pass the rules' entropy and placeholder checks.
package rulestest

import (
	"crypto/rand"
	"math/big"
	"regexp"
	"strings"

	"github.com/xaiscan/xaiscan/rules"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Body returns 80 random alphanumeric characters that the rules accept as a
// key body.
func Body() string {
	for {
		var b strings.Builder
		for i := 0; i < rules.BodyLen; i++ {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
			if err != nil {
				panic(err)
			}
			b.WriteByte(alphabet[n.Int64()])
		}
		s := b.String()
		if rules.Entropy([]byte(s)) >= rules.MinEntropy && !rules.IsPlaceholder([]byte(s)) {
			return s
		}
	}
}

// APIKey returns a fresh fake xAI API key ("xai-" + 80).
func APIKey() string { return rules.Prefix + Body() }

// ManagementKey returns a fresh fake xAI Management API key ("xai-token-" + 80).
func ManagementKey() string { return rules.ManagementPrefix + Body() }

// placeholder matches the fixture markers Fill replaces: {{KEY}}, {{KEY2}},
// {{MGMT}}, {{MGMT2}} ... Other {{...}} text (templates) is left alone.
var placeholder = regexp.MustCompile(`\{\{(KEY|MGMT)[0-9]*\}\}`)

// Fill replaces every placeholder {{KEY}}, {{KEY2}} ... (API keys) and
// {{MGMT}}, {{MGMT2}} ... (management keys) in a fixture with fresh keys; the
// same placeholder gets the same key throughout. It returns the filled text
// and the keys by placeholder name (without braces).
func Fill(fixture string) (string, map[string]string) {
	keys := map[string]string{}
	out := placeholder.ReplaceAllStringFunc(fixture, func(m string) string {
		name := m[2 : len(m)-2]
		k, ok := keys[name]
		if !ok {
			if strings.HasPrefix(name, "MGMT") {
				k = ManagementKey()
			} else {
				k = APIKey()
			}
			keys[name] = k
		}
		return k
	})
	return out, keys
}
