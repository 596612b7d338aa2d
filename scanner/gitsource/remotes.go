package gitsource

import "sort"

// Remote is a configured remote: its name and first URL.
type Remote struct {
	Name, URL string
}

// Remotes lists the repository's configured remotes by name; a
// configuration that cannot be read lists none.
func (s *Source) Remotes() []Remote {
	cfg, err := s.repo.Config()
	if err != nil {
		return nil
	}
	var out []Remote
	for name, rc := range cfg.Remotes {
		u := ""
		if len(rc.URLs) > 0 {
			u = rc.URLs[0]
		}
		out = append(out, Remote{Name: name, URL: u})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
