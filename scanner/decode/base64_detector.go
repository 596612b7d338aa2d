package decode

// This file and utf16_detector.go hold the old Detector API (Detectors,
// Encoded, Base64, UTF16), which the engine calls until the recursive
// engine of issue 11 runs the span decoders (Decoders) instead; they are
// deleted then, with base64_detector_test.go.

import (
	"bytes"
	"encoding/binary"

	"github.com/xaiscan/xaiscan/rules"
	"github.com/xaiscan/xaiscan/scanner"
)

// Detectors returns the decoding detectors, to be run next to
// scanner.Plain: base64 and UTF-16, as one Detector (Encoded) that
// computes both gates from the same pass over the window.
func Detectors() []scanner.Detector {
	return []scanner.Detector{Encoded{}}
}

// Encoded finds keys in base64 and in UTF-16: Base64 and UTF16 in one
// Detector. Its base64 gate's samples also serve as the UTF-16 gate (a
// UTF-16 key fully covers a base64 sample, and then puts NULs in it), so
// ordinary text is sampled once for both.
//
// The zero value is ready to use and safe for concurrent use.
type Encoded struct{}

// Detect implements scanner.Detector.
func (Encoded) Detect(w []byte, fn func(scanner.Hit)) {
	var sawNUL bool
	scanB64(w, fn, &sawNUL)
	if sawNUL && len(w) >= minUTF16Key {
		scanUTF16(w, fn)
	}
}

// Base64 finds keys encoded in base64 anywhere in text: standard or
// URL-safe alphabet, with or without padding, alone or inside a longer
// encoded text (a Kubernetes Secret's "API_KEY=xai-..." line), and in
// line-wrapped output (base64(1) wraps at 76 columns) as long as the wrap
// does not split the literal that starts the key's encoding (wraps at a
// multiple of 4 columns never split two of the three; see b64Patterns).
//
// The zero value is ready to use and safe for concurrent use.
type Base64 struct{}

// Detect implements scanner.Detector.
func (Base64) Detect(w []byte, fn func(scanner.Hit)) {
	scanB64(w, fn, nil)
}

// scanB64 runs the base64 gate over w and decodes around the literals in
// the runs it lets through. If sawNUL is not nil, it is set when a sample
// holds a NUL byte: the UTF-16 gate, computed from the same loads (a UTF-16
// key spans 168 bytes, so it fully covers a 16-byte sample, which then
// holds NULs).
func scanB64(w []byte, fn func(scanner.Hit), sawNUL *bool) {
	if len(w) < gateLen {
		return
	}
	nul := uint64(0)
	for i := 0; i+gateLen <= len(w); i += gateStride {
		x0, x1 := binary.LittleEndian.Uint64(w[i:]), binary.LittleEndian.Uint64(w[i+8:])
		nul |= hasZero(x0) | hasZero(x1)
		if mayBeBase64(x0)|mayBeBase64(x1) != 0 || len(w) < minB64Run {
			continue
		}
		// A key's run holding w[i:i+16] reaches at least 48 bytes further
		// on one side (112 = 16+48+48), so one of the samples 16 bytes
		// away on either side must be clean too. This second look keeps
		// most identifiers and paths from the exact scan below.
		if !(i >= 48 && clean16(w, i-32)) && !(i+64 <= len(w) && clean16(w, i+32)) {
			continue
		}
		// Find the real extent of the run of base64 characters around the
		// sample and look for the literals only there.
		lo := i
		for lo > 0 && b64Value[w[lo-1]] != b64Invalid {
			lo--
		}
		hi := i + gateLen
		for hi < len(w) && b64Value[w[hi]] != b64Invalid {
			hi++
		}
		if hi-lo >= minB64Run {
			searchB64Run(w, lo, hi, fn)
		}
		// Any key region reaching past hi would have to contain w[hi],
		// which is not base64, so resume at the first sample after it.
		// The samples skipped lie inside the run, which holds no NUL.
		i = hi / gateStride * gateStride
	}
	if sawNUL != nil {
		*sawNUL = nul != 0
	}
}

// searchB64Run looks for the three literals in w[lo:hi], a run of base64
// characters, and verifies each occurrence.
func searchB64Run(w []byte, lo, hi int, fn func(scanner.Hit)) {
	for a := range b64Patterns {
		p := &b64Patterns[a]
		for i := lo; i < hi; {
			j := bytes.Index(w[i:hi], p.lit)
			if j < 0 {
				break
			}
			i += j
			verifyB64(w, i, p, fn)
			i++
		}
	}
	searchAcrossLineBreaks(w, lo, hi, fn)
}

// searchAcrossLineBreaks finds the literals that a line break splits:
// `base64` wraps its output at 76 columns, and a literal standing across a
// wrap is invisible to bytes.Index. Around each break it joins the few
// characters on either side and looks there; decoding already skips the
// breaks.
func searchAcrossLineBreaks(w []byte, lo, hi int, fn func(scanner.Hit)) {
	for i := lo; i < hi; {
		j := bytes.IndexByte(w[i:hi], '\n')
		if j < 0 {
			return
		}
		nl := i + j
		i = nl + 1
		// A literal split by this break holds the characters on both of
		// its sides: most breaks are ruled out by those two alone (lines
		// of digits, such as sparse maps, would cost a join per byte).
		if !nearLiteral(w, lo, hi, nl) {
			continue
		}
		// Up to 3 characters before the break and 3 after, line-break
		// bytes left out, with their offsets in w.
		var joined [6]byte
		var at [6]int
		n := 0
		var before [3]int
		nb := 0
		for k := nl - 1; k >= lo && nb < 3; k-- {
			if w[k] == '\r' {
				continue
			}
			before[nb] = k
			nb++
		}
		for k := nb - 1; k >= 0; k-- {
			joined[n], at[n] = w[before[k]], before[k]
			n++
		}
		split := n
		for k := nl + 1; k < hi && n < len(joined); k++ {
			if w[k] == '\r' || w[k] == '\n' {
				continue
			}
			joined[n], at[n] = w[k], k
			n++
		}
		for a := range b64Patterns {
			p := &b64Patterns[a]
			for s := 0; s < split && s+len(p.lit) <= n; s++ {
				if s+len(p.lit) > split && bytes.Equal(joined[s:s+len(p.lit)], p.lit) {
					verifyB64(w, at[s], p, fn)
				}
			}
		}
	}
}

// inLiteral marks the characters of the b64Patterns literals.
var inLiteral = func() (set [256]bool) {
	for _, p := range b64Patterns {
		for _, c := range p.lit {
			set[c] = true
		}
	}
	return set
}()

// nearLiteral reports whether the characters just before and just after
// the line break at nl (CR and LF left out) may both belong to a literal.
func nearLiteral(w []byte, lo, hi, nl int) bool {
	k := nl - 1
	for k >= lo && w[k] == '\r' {
		k--
	}
	m := nl + 1
	for m < hi && (w[m] == '\r' || w[m] == '\n') {
		m++
	}
	return k >= lo && m < hi && inLiteral[w[k]] && inLiteral[w[m]]
}

// verifyB64 decodes the text around the literal at w[at] as if the literal
// sat at the alignment p describes, and reports a key if one is there. A
// literal met at another alignment decodes to bytes that fail the rules.
func verifyB64(w []byte, at int, p *b64Pattern, fn func(scanner.Hit)) {
	// Walk back over the characters of the key's quantum that precede the
	// literal; if the run starts inside that quantum, this is not the
	// alignment the literal stands for.
	qs := at
	for n := 0; n < p.before; {
		if qs == 0 {
			return
		}
		qs--
		switch b64Value[w[qs]] {
		case b64Invalid:
			return
		case b64Skip:
		default:
			n++
		}
	}
	// One more quantum before, if there is one, for the byte before the
	// key (its left boundary).
	start, nq := backQuanta(w, qs, 1)
	var pos [maxB64Chars]int32
	var buf [maxB64Chars * 3 / 4]byte
	d, np := decodeB64(w, start, buf[:0], pos[:])
	kpos := 3*nq + p.xIdx
	if kpos+len(rules.Prefix) > len(d) || !bytes.HasPrefix(d[kpos:], []byte(rules.Prefix)) {
		return
	}
	m, ok := rules.MatchAt(d, kpos)
	if !ok {
		return
	}
	first := 8 * m.Start / 6
	last := (8*m.End - 1) / 6
	if last >= np {
		return
	}
	fn(scanner.Hit{
		Rule:     m.Rule,
		Start:    int(pos[first]),
		End:      int(pos[last]) + 1,
		Key:      bytes.Clone(d[m.Start:m.End]),
		Entropy:  m.Entropy,
		Encoding: EncodingBase64,
		Allowed:  allowedB64(w, qs, p.xIdx, m.End-m.Start),
	})
}

// backQuanta walks back from the quantum starting at w[qs] over at most maxQuanta
// whole quanta of base64 (CR and LF skipped) and returns where the earliest
// of them starts and how many there are.
func backQuanta(w []byte, qs, maxQuanta int) (start, n int) {
	start, count := qs, 0
	for i := qs - 1; i >= 0 && count < 4*maxQuanta; i-- {
		v := b64Value[w[i]]
		if v == b64Invalid {
			break
		}
		if v == b64Skip {
			continue
		}
		if count++; count%4 == 0 {
			start = i
		}
	}
	return start, count / 4
}

// decodeB64 decodes the base64 text starting at w[start] (a quantum
// boundary) until it ends, or until pos is full, appending the bytes to dst.
// pos receives the window offset of each character decoded; np is how many.
// A final group of 2 or 3 characters (no padding, or the padding that ended
// the text) still yields its 1 or 2 whole bytes.
func decodeB64(w []byte, start int, dst []byte, pos []int32) (dec []byte, np int) {
	var q [4]byte
	k := 0
	for i := start; i < len(w) && np < len(pos); i++ {
		v := b64Value[w[i]]
		if v == b64Invalid {
			break
		}
		if v == b64Skip {
			continue
		}
		pos[np] = int32(i)
		np++
		q[k] = v
		if k++; k == 4 {
			dst = append(dst, q[0]<<2|q[1]>>4, q[1]<<4|q[2]>>2, q[2]<<6|q[3])
			k = 0
		}
	}
	if k >= 2 {
		dst = append(dst, q[0]<<2|q[1]>>4)
	}
	if k == 3 {
		dst = append(dst, q[1]<<4|q[2]>>2)
	}
	return dst, np
}

// allowContextB64 is how many quanta either side of a key are decoded to look
// for an allow marker inside the encoded text (a .env file in a Secret).
const allowContextB64 = 128

// allowedB64 reports whether the decoded line holding the key — whose 'x'
// is byte xIdx of the quantum at w[qs] and which is keyLen bytes long —
// carries an allow marker. It runs only for keys, so it may allocate.
func allowedB64(w []byte, qs, xIdx, keyLen int) bool {
	start, nq := backQuanta(w, qs, allowContextB64)
	pos := make([]int32, 4*(2*allowContextB64+1)+maxB64Chars)
	d, _ := decodeB64(w, start, nil, pos)
	k := 3*nq + xIdx
	return k+keyLen <= len(d) && rules.Allowed(d, k, k+keyLen)
}
