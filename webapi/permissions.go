package webapi

import (
	"maps"
	"slices"
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

// names keeps the keys of the target among a subject's permission keys and
// returns their permission names.
func (t target) names(keys []store.PermKey) []string {
	var out []string
	for _, k := range keys {
		scope, id, perm := store.ParsePerm(k)
		if t.project == nil && scope == "" || t.project != nil && scope == "project" && id == t.project.ID {
			out = append(out, perm)
		}
	}
	return out
}

// key is the stored key of permission perm on the target.
func (t target) key(perm string) store.PermKey {
	if t.project == nil {
		return store.Global(perm)
	}
	return store.OnProject(t.project.ID, perm)
}

func (t target) order() []string {
	if t.project == nil {
		return store.GlobalPermissions
	}
	return store.ProjectPermissions
}

// check validates a permission name for the target.
func (t target) check(perm string) error { return store.CheckPermissionName(t.project, perm) }

// target resolves the request's target and checks the caller may manage
// its permissions (store.PermissionTarget).
func (cl *call) target(tx store.Tx) (target, error) {
	p, err := store.PermissionTarget(tx, cl.callerOf(), cl.str("projectId"), cl.str("projectKey"))
	return target{p}, err
}

// permissionChange is the change the request names.
func (cl *call) permissionChange(subject string) store.PermissionChange {
	c := store.PermissionChange{Permission: cl.str("permission"), ProjectID: cl.str("projectId"), ProjectKey: cl.str("projectKey")}
	if subject == "login" {
		c.Login = cl.str("login")
	} else {
		c.Group = cl.str("groupName")
	}
	return c
}

func addUserPermission(cl *call) error {
	return cl.changed(store.GrantPermission(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.permissionChange("login")))
}

func removeUserPermission(cl *call) error {
	return cl.changed(store.RevokePermission(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.permissionChange("login")))
}

func addGroupPermission(cl *call) error {
	return cl.changed(store.GrantPermission(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.permissionChange("groupName")))
}

func removeGroupPermission(cl *call) error {
	return cl.changed(store.RevokePermission(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.permissionChange("groupName")))
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

// permissionUsers lists the active users with their permissions on the
// target, holders first, each part in login order. The holders come from
// the permission holders index; the others, when listed (no permission
// filter), are read in login order only as far as the page, and counted
// from the active-user count, so the cost follows the page and the
// holders, not the users, unless q asks to search them all.
func permissionUsers(cl *call) error {
	type entry struct {
		Login       string   `json:"login"`
		Name        string   `json:"name"`
		Email       string   `json:"email,omitempty"`
		Permissions []string `json:"permissions"`
		Avatar      string   `json:"avatar,omitempty"`
		Managed     bool     `json:"managed"`
	}
	page := []entry{}
	var p int
	var w *window
	err := cl.view(func(tx store.Tx) error {
		t, pg, size, perm, q, err := permissionQuery(cl, tx)
		if err != nil {
			return err
		}
		p, w = pg, newWindow(pg, size)
		matches := func(u store.User) bool { return u.Active && u.Matches(q, true) }
		newEntry := func(u store.User, perms []string) entry {
			return entry{u.Login, u.Name, u.Email, sortPerms(perms, t.order()), avatar(u.Email), u.Managed}
		}
		held := map[string]bool{}
		for _, name := range t.order() {
			if perm == "" || name == perm {
				for s := range tx.Holders(t.key(name)) {
					if s.IsUser() && s.ID != store.ProjectCreator {
						held[s.ID] = true
					}
				}
			}
		}
		var holders []store.User
		activeHolders := 0
		for u, err := range store.ReadUsers(tx, maps.Keys(held)) {
			if err != nil {
				return err
			}
			if u.Active {
				activeHolders++
			}
			if matches(u) {
				holders = append(holders, u)
			}
		}
		slices.SortFunc(holders, func(a, b store.User) int { return strings.Compare(store.FoldLogin(a.Login), store.FoldLogin(b.Login)) })
		for _, u := range holders {
			keys, err := tx.Permissions(store.UserSubject(u.ID))
			if err != nil {
				return err
			}
			if w.take() {
				page = append(page, newEntry(u, t.names(keys)))
			}
		}
		if perm != "" {
			return nil // only holders hold it
		}
		if q != "" { // the users q finds, past the holders
			start := max(w.offset, w.total) // the page's first place the holders left
			others, n, err := store.UsersContaining(tx, q).Page(func(u store.User) (bool, error) {
				return !held[u.ID] && matches(u), nil
			}, start-w.total, max(0, w.offset+w.size-start))
			for _, u := range others {
				page = append(page, newEntry(u, nil))
			}
			w.total += n
			return err
		}
		n, err := tx.CountActiveUsers()
		if err != nil {
			return err
		}
		others := n - activeHolders
		for u, err := range store.UsersContaining(tx, q).All() {
			if err != nil {
				return err
			}
			if held[u.ID] || !matches(u) {
				continue
			}
			if w.take() {
				page = append(page, newEntry(u, nil))
			}
			if w.total >= w.offset+w.size {
				w.total = len(holders) + others // the rest is counted, not read
				break
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "users": page})
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
