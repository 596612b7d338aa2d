package scanner

import (
	"errors"
	"io/fs"
	"sort"
	"strings"
)

// cleanReason turns an error into a one-line reason for Skipped. Path
// errors lose their path (the Skipped entry already names it) so reasons
// read "permission denied", not a repeat of the path.
func cleanReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

func sortSkipped(s []Skipped) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Path != s[j].Path {
			return s[i].Path < s[j].Path
		}
		return s[i].Reason < s[j].Reason
	})
}
