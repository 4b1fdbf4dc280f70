package webapi

import (
	"cmp"
	"strings"

	"github.com/scimgate/scimgate/store"
)

var organizationsController = controller{Path: "api/organizations", Since: "6.2", Desc: "Manage organizations (SonarCloud's shape): members, and through them who may join the organization's groups and see its private projects.", Action: []action{
	{Key: "create", Post: true, Since: "6.2", Access: admin, Handle: createOrganization,
		Desc: "Create an organization. Requires Administer System permission.",
		Params: []param{
			{Key: "key", Desc: "Key: lowercase letters, digits and dashes, 1 to 255 characters", Required: true, MaxLen: 255, Example: "foo-company"},
			{Key: "name", Desc: "Name", Required: true, MaxLen: 255, Example: "Foo Company"},
			{Key: "description", Desc: "Description", MaxLen: 256},
		}},
	{Key: "search", Since: "6.2", Access: loggedIn, Handle: searchOrganizations,
		Desc:   "List organizations: all for administrators, those one is a member of otherwise.",
		Params: []param{{Key: "member", Desc: "Only organizations the caller is a member of", Values: boolValues, Default: "false"}}},
	{Key: "add_member", Post: true, Since: "6.4", Access: admin, Handle: addOrgMember,
		Desc:   "Add a user to an organization. Requires Administer System permission.",
		Params: []param{{Key: "organization", Desc: "Organization key", Required: true}, {Key: "login", Desc: "User login", Required: true}}},
	{Key: "remove_member", Post: true, Since: "6.4", Access: admin, Handle: removeOrgMember,
		Desc:   "Remove a member from an organization, with its memberships of the organization's groups and its permissions on the organization's projects and templates. Requires Administer System permission.",
		Params: []param{{Key: "organization", Desc: "Organization key", Required: true}, {Key: "login", Desc: "User login", Required: true}}},
	{Key: "search_members", Since: "6.4", Access: loggedIn, Handle: searchOrgMembers,
		Desc: "Search the members of an organization (or, with selected=deselected, the other users). Requires Administer System permission or membership.",
		Params: append([]param{
			{Key: "organization", Desc: "Organization key", Required: true},
			{Key: "selected", Desc: "Members (selected) or non-members (deselected)", Values: []string{"selected", "deselected"}, Default: "selected"},
			{Key: "q", Desc: "Limit search to names or logins that contain the supplied string.", MinLen: 2},
		}, pagingParams(50, 500)...)},
}}

// orgJSON is an organization as create and search return it.
type orgJSON struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// findOrg checks that org (when not empty) exists.
func createOrganization(cl *call) error {
	o, err := store.CreateOrganization(cl.c.Request().Context(), cl.api.store, cl.callerOf(),
		store.Organization{Key: cl.str("key"), Name: cl.str("name"), Description: cl.str("description")})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"organization": orgJSON{o.Key, o.Name, o.Description}})
}

func searchOrganizations(cl *call) error {
	out := []orgJSON{}
	err := cl.view(func(tx store.Tx) error {
		for o, err := range tx.Organizations() {
			if err != nil {
				return err
			}
			if !cl.admin || cl.bool("member") {
				ok, err := store.IsOrgMember(tx, o.Key, cl.caller.ID)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			out = append(out, orgJSON{o.Key, o.Name, o.Description})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"organizations": out})
}

type memberJSON struct {
	Login      string `json:"login"`
	Name       string `json:"name"`
	Avatar     string `json:"avatar,omitempty"`
	GroupCount int    `json:"groupCount"`
}

// newMemberJSON counts u's groups in org.
func newMemberJSON(tx store.Tx, org string, u store.User) memberJSON {
	m := memberJSON{Login: u.Login, Name: u.Name, Avatar: avatar(u.Email)}
	for gid := range store.GroupsOf(tx, u.ID) {
		if g, err := tx.Group(gid); err == nil && g.Organization == org {
			m.GroupCount++
		}
	}
	return m
}

func addOrgMember(cl *call) error {
	org := cl.str("organization")
	u, err := store.AddOrganizationMember(cl.c.Request().Context(), cl.api.store, cl.callerOf(), org, cl.str("login"))
	if err != nil {
		return err
	}
	var out memberJSON
	err = cl.view(func(tx store.Tx) error {
		out = newMemberJSON(tx, org, u)
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"user": out})
}

func removeOrgMember(cl *call) error {
	return cl.changed(store.RemoveOrganizationMember(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("organization"), cl.str("login")))
}

func searchOrgMembers(cl *call) error {
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	org, q, selected := cl.str("organization"), strings.ToLower(cl.str("q")), cl.str("selected") == "selected"
	w := newWindow(p, ps)
	users := []memberJSON{}
	err = cl.view(func(tx store.Tx) error {
		if err := store.CheckOrganization(tx, org); err != nil {
			return err
		}
		if !cl.admin {
			if ok, err := store.IsOrgMember(tx, org, cl.caller.ID); err != nil || !ok {
				return cmp.Or(err, forbidden())
			}
		}
		candidates := store.UsersContaining(tx, q)
		if selected { // members only: read the members, not every user
			candidates = store.Holding(tx, store.MemberOf(org))
		}
		var keep func(store.User) (bool, error) // none: the page is read, the rest counted
		if q != "" || !selected {
			keep = func(u store.User) (bool, error) {
				if q != "" && !strings.Contains(strings.ToLower(u.Login), q) && !strings.Contains(strings.ToLower(u.Name), q) {
					return false, nil
				}
				member, err := store.IsOrgMember(tx, org, u.ID)
				return member == selected, err
			}
		}
		page, err := w.list(candidates.Active(true), keep)
		for _, u := range page {
			users = append(users, newMemberJSON(tx, org, u))
		}
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "users": users})
}
