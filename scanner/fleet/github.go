package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultGitHubAPI is github.com's REST API.
const DefaultGitHubAPI = "https://api.github.com"

// GitHubRepos lists the repositories of a GitHub organisation (all types
// the token can see: public, private, internal), or of a user when no
// organisation has that name, through the REST API, following the Link
// headers' next pages.
func GitHubRepos(ctx context.Context, a API, org string) ([]Listed, error) {
	if org == "" || strings.ContainsAny(org, "/?#%") {
		return nil, fmt.Errorf("GitHub organisation %q: want a plain name", org)
	}
	p, err := a.newPager(func(h http.Header) {
		h.Set("Accept", "application/vnd.github+json")
		h.Set("X-GitHub-Api-Version", "2022-11-28")
		if a.Token != "" {
			h.Set("Authorization", "Bearer "+a.Token)
		}
	}, func(resp *http.Response, _ *url.URL) string { return linkNext(resp.Header) })
	if err != nil {
		return nil, err
	}
	q := url.Values{"per_page": {"100"}, "type": {"all"}, "sort": {"full_name"}}
	out, err := githubList(ctx, p, p.endpoint("/orgs/"+url.PathEscape(org)+"/repos", q))
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		// Not an organisation: perhaps a user account.
		q.Set("type", "owner")
		userOut, userErr := githubList(ctx, p, p.endpoint("/users/"+url.PathEscape(org)+"/repos", q))
		if userErr == nil {
			return userOut, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("listing GitHub organisation %s: %w", org, err)
	}
	return out, nil
}

func githubList(ctx context.Context, p *pager, first *url.URL) ([]Listed, error) {
	var out []Listed
	err := p.each(ctx, first, func(body []byte) error {
		var page []struct {
			FullName string `json:"full_name"`
			CloneURL string `json:"clone_url"`
			Fork     bool   `json:"fork"`
			Archived bool   `json:"archived"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("not a list of repositories: %w", err)
		}
		for _, r := range page {
			out = append(out, Listed{Name: r.FullName, CloneURL: r.CloneURL, Fork: r.Fork, Archived: r.Archived})
		}
		return nil
	})
	return out, err
}
