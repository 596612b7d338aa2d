package known

import (
	"errors"

	"github.com/xaiscan/xaiscan/rules"
)

// redact returns err with every key-shaped substring of its message in
// the redacted form reports use. The files read here are written by
// people who paste keys where fingerprints belong, and their errors reach
// terminals and CI logs.
func redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	ms := rules.FindAll([]byte(msg))
	if len(ms) == 0 {
		return err
	}
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		msg = msg[:m.Start] + rules.Redact(msg[m.Start:m.End]) + msg[m.End:]
	}
	// The wrapped error is dropped: its message holds the key.
	return errors.New(msg)
}
