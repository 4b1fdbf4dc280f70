package webapi

import (
	"strings"

	"github.com/scimgate/scimgate/store"
)

var userGroupsController = controller{Path: "api/user_groups", Since: "5.2", Desc: "Manage user groups.", Action: []action{
	{Key: "create", Post: true, Since: "5.2", Access: userAdmin, Handle: createGroup,
		Desc: "Create a group. Requires Administer System permission.",
		Params: []param{
			{Key: "name", Desc: "Name for the new group. A group name cannot be larger than 255 characters and must be unique. The value 'anyone' (whatever the case) is reserved and cannot be used.", Required: true, MaxLen: store.MaxNameLength},
			{Key: "description", Desc: "Description for the new group. A group description cannot be larger than 200 characters.", MaxLen: 200},
			{Key: "organization", Desc: "Key of the organization the group belongs to: only its members can be added", Since: "scimgate 1.1"},
		}},
	{Key: "update", Post: true, Since: "5.2", Access: userAdmin, Handle: updateGroup,
		Desc: "Update a group. Groups provisioned by an identity provider cannot be updated. Requires Administer System permission.",
		Params: []param{
			{Key: "currentName", Desc: "Name of the group to be updated.", Required: true, Since: "8.4"},
			{Key: "name", Desc: "New optional name for the group.", MaxLen: store.MaxNameLength},
			{Key: "description", Desc: "New optional description for the group.", MaxLen: 200},
		}},
	{Key: "delete", Post: true, Since: "5.2", Access: userAdmin, Handle: deleteGroup,
		Desc:   "Delete a group. The default group cannot be deleted, nor can groups provisioned by an identity provider. Requires Administer System permission.",
		Params: []param{{Key: "name", Desc: "Group name", Required: true}}},
	{Key: "add_user", Post: true, Since: "5.2", Access: userAdmin, Handle: addGroupUser,
		Desc:   "Add a user to a group. Membership of groups provisioned by an identity provider is managed there. Requires Administer System permission.",
		Params: []param{{Key: "name", Desc: "Group name", Required: true}, {Key: "login", Desc: "User login", Required: true}}},
	{Key: "remove_user", Post: true, Since: "5.2", Access: userAdmin, Handle: removeGroupUser,
		Desc:   "Remove a user from a group. Membership of groups provisioned by an identity provider is managed there. Requires Administer System permission.",
		Params: []param{{Key: "name", Desc: "Group name", Required: true}, {Key: "login", Desc: "User login", Required: true}}},
	{Key: "search", Since: "5.2", Access: userAdmin, Handle: searchGroups,
		Desc: "Search for user groups. Requires Administer System permission.",
		Params: append(pagingParams(100, 500),
			param{Key: "q", Desc: "Limit search to names that contain the supplied string."},
			param{Key: "f", Desc: "Comma-separated list of the fields to be returned in response. All the fields are returned by default.", Values: nil},
			param{Key: "managed", Desc: "Return managed or non-managed groups.", Values: boolValues, Since: "10.0"},
		)},
	{Key: "users", Since: "5.2", Internal: true, Access: userAdmin, Handle: groupUsers,
		Desc: "Search for users with membership information with respect to a group. Requires Administer System permission.",
		Params: append([]param{
			{Key: "name", Desc: "Group name", Required: true},
			{Key: "selected", Desc: "Depending on the value, show only selected items (selected=selected), deselected items (selected=deselected), or all items with their selection status (selected=all).", Values: []string{"all", "deselected", "selected"}, Default: "selected"},
			{Key: "q", Desc: "Limit search to names or logins that contain the supplied string."},
		}, pagingParams(25, 500)...)},
}}

// groupJSON is the group object of create and update.
type groupJSON struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	MembersCount int    `json:"membersCount"`
	Default      bool   `json:"default"`
	Organization string `json:"organization,omitempty"`
}

func groupByName(tx store.Tx, name string) (store.Group, error) {
	g, err := tx.GroupByName(name)
	if err != nil || g.Name != name {
		return store.Group{}, notFound("No group with name '%s'", name)
	}
	return g, nil
}

func createGroup(cl *call) error {
	g, err := store.CreateGroup(cl.c.Request().Context(), cl.api.store, cl.str("name"), cl.str("description"), cl.str("organization"))
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"group": groupJSON{ID: g.ID, Name: g.Name, Description: g.Description, Organization: g.Organization}})
}

func updateGroup(cl *call) error {
	g, n, err := store.UpdateGroup(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("currentName")), cl.optional("name"), cl.optional("description"))
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"group": groupJSON{ID: g.ID, Name: g.Name, Description: g.Description, MembersCount: n}})
}

func deleteGroup(cl *call) error {
	return cl.changed(store.RemoveGroup(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("name"))))
}

func addGroupUser(cl *call) error {
	return cl.changed(store.AddGroupMember(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("name")), store.ByName(cl.str("login"))))
}

func removeGroupUser(cl *call) error {
	return cl.changed(store.RemoveGroupMember(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("name")), store.ByName(cl.str("login"))))
}

func searchGroups(cl *call) error {
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	fields := map[string]bool{"name": true, "description": true, "membersCount": true, "managed": true}
	if cl.has("f") && cl.str("f") != "" {
		fields = map[string]bool{"name": true}
		for _, f := range strings.Split(cl.str("f"), ",") {
			f = strings.TrimSpace(f)
			if f != "name" && f != "description" && f != "membersCount" && f != "managed" {
				return invalid("Value of parameter 'f' (%s) must be one of: [name, description, membersCount, managed]", f)
			}
			fields[f] = true
		}
	}
	q := strings.ToLower(cl.str("q"))
	managed, filterManaged := cl.bool("managed"), cl.has("managed")
	type entry struct {
		Name         string `json:"name"`
		Description  string `json:"description,omitempty"`
		MembersCount *int   `json:"membersCount,omitempty"`
		Default      bool   `json:"default"`
		Managed      *bool  `json:"managed,omitempty"`
	}
	groups := []entry{}
	w := newWindow(p, ps)
	err = cl.view(func(tx store.Tx) error {
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			if q != "" && !strings.Contains(strings.ToLower(g.Name), q) || filterManaged && g.Managed != managed {
				continue
			}
			if !w.take() {
				continue
			}
			e := entry{Name: g.Name, Default: g.Name == store.DefaultGroup}
			if fields["description"] {
				e.Description = g.Description
			}
			if fields["membersCount"] {
				n, _ := store.CountMembers(tx, g.ID)
				e.MembersCount = &n
			}
			if fields["managed"] {
				m := g.Managed
				e.Managed = &m
			}
			groups = append(groups, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "groups": groups})
}

func groupUsers(cl *call) error {
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	selected, q := cl.str("selected"), strings.ToLower(cl.str("q"))
	type entry struct {
		Login    string `json:"login"`
		Name     string `json:"name"`
		Selected bool   `json:"selected"`
		Managed  bool   `json:"managed"`
	}
	users := []entry{}
	w := newWindow(p, ps)
	err = cl.view(func(tx store.Tx) error {
		g, err := groupByName(tx, cl.str("name"))
		if err != nil {
			return err
		}
		candidates := store.UsersContaining(tx, q)
		if selected == "selected" { // members only: read the group, not every user
			candidates = store.GroupMembers(tx, g.ID)
		}
		membership, known := store.Membership(tx, g.ID), map[string]bool{}
		isMember := func(u store.User) (bool, error) { // each user looked up once: by keep, then for the page
			if m, ok := known[u.ID]; ok {
				return m, nil
			}
			m, err := membership(u)
			known[u.ID] = m
			return m, err
		}
		var keep func(store.User) (bool, error) // none: the page is read, the rest counted
		if q != "" || selected == "deselected" {
			keep = func(u store.User) (bool, error) {
				if q != "" && !strings.Contains(strings.ToLower(u.Login), q) && !strings.Contains(strings.ToLower(u.Name), q) {
					return false, nil
				}
				member, err := isMember(u)
				return !(selected == "selected" && !member || selected == "deselected" && member), err
			}
		}
		page, err := w.list(candidates.Active(true), keep)
		if err != nil {
			return err
		}
		for _, u := range page {
			member, err := isMember(u)
			if err != nil {
				return err
			}
			users = append(users, entry{u.Login, u.Name, member, u.Managed})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"users": users, "p": p, "ps": ps, "total": w.total, "paging": w.paging(p)})
}
