package report

import (
	"fmt"
	"io"
	"testing"

	"github.com/xaiscan/xaiscan/rules/rulestest"
	"github.com/xaiscan/xaiscan/scanner"
)

// benchResult is a large history report: 10,000 findings with git
// attribution, the shape a fleet audit writes.
func benchResult() scanner.Result {
	var res scanner.Result
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = rulestest.APIKey()
	}
	for i := 0; i < 10_000; i++ {
		res.Findings = append(res.Findings, gitFinding(keys[i%len(keys)], fmt.Sprintf("services/svc-%03d/config/app.env", i), 3, 13, commitA))
	}
	return res
}

func BenchmarkWrite(b *testing.B) {
	res := benchResult()
	for _, format := range Formats {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Write(io.Discard, format, res, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
