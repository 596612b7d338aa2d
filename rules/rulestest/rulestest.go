// Package rulestest builds fake xAI keys at test time.
//
// The repository must never contain a key-shaped literal (push protection
// and every scanner, ours included, would flag it), so tests call these
// helpers instead of writing keys down. Keys are random over the real
// alphabet and guaranteed to pass the rules' entropy and placeholder checks.
package rulestest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
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

// GoSourceFiles lists realistic key-free text for benchmarks: the Go
// distribution's own .go sources (testdata excluded), up to limit bytes.
// GOROOT comes from `go env` rather than the deprecated runtime.GOROOT, so
// a test binary copied elsewhere still finds the toolchain in use.
func GoSourceFiles(limit int64) ([]string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	root := filepath.Join(strings.TrimSpace(string(out)), "src")
	var files []string
	var total int64
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || total >= limit {
			return nil
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			if fi, err := d.Info(); err == nil {
				files = append(files, p)
				total += fi.Size()
			}
		}
		return nil
	})
	return files, err
}

// GoSource returns the concatenated content of GoSourceFiles(limit).
func GoSource(limit int64) ([]byte, error) {
	files, err := GoSourceFiles(limit)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
