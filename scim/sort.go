package scim

import (
	"cmp"
	"slices"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scimgate/scimgate/store"
)

// sortSpec is a list request's sortBy and sortOrder (RFC 7644 §3.4.2.3).
type sortSpec struct {
	by   string // lower-cased attribute path; empty: creation order
	desc bool
}

// sortable lists the attributes a list may be sorted by, per endpoint.
var sortable = map[string][]string{
	"Users":  {"username", "displayname", "name.familyname", "name.givenname", "emails", "emails.value", "externalid", "id", "meta.created", "meta.lastmodified"},
	"Groups": {"displayname", "externalid", "id", "meta.created", "meta.lastmodified"},
}

func parseSort(by, order, endpoint string) (sortSpec, error) {
	s := sortSpec{by: strings.ToLower(strings.TrimSpace(by))}
	if strings.HasPrefix(s.by, strings.ToLower(userURN)+":") {
		s.by = strings.TrimPrefix(s.by, strings.ToLower(userURN)+":")
	}
	switch strings.ToLower(strings.TrimSpace(order)) {
	case "", "ascending":
	case "descending":
		s.desc = true
	default:
		return s, badRequest(scimerrors.ScimTypeInvalidValue, "sortOrder must be ascending or descending")
	}
	if s.by != "" && !slices.Contains(sortable[endpoint], s.by) {
		return s, badRequest(scimerrors.ScimTypeInvalidValue, "%s cannot be sorted by %s; sortable: %s", endpoint, by, strings.Join(sortable[endpoint], ", "))
	}
	return s, nil
}

// streamed reports whether the sort follows an index the store iterates in
// order, so that pages stream instead of sorting every match.
func (s sortSpec) streamed(endpoint string) bool {
	return !s.desc && (s.by == "username" && endpoint == "Users" || s.by == "displayname")
}

// userSortKey is the value a user sorts by; ok false when it has none (such
// users come last, whatever the order).
func userSortKey(u store.User, doc map[string]any, by string) (string, bool) {
	switch by {
	case "username":
		return store.FoldLogin(u.Login), true
	case "displayname":
		return store.FoldLogin(u.Name), true
	case "emails", "emails.value":
		return strings.ToLower(u.Email), u.Email != ""
	case "externalid":
		return u.ExternalID, u.ExternalID != ""
	case "id":
		return u.ID, true
	case "meta.created":
		return u.Created.UTC().Format(time.RFC3339Nano), true
	case "meta.lastmodified":
		return u.Updated.UTC().Format(time.RFC3339Nano), true
	}
	attr, sub, _ := strings.Cut(by, ".")
	for _, v := range values(doc, "", attr, sub) {
		if s, ok := v.(string); ok && s != "" {
			return strings.ToLower(s), true
		}
	}
	return "", false
}

func groupSortKey(g store.Group, by string) (string, bool) {
	switch by {
	case "displayname":
		return store.FoldLogin(g.Name), true
	case "externalid":
		return g.ExternalID, g.ExternalID != ""
	case "meta.created":
		return g.Created.UTC().Format(time.RFC3339Nano), true
	case "meta.lastmodified":
		return g.Updated.UTC().Format(time.RFC3339Nano), true
	}
	return g.ID, true
}

// sortItem is one match of a sorted list, rendered once it is on the page.
type sortItem struct {
	key    string
	has    bool
	id     string
	render func() (any, error)
}

// sortItems orders items by key (missing keys last), then id, so pages are
// stable.
func sortItems(items []sortItem, desc bool) {
	slices.SortStableFunc(items, func(a, b sortItem) int {
		if a.has != b.has {
			if a.has {
				return -1
			}
			return 1
		}
		c := strings.Compare(a.key, b.key)
		if desc {
			c = -c
		}
		return cmp.Or(c, strings.Compare(a.id, b.id))
	})
}
