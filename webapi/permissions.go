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

const permDesc = "Permission. Global: one of admin, gateadmin, profileadmin, provisioning, scan, useradmin. Project: one of admin, codeviewer, issueadmin, securityhotspotadmin, scan, user"

func permChangeParams(subject string) []param {
	return append([]param{
		{Key: subject, Desc: map[string]string{"login": "User login", "groupName": "Group name or 'anyone' (case insensitive)"}[subject], Required: true},
		{Key: "permission", Desc: permDesc, Required: true},
	}, projectParams...)
}

const scopeRule = " Without a project, requires Administer System (or Administer Users within the caller's own permissions); with one, Administer System or Administer on the project."

var permissionsController = controller{Path: "api/permissions", Since: "5.2", Desc: "Manage permission templates, and the granting and revoking of permissions at the global and project levels.", Action: append([]action{
	{Key: "add_user", Post: true, Since: "5.2", Access: loggedIn, Handle: addUserPermission, Params: permChangeParams("login"),
		Desc: "Add a permission to a user. Allowed for users provisioned by an identity provider too. On a project of an organization, the user must be a member." + scopeRule},
	{Key: "remove_user", Post: true, Since: "5.2", Access: loggedIn, Handle: removeUserPermission, Params: permChangeParams("login"),
		Desc: "Remove a permission from a user." + scopeRule},
	{Key: "add_group", Post: true, Since: "5.2", Access: loggedIn, Handle: addGroupPermission, Params: permChangeParams("groupName"),
		Desc: "Add a permission to a group. Groups provisioned by an identity provider may hold permissions; their membership stays with the identity provider." + scopeRule},
	{Key: "remove_group", Post: true, Since: "5.2", Access: loggedIn, Handle: removeGroupPermission, Params: permChangeParams("groupName"),
		Desc: "Remove a permission from a group." + scopeRule},
	{Key: "users", Since: "5.2", Internal: true, Access: loggedIn, Handle: permissionUsers,
		Desc: "Lists the users with their permissions." + scopeRule,
		Params: append(append(pagingParams(20, 100),
			param{Key: "q", Desc: "Limit search to user names, logins or emails that contain the supplied string.", MinLen: 3},
			param{Key: "permission", Desc: permDesc}), projectParams...)},
	{Key: "groups", Since: "5.2", Internal: true, Access: loggedIn, Handle: permissionGroups,
		Desc: "Lists the groups with their permissions." + scopeRule,
		Params: append(append(pagingParams(20, 100),
			param{Key: "q", Desc: "Limit search to group names that contain the supplied string.", MinLen: 3},
			param{Key: "permission", Desc: permDesc}), projectParams...)},
}, templateActions...)}

// target is what a permission request applies to: the instance, or one
// project (non-nil).
type target struct{ project *store.Project }

// key is the stored key of perm on the target.
func (t target) key(perm string) string {
	if t.project == nil {
		return perm
	}
	return store.OnProject(t.project.ID, perm)
}

// names keeps the keys of the target among a subject's permission keys and
// returns their permission names.
func (t target) names(keys []string) []string {
	var out []string
	for _, k := range keys {
		scope, id, perm := store.ParsePerm(k)
		if t.project == nil && scope == "" || t.project != nil && scope == "project" && id == t.project.ID {
			out = append(out, perm)
		}
	}
	return out
}

func (t target) order() []string {
	if t.project == nil {
		return store.GlobalPermissions
	}
	return store.ProjectPermissions
}

// check validates a permission name for the target, with SonarQube's messages.
func (t target) check(perm string) error {
	if t.project == nil && !contains(store.GlobalPermissions, perm) {
		return invalid("Invalid global permission '%s'. Valid values are [%s]", perm, strings.Join(store.GlobalPermissions, ", "))
	}
	if t.project != nil && !contains(store.ProjectPermissions, perm) {
		return invalid("Invalid project permission '%s'. Valid values are [%s]", perm, strings.Join(store.ProjectPermissions, ", "))
	}
	return nil
}

// implied reports whether perm is held by everyone on the target (Browse
// and See Source Code on a public project).
func (t target) implied(perm string) bool {
	return t.project != nil && !t.project.Private && contains(store.PublicPermissions, perm)
}

// findProject resolves projectId or projectKey (nil when neither is given).
func (cl *call) findProject(tx store.Tx) (*store.Project, error) {
	id, key := cl.str("projectId"), cl.str("projectKey")
	if id != "" && key != "" {
		return nil, invalid("Project id or project key can be provided, not both.")
	}
	if id == "" && key == "" {
		return nil, nil
	}
	var p store.Project
	var err error
	if id != "" {
		p, err = tx.Project(id)
	} else if p, err = tx.ProjectByKey(key); err == nil && p.Key != key {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, notFound("Entity not found")
	}
	return &p, nil
}

// target resolves the request's target and checks the caller may manage
// its permissions: global ones need admin or useradmin, a project's need
// admin or the project's admin permission.
func (cl *call) target(tx store.Tx) (target, error) {
	p, err := cl.findProject(tx)
	if err != nil || cl.admin {
		return target{p}, err
	}
	ok, err := cl.holdsIn(tx, target{p}, store.PermAdmin)
	if p == nil {
		ok, err = store.HasPermission(tx, cl.caller.ID, store.PermUserAdmin)
	}
	if err == nil && !ok {
		err = forbidden()
	}
	return target{p}, err
}

// holdsIn reports whether the caller holds perm on the target.
func (cl *call) holdsIn(tx store.Tx, t target, perm string) (bool, error) {
	if t.project == nil {
		return store.HasPermission(tx, cl.caller.ID, perm)
	}
	return store.HasProjectPermission(tx, cl.caller.ID, *t.project, perm)
}

// userPermissionChange resolves the target, the permission and the user.
func userPermissionChange(cl *call, tx store.Tx) (target, store.User, string, error) {
	t, err := cl.target(tx)
	if err != nil {
		return t, store.User{}, "", err
	}
	login, perm := cl.str("login"), cl.str("permission")
	if err := t.check(perm); err != nil {
		return t, store.User{}, "", err
	}
	u, ok := userByLogin(tx, login)
	if !ok || !u.Active {
		return t, u, "", notFound("User with login '%s' is not found'", login)
	}
	return t, u, perm, nil
}

func addUserPermission(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, u, perm, err := userPermissionChange(cl, tx)
		if err != nil || t.implied(perm) {
			return err
		}
		if t.project == nil {
			if err := cl.mayGrant(tx, perm, true); err != nil {
				return err
			}
		} else if err := store.CheckOrgMember(tx, t.project.Organization, u); err != nil {
			return err
		}
		return tx.Grant(store.UserSubject(u.ID), t.key(perm))
	}))
}

func removeUserPermission(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, u, perm, err := userPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		s := store.UserSubject(u.ID)
		if t.project != nil {
			if t.implied(perm) {
				return invalid("Permission %s can't be removed from a public component", perm)
			}
			if t.project.Private && perm == store.PermBrowse && u.ID == cl.caller.ID && !cl.admin {
				return invalid("Permission 'Browse' cannot be removed from a private project for a project administrator.")
			}
			return revokeProjectPerm(tx, *t.project, s, perm)
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
		if err := tx.Revoke(s, perm); err != nil {
			return err
		}
		return store.EnsureAdmin(tx, "Last user with permission 'admin'. Permission cannot be removed.")
	}))
}

// revokeProjectPerm revokes perm on p from s; the last administrator of a
// project keeps its admin permission.
func revokeProjectPerm(tx store.Tx, p store.Project, s store.Subject, perm string) error {
	held, err := tx.Permissions(s)
	if err != nil || !contains(held, store.OnProject(p.ID, perm)) {
		return err
	}
	if err := tx.Revoke(s, store.OnProject(p.ID, perm)); err != nil || perm != store.PermAdmin {
		return err
	}
	return store.EnsureProjectAdmin(tx, p, "Last user with permission 'admin' on project '"+p.Key+"'. Permission cannot be removed.")
}

// groupPermissionChange resolves the target, the permission and the group
// (or Anyone).
func groupPermissionChange(cl *call, tx store.Tx) (target, store.Subject, string, error) {
	t, err := cl.target(tx)
	if err != nil {
		return t, store.Subject{}, "", err
	}
	name, perm := cl.str("groupName"), cl.str("permission")
	s := store.GroupSubject(store.AnyoneGroup)
	if !strings.EqualFold(name, store.AnyoneGroup) {
		g, err := groupByName(tx, name)
		if err != nil {
			return t, s, "", err
		}
		s.ID = g.ID
	}
	return t, s, perm, t.check(perm)
}

func addGroupPermission(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, s, perm, err := groupPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		switch {
		case s.ID == store.AnyoneGroup && perm == store.PermAdmin:
			return invalid("It is not possible to add the 'admin' permission to group 'Anyone'.")
		case s.ID == store.AnyoneGroup && t.project != nil && t.project.Private:
			return invalid("No permission can be granted to Anyone on a private component")
		case t.implied(perm):
			return nil
		case t.project == nil:
			if err := cl.mayGrant(tx, perm, true); err != nil {
				return err
			}
		}
		return tx.Grant(s, t.key(perm))
	}))
}

func removeGroupPermission(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, s, perm, err := groupPermissionChange(cl, tx)
		if err != nil {
			return err
		}
		if t.project != nil {
			if t.implied(perm) {
				return invalid("Permission %s can't be removed from a public component", perm)
			}
			return revokeProjectPerm(tx, *t.project, s, perm)
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
	}))
}

// changed answers 204 for a write without a response body.
func (cl *call) changed(err error) error {
	if err != nil {
		return err
	}
	return cl.noContent()
}

func sortPerms(perms, order []string) []string {
	rank := map[string]int{}
	for i, p := range order {
		rank[p] = i
	}
	sort.Slice(perms, func(i, j int) bool { return rank[perms[i]] < rank[perms[j]] })
	return orEmpty(perms)
}

// permissionQuery reads the parameters permissions/users and groups share.
func permissionQuery(cl *call, tx store.Tx) (t target, p, ps int, perm, q string, err error) {
	if t, err = cl.target(tx); err != nil {
		return
	}
	if p, ps, err = cl.page(); err != nil {
		return
	}
	perm, q = cl.str("permission"), strings.ToLower(cl.str("q"))
	if perm != "" {
		err = t.check(perm)
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
	type entry struct {
		Login       string   `json:"login"`
		Name        string   `json:"name"`
		Email       string   `json:"email,omitempty"`
		Permissions []string `json:"permissions"`
		Avatar      string   `json:"avatar,omitempty"`
		Managed     bool     `json:"managed"`
	}
	var with, without []entry
	var p, ps int
	err := cl.view(func(tx store.Tx) error {
		t, pg, size, perm, q, err := permissionQuery(cl, tx)
		if err != nil {
			return err
		}
		p, ps = pg, size
		for u, err := range tx.UsersByLogin() {
			if err != nil {
				return err
			}
			if !u.Active || q != "" && !strings.Contains(strings.ToLower(u.Login), q) &&
				!strings.Contains(strings.ToLower(u.Name), q) && !strings.Contains(strings.ToLower(u.Email), q) {
				continue
			}
			keys, err := tx.Permissions(store.UserSubject(u.ID))
			if err != nil {
				return err
			}
			perms := t.names(keys)
			if perm != "" && !contains(perms, perm) {
				continue
			}
			e := entry{u.Login, u.Name, u.Email, sortPerms(perms, t.order()), avatar(u.Email), u.Managed}
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
	type entry struct {
		ID          string   `json:"id"`
		Name        string   `json:"name"`
		Description string   `json:"description,omitempty"`
		Permissions []string `json:"permissions"`
		Managed     bool     `json:"managed"`
	}
	var with, without []entry
	var p, ps int
	err := cl.view(func(tx store.Tx) error {
		t, pg, size, perm, q, err := permissionQuery(cl, tx)
		if err != nil {
			return err
		}
		p, ps = pg, size
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
		keys, err := tx.Permissions(store.GroupSubject(store.AnyoneGroup))
		if err != nil {
			return err
		}
		add(entry{ID: store.AnyoneGroup, Name: store.AnyoneGroup, Permissions: sortPerms(t.names(keys), t.order())})
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			if keys, err = tx.Permissions(store.GroupSubject(g.ID)); err != nil {
				return err
			}
			add(entry{g.ID, g.Name, g.Description, sortPerms(t.names(keys), t.order()), g.Managed})
		}
		return nil
	})
	if err != nil {
		return err
	}
	groups, pg := holdersFirst(with, without, p, ps)
	return cl.json(map[string]any{"paging": pg, "groups": groups})
}
