package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/scimgate/scimgate/store"
)

type projectsView struct {
	Q        string
	Projects []store.Project
	Pager    pager
}

func projectsPage(r *request) error {
	v := projectsView{Q: r.QueryParam("q")}
	q := strings.ToLower(v.Q)
	w := window{page: r.pageNumber()}
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		for p, err := range tx.Projects() {
			if err != nil {
				return err
			}
			if q != "" && !strings.Contains(strings.ToLower(p.Key), q) && !strings.Contains(strings.ToLower(p.Name), q) || !w.take() {
				continue
			}
			v.Projects = append(v.Projects, p)
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	v.Pager = w.pager(url.Values{"q": {v.Q}}, -1)
	return r.render(http.StatusOK, "projects", "Projects", "projects", v)
}

// holder is a subject holding a permission, by name.
type holder struct {
	Kind, Name string // "user" (login) or "group"
}

// permHolders names the holders of key, reading the users among them
// together (store.ReadUsers), not one at a time.
func permHolders(tx store.Tx, key store.PermKey) ([]holder, error) {
	creator := store.UserSubject(store.ProjectCreator)
	subjects := slices.Collect(tx.Holders(key))
	var ids []string
	for _, s := range subjects {
		if s.IsUser() && s != creator {
			ids = append(ids, s.ID)
		}
	}
	logins := map[string]string{}
	for u, err := range store.ReadUsers(tx, slices.Values(ids)) {
		if err != nil {
			return nil, err
		}
		logins[u.ID] = u.Login
	}
	var out []holder
	for _, s := range subjects {
		switch {
		case s == creator:
			out = append(out, holder{"creator", "the project's creator"})
		case s.IsUser():
			login, ok := logins[s.ID]
			if !ok { // not stored: the error reading it gives
				u, err := tx.User(s.ID)
				if err != nil {
					return nil, err
				}
				login = u.Login
			}
			out = append(out, holder{"user", login})
		case s.ID == store.AnyoneGroup:
			out = append(out, holder{"group", store.AnyoneGroup})
		default:
			g, err := tx.Group(s.ID)
			if err != nil {
				return nil, err
			}
			out = append(out, holder{"group", g.Name})
		}
	}
	return out, nil
}

// browser is one user's answer to "who can browse this project, and how".
type browser struct {
	Login, Name string
	Managed     bool
	Via         []string
}

// accessLimit bounds the users a project page lists.
const accessLimit = 200

// permRow is a permission and who holds it.
type permRow struct {
	Name    string
	Holders []holder
}

// permRows names the holders of each of perms, keyed by key; with
// skipEmpty, permissions nobody holds are left out.
func permRows(tx store.Tx, perms []string, key func(string) store.PermKey, skipEmpty bool) ([]permRow, error) {
	var out []permRow
	for _, perm := range perms {
		hs, err := permHolders(tx, key(perm))
		if err != nil {
			return nil, err
		}
		if len(hs) > 0 || !skipEmpty {
			out = append(out, permRow{perm, hs})
		}
	}
	return out, nil
}

type projectView struct {
	Project     store.Project
	Anyone      []string // how everyone may browse, if they may
	Users       []browser
	More        bool
	Permissions []permRow
	All         []string // the project permissions, for the form
}

// describe words an access path.
func describe(p store.AccessPath) string {
	s := map[string]string{"public": "public project", "user": "granted to the user", "anyone": "granted to Anyone"}[p.Via]
	if p.Via == "group" {
		s = "through group " + p.Group
	}
	if p.Template != "" {
		s += " (from template " + p.Template + ")"
	}
	return s
}

func projectPage(r *request) error {
	var v projectView
	v.All = store.ProjectPermissions
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		p, err := tx.Project(r.Param("id"))
		if err != nil {
			return notFound(err)
		}
		v.Project = p
		anyone, users, err := store.ProjectAccess(tx, p, store.PermBrowse)
		if err != nil {
			return err
		}
		for _, a := range anyone {
			v.Anyone = append(v.Anyone, describe(a))
		}
		for ua, err := range users {
			if err != nil {
				return err
			}
			if len(v.Users) == accessLimit {
				v.More = true
				break
			}
			a := browser{Login: ua.User.Login, Name: ua.User.Name, Managed: ua.User.Managed}
			for _, p := range ua.Via {
				a.Via = append(a.Via, describe(p))
			}
			v.Users = append(v.Users, a)
		}
		v.Permissions, err = permRows(tx, store.ProjectPermissions, func(perm string) store.PermKey { return store.OnProject(p.ID, perm) }, false)
		return err
	})
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "project", v.Project.Key, "projects", v)
}

// permissionChange reads the grant or revoke form: a user login or a group
// name, a permission, and op=grant or op=revoke.
func (r *request) permissionChange(projectID string) (store.PermissionChange, bool) {
	c := store.PermissionChange{Permission: r.form("permission"), ProjectID: projectID}
	if r.FormValue("kind") == "group" {
		c.Group = r.form("name")
	} else {
		c.Login = r.form("name")
	}
	return c, r.FormValue("op") != "revoke"
}

func (r *request) applyPermission(c store.PermissionChange, grant bool, back string) error {
	var err error
	notice := "granted"
	if grant {
		err = store.GrantPermission(r.ctx(), r.con.store, r.caller, c)
	} else {
		err, notice = store.RevokePermission(r.ctx(), r.con.store, r.caller, c), "withdrawn"
	}
	if err != nil {
		return r.fail(err)
	}
	return r.done(back, notice)
}

func changeProjectPermission(r *request) error {
	c, grant := r.permissionChange(r.Param("id"))
	return r.applyPermission(c, grant, "/projects/"+r.Param("id"))
}

type globalView struct {
	Permissions []permRow
	All         []string
}

func globalPermissionsPage(r *request) error {
	v := globalView{All: store.GlobalPermissions}
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		var err error
		v.Permissions, err = permRows(tx, store.GlobalPermissions, store.Global, false)
		return err
	})
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "permissions", "Global permissions", "permissions", v)
}

func changeGlobalPermission(r *request) error {
	c, grant := r.permissionChange("")
	return r.applyPermission(c, grant, "/permissions")
}

type templateRow struct {
	store.Template
	Entries []permRow
}

func templatesPage(r *request) error {
	var rows []templateRow
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		for t, err := range tx.Templates() {
			if err != nil {
				return err
			}
			entries, err := permRows(tx, store.ProjectPermissions, func(perm string) store.PermKey { return store.InTemplate(t.ID, perm) }, true)
			if err != nil {
				return err
			}
			rows = append(rows, templateRow{t, entries})
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "templates", "Permission templates", "templates", rows)
}
