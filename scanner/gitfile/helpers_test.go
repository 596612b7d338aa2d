package gitfile

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
	"github.com/xaiscan/xaiscan/scanner/gittest"
)

func TestMain(m *testing.M) {
	gittest.Isolate()
	os.Exit(m.Run())
}

var errBudget = errors.New("budget spent")

// recorder is a scanner.Members that reads every member fully, like the
// engine, and records it. budget, when positive, is the number of member
// bytes after which Scan fails like the engine's spent budget.
type recorder struct {
	members []member
	skips   []scanner.Skipped
	budget  int64
	read    int64
}

type member struct {
	path, encoding string
	data           []byte
}

func (r *recorder) Scan(it scanner.Item) error {
	rc, err := it.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	r.read += int64(len(data))
	r.members = append(r.members, member{it.Path, it.Encoding, data})
	if r.budget > 0 && r.read > r.budget {
		return errBudget
	}
	if err != nil && !errors.Is(err, scanner.ErrMalformed) {
		return err
	}
	return nil
}

func (r *recorder) Skip(s scanner.Skipped) { r.skips = append(r.skips, s) }

// keys maps every key found in the members to the path of the first
// member that holds it.
func (r *recorder) keys() map[string]string {
	out := map[string]string{}
	for _, m := range r.members {
		rules.Find(m.data, func(k rules.Match) {
			key := string(m.data[k.Start:k.End])
			if _, ok := out[key]; !ok {
				out[key] = m.path
			}
		})
	}
	return out
}

func (r *recorder) errors() []scanner.Skipped {
	var out []scanner.Skipped
	for _, s := range r.skips {
		if s.IsError() {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) notes() []scanner.Skipped {
	var out []scanner.Skipped
	for _, s := range r.skips {
		if s.Kind == scanner.KindNote {
			out = append(out, s)
		}
	}
	return out
}

// decode runs the decoder on data as the item "x.pack" and returns what
// it recorded and Open's error.
func decode(t testing.TB, d Decoder, data []byte, budget int64) (*recorder, error) {
	t.Helper()
	it := scanner.Item{Path: "x.pack", Source: scanner.SourceFile}
	if !d.Opens(it, data[:min(len(data), 4096)]) {
		t.Fatalf("Opens refused the container (%q...)", data[:min(len(data), 16)])
	}
	r := &recorder{budget: budget}
	err := d.Open(context.Background(), it, bytes.NewReader(data), r)
	return r, err
}

// gitOut runs git in dir with stdin and returns its standard output only
// (pack-objects writes the pack there and progress on stderr).
func gitOut(t testing.TB, dir, stdin string, args ...string) []byte {
	t.Helper()
	gittest.Require(t)
	cmd := exec.Command("git", append([]string{"-c", "gc.auto=0", "-c", "core.autocrlf=false"}, args...)...)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// newRepo makes an empty repository in a temporary directory.
func newRepo(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Must(t, dir, nil, "init", "-q")
	return dir
}

// commitFile writes content to rel and commits it with message msg.
func commitFile(t testing.TB, dir, rel, content, msg string) {
	t.Helper()
	gittest.WriteFile(t, dir, rel, content)
	gittest.Must(t, dir, nil, "add", "-A")
	gittest.Must(t, dir, nil, "commit", "-q", "-m", msg)
}

// filler is n lines of varied, key-free text: a file git deltifies well.
func filler(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "line %d of the configuration file, value=%d\n", i, i*7919%1000)
	}
	return b.String()
}

// packBuilder writes packs by hand, for shapes git does not make.
type packBuilder struct {
	body  bytes.Buffer
	count int
}

// off is the offset the next entry will have.
func (b *packBuilder) off() int64 { return int64(12 + b.body.Len()) }

// entry appends one entry: header, extra (a base offset or id), then
// payload zlib-compressed. size is the declared size (-1: len(payload)).
func (b *packBuilder) entry(typ objType, size int, extra, payload []byte) int64 {
	off := b.off()
	if size < 0 {
		size = len(payload)
	}
	c := byte(typ)<<4 | byte(size&15)
	size >>= 4
	for size > 0 {
		b.body.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	b.body.WriteByte(c)
	b.body.Write(extra)
	zw := zlib.NewWriter(&b.body)
	zw.Write(payload)
	zw.Close()
	b.count++
	return off
}

func (b *packBuilder) blob(data []byte) int64 { return b.entry(typBlob, -1, nil, data) }

// ofsDelta appends an OFS_DELTA against the entry at base.
func (b *packBuilder) ofsDelta(base int64, delta []byte) int64 {
	rel := b.off() - base
	enc := []byte{byte(rel & 0x7f)}
	for rel >>= 7; rel > 0; rel >>= 7 {
		rel--
		enc = append([]byte{byte(rel&0x7f) | 0x80}, enc...)
	}
	return b.entry(typOfsDelta, -1, enc, delta)
}

// refDelta appends a REF_DELTA against id.
func (b *packBuilder) refDelta(id []byte, delta []byte) int64 {
	return b.entry(typRefDelta, -1, id, delta)
}

// pack returns the pack, declaring count objects (-1: as many as written).
func (b *packBuilder) pack(count int64) []byte {
	if count < 0 {
		count = int64(b.count)
	}
	out := []byte("PACK\x00\x00\x00\x02")
	out = binary.BigEndian.AppendUint32(out, uint32(count))
	out = append(out, b.body.Bytes()...)
	sum := sha1.Sum(out)
	return append(out, sum[:]...)
}

// blobID is a blob's SHA-1 object id, raw.
func blobID(data []byte) []byte {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(data))
	h.Write(data)
	return h.Sum(nil)
}

// deltaOf builds a delta from a base of baseLen bytes: ops are copy and
// insert instructions made by cp and ins.
func deltaOf(baseLen, resultLen uint64, ops ...[]byte) []byte {
	d := binary.AppendUvarint(nil, baseLen)
	d = binary.AppendUvarint(d, resultLen)
	for _, op := range ops {
		d = append(d, op...)
	}
	return d
}

// cp is a copy instruction of n bytes (1..0xffffff) at off.
func cp(off, n uint32) []byte {
	op := byte(0x80)
	var args []byte
	for i := range 4 {
		if v := byte(off >> (8 * i)); v != 0 {
			op |= 1 << i
			args = append(args, v)
		}
	}
	for i := range 3 {
		if v := byte(n >> (8 * i)); v != 0 {
			op |= 0x10 << i
			args = append(args, v)
		}
	}
	return append([]byte{op}, args...)
}

// ins is insert instructions adding data.
func ins(data []byte) []byte {
	var out []byte
	for len(data) > 0 {
		n := min(len(data), 127)
		out = append(append(out, byte(n)), data[:n]...)
		data = data[n:]
	}
	return out
}
