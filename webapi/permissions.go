package webapi

import (
	"sort"
	"strings"

	"github.com/scimgate/scimgate/store"
)

var projectParams = []param{
	{Key: "projectId", Desc: "Project id"},
	{Key: "projectKey", Desc: "Project key"},
}

func permChangeParams(subject string) []param {
	return append([]param{
		{Key: subject, Desc: map[string]string{"login": "User login", "groupName": "Group name or 'anyone' (case insensitive)"}[subject], Required: true},
		{Key: "permission", Desc: "Permission: one of admin, gateadmin, profileadmin, provisioning, scan, useradmin", Required: true},
	}, projectParams...)
}

var permissionsController = controller{Path: "api/permissions", Since: "5.2", Desc: "Manage permission templates, and the granting and revoking of permissions at the global and project levels.", Action: []action{
	{Key: "add_user", Post: true, Since: "5.2", Access: userAdmin, Handle: addUserPermission, Params: permChangeParams("login"),
		Desc: "Add a global permission to a user. Allowed for users provisioned by an identity provider too. Requires Administer System permission."},
	{Key: "remove_user", Post: true, Since: "5.2", Access: userAdmin, Handle: removeUserPermission, Params: permChangeParams("login"),
		Desc: "Remove a global permission from a user. Requires Administer System permission."},
	{Key: "add_group", Post: true, Since: "5.2", Access: userAdmin, Handle: addGroupPermission, Params: permChangeParams("groupName"),
		Desc: "Add a global permission to a group. Groups provisioned by an identity provider may hold permissions. Requires Administer System permission."},
	{Key: "remove_group", Post: true, Since: "5.2", Access: userAdmin, Handle: removeGroupPermission, Params: permChangeParams("groupName"),
		Desc: "Remove a global permission from a group. Requires Administer System permission."},
	{Key: "users", Since: "5.2", Internal: true, Access: userAdmin, Handle: permissionUsers,
		Desc: "Lists the users with their permissions. Requires Administer System permission.",
		Params: append(append(pagingParams(20, 100),
			param{Key: "q", Desc: "Limit search to user names, logins or emails that contain the supplied string.", MinLen: 3},
			param{Key: "permission", Desc: "Permission: one of admin, gateadmin, profileadmin, provisioning, scan, useradmin"}), projectParams...)},
	{Key: "groups", Since: "5.2", Internal: true, Access: userAdmin, Handle: permissionGroups,
		Desc: "Lists the groups with their permissions. Requires Administer System permission.",
		Params: append(append(pagingParams(20, 100),
			param{Key: "q", Desc: "Limit search to group names that contain the supplied string.", MinLen: 3},
			param{Key: "permission", Desc: "Permission: one of admin, gateadmin, profileadmin, provisioning, scan, useradmin"}), projectParams...)},
}}

// globalOnly refuses project parameters: projects do not exist here yet.
func globalOnly(cl *call) error {
	id, key := cl.has("projectId"), cl.has("projectKey")
	switch {
	case id && key:
		return invalid("Project id or project key can be provided, not both.")
	case id || key:
		return notFound("Entity not found")
	}
	return nil
}

func checkPermission(p string) error {
	if !contains(store.GlobalPermissions, p) {
		return invalid("Invalid global permission '%s'. Valid values are [%s]", p, strings.Join(store.GlobalPermissions, ", "))
	}
	return nil
}

// userPermissionChange finds the user and validates the permission.
func userPermissionChange(cl *call, tx store.Tx) (store.User, string, error) {
	if err := globalOnly(cl); err != nil {
		return store.User{}, "", err
	}
	login, perm := cl.str("login"), cl.str("permission")
	u, ok := userByLogin(tx, login)
	if !ok || !u.Active {
		return u, "", notFound("User with login '%s' is not found'", login)
	}
	return u, perm, checkPermission(perm)
}

func addUserPermission(cl *call) error {
	err := cl.update(func(tx store.Tx) error {
		u, perm, err := userPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		if err := cl.mayGrant(tx, perm, true); err != nil {
			return err
		}
		return tx.Grant(store.Subject{Kind: 'u', ID: u.ID}, perm)
	})
	if err != nil {
		return err
	}
	return cl.noContent()
}

func removeUserPermission(cl *call) error {
	err := cl.update(func(tx store.Tx) error {
		u, perm, err := userPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		if perm == store.PermAdmin && u.ID == cl.caller.ID {
			return invalid("As an admin, you can't remove your own admin right")
		}
		if err := cl.mayGrant(tx, perm, false); err != nil {
			return err
		}
		if err := cl.mayChange(tx, u); err != nil {
			return err
		}
		if err := tx.Revoke(store.Subject{Kind: 'u', ID: u.ID}, perm); err != nil {
			return err
		}
		return store.EnsureAdmin(tx, "Last user with permission 'admin'. Permission cannot be removed.")
	})
	if err != nil {
		return err
	}
	return cl.noContent()
}

// groupPermissionChange finds the group (or Anyone) and validates the permission.
func groupPermissionChange(cl *call, tx store.Tx) (store.Subject, string, error) {
	if err := globalOnly(cl); err != nil {
		return store.Subject{}, "", err
	}
	name, perm := cl.str("groupName"), cl.str("permission")
	s := store.Subject{Kind: 'g', ID: store.AnyoneGroup}
	if !strings.EqualFold(name, store.AnyoneGroup) {
		g, err := groupByName(tx, name)
		if err != nil {
			return s, "", err
		}
		s.ID = g.ID
	}
	return s, perm, checkPermission(perm)
}

func addGroupPermission(cl *call) error {
	err := cl.update(func(tx store.Tx) error {
		s, perm, err := groupPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		if s.ID == store.AnyoneGroup && perm == store.PermAdmin {
			return invalid("It is not possible to add the 'admin' permission to group 'Anyone'.")
		}
		if err := cl.mayGrant(tx, perm, true); err != nil {
			return err
		}
		return tx.Grant(s, perm)
	})
	if err != nil {
		return err
	}
	return cl.noContent()
}

func removeGroupPermission(cl *call) error {
	err := cl.update(func(tx store.Tx) error {
		s, perm, err := groupPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		if err := cl.mayGrant(tx, perm, false); err != nil {
			return err
		}
		if s.ID != store.AnyoneGroup {
			if err := cl.mayChangeGroup(tx, store.Group{ID: s.ID, Name: cl.str("groupName")}); err != nil {
				return err
			}
		}
		if err := tx.Revoke(s, perm); err != nil {
			return err
		}
		return store.EnsureAdmin(tx, "Last group with permission 'admin'. Permission cannot be removed.")
	})
	if err != nil {
		return err
	}
	return cl.noContent()
}

func sortPerms(perms []string) []string {
	order := map[string]int{}
	for i, p := range store.GlobalPermissions {
		order[p] = i
	}
	sort.Slice(perms, func(i, j int) bool { return order[perms[i]] < order[perms[j]] })
	return orEmpty(perms)
}

// permissionQuery reads the parameters permissions/users and groups share.
func permissionQuery(cl *call) (p, ps int, perm, q string, err error) {
	if err = globalOnly(cl); err != nil {
		return
	}
	if p, ps, err = cl.page(); err != nil {
		return
	}
	perm, q = cl.str("permission"), strings.ToLower(cl.str("q"))
	if perm != "" {
		err = checkPermission(perm)
	}
	return
}

// holdersFirst pages entries with permissions ahead of those without, as
// SonarQube lists them.
func holdersFirst[T any](with, without []T, p, ps int) ([]T, paging) {
	w := newWindow(p, ps)
	page := []T{}
	for _, e := range append(with, without...) {
		if w.take() {
			page = append(page, e)
		}
	}
	return page, w.paging(p)
}

func permissionUsers(cl *call) error {
	p, ps, perm, q, err := permissionQuery(cl)
	if err != nil {
		return err
	}
	type entry struct {
		Login       string   `json:"login"`
		Name        string   `json:"name"`
		Email       string   `json:"email,omitempty"`
		Permissions []string `json:"permissions"`
		Avatar      string   `json:"avatar,omitempty"`
		Managed     bool     `json:"managed"`
	}
	var with, without []entry
	err = cl.view(func(tx store.Tx) error {
		for u, err := range tx.UsersByLogin() {
			if err != nil {
				return err
			}
			if !u.Active || q != "" && !strings.Contains(strings.ToLower(u.Login), q) &&
				!strings.Contains(strings.ToLower(u.Name), q) && !strings.Contains(strings.ToLower(u.Email), q) {
				continue
			}
			perms, err := tx.Permissions(store.Subject{Kind: 'u', ID: u.ID})
			if err != nil {
				return err
			}
			if perm != "" && !contains(perms, perm) {
				continue
			}
			e := entry{u.Login, u.Name, u.Email, sortPerms(perms), avatar(u.Email), u.Managed}
			if len(perms) > 0 {
				with = append(with, e)
			} else {
				without = append(without, e)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	users, pg := holdersFirst(with, without, p, ps)
	return cl.json(map[string]any{"paging": pg, "users": users})
}

func permissionGroups(cl *call) error {
	p, ps, perm, q, err := permissionQuery(cl)
	if err != nil {
		return err
	}
	type entry struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Description string   `json:"description,omitempty"`
		Permissions []string `json:"permissions"`
		Managed     bool     `json:"managed"`
	}
	var with, without []entry
	add := func(e entry) {
		if perm != "" && !contains(e.Permissions, perm) || q != "" && !strings.Contains(strings.ToLower(e.Name), q) {
			return
		}
		if len(e.Permissions) > 0 {
			with = append(with, e)
		} else {
			without = append(without, e)
		}
	}
	err = cl.view(func(tx store.Tx) error {
		perms, err := tx.Permissions(store.Subject{Kind: 'g', ID: store.AnyoneGroup})
		if err != nil {
			return err
		}
		add(entry{ID: store.AnyoneGroup, Name: store.AnyoneGroup, Permissions: sortPerms(perms)})
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			if perms, err = tx.Permissions(store.Subject{Kind: 'g', ID: g.ID}); err != nil {
				return err
			}
			add(entry{g.ID, g.Name, g.Description, sortPerms(perms), g.Managed})
		}
		return nil
	})
	if err != nil {
		return err
	}
	groups, pg := holdersFirst(with, without, p, ps)
	return cl.json(map[string]any{"paging": pg, "groups": groups})
}
