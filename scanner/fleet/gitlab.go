package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultGitLabAPI is gitlab.com's REST API.
const DefaultGitLabAPI = "https://gitlab.com/api/v4"

// GitLabProjects lists the projects of a GitLab group and all its
// subgroups (not projects merely shared with it) through the REST API,
// following X-Next-Page, or the Link header when that is absent.
func GitLabProjects(ctx context.Context, a API, group string) ([]Listed, error) {
	group = strings.Trim(group, "/")
	if group == "" || strings.ContainsAny(group, "?#%") {
		return nil, fmt.Errorf("GitLab group %q: want a group path such as team or team/sub", group)
	}
	p, err := a.newPager(func(h http.Header) {
		h.Set("Accept", "application/json")
		if a.Token != "" {
			h.Set("Authorization", "Bearer "+a.Token)
		}
	}, gitlabNext)
	if err != nil {
		return nil, err
	}
	q := url.Values{
		"per_page": {"100"}, "include_subgroups": {"true"}, "with_shared": {"false"},
		"order_by": {"id"}, "sort": {"asc"},
	}
	var out []Listed
	err = p.each(ctx, p.endpoint("/groups/"+url.PathEscape(group)+"/projects", q), func(body []byte) error {
		var page []struct {
			Path     string          `json:"path_with_namespace"`
			CloneURL string          `json:"http_url_to_repo"`
			Archived bool            `json:"archived"`
			Forked   json.RawMessage `json:"forked_from_project"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return fmt.Errorf("not a list of projects: %w", err)
		}
		for _, r := range page {
			fork := len(r.Forked) > 0 && string(r.Forked) != "null"
			out = append(out, Listed{Name: r.Path, CloneURL: r.CloneURL, Fork: fork, Archived: r.Archived})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing GitLab group %s: %w", group, err)
	}
	return out, nil
}

// gitlabNext follows X-Next-Page (empty on the last page); servers
// behind proxies that drop it still send a Link header.
func gitlabNext(resp *http.Response, cur *url.URL) string {
	if v, ok := resp.Header["X-Next-Page"]; ok {
		if len(v) == 0 || strings.TrimSpace(v[0]) == "" {
			return ""
		}
		u := *cur
		q := u.Query()
		q.Set("page", strings.TrimSpace(v[0]))
		u.RawQuery = q.Encode()
		return u.String()
	}
	return linkNext(resp.Header)
}
