package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
)

// userRow is one line of the users list.
type userRow struct {
	store.User
	Locked bool
}

type usersView struct {
	Q, Managed, Active string
	Locked             bool
	Users              []userRow
	Pager              pager
}

// usersPage lists users in login order: q matches login, name or e-mail;
// managed, active and locked filter.
func usersPage(r *request) error {
	v := usersView{Q: r.QueryParam("q"), Managed: r.QueryParam("managed"), Active: r.QueryParam("active"), Locked: r.QueryParam("locked") == "on"}
	q := strings.ToLower(v.Q)
	w := window{page: r.pageNumber()}
	var total int
	filtered := q != "" || v.Managed != "" || v.Locked // the state narrows the listing itself
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		listing := store.UsersContaining(tx, q)
		if v.Active == "true" || v.Active == "false" {
			listing = listing.Active(v.Active == "true")
		}
		var keep func(store.User) (bool, error) // none: only the page is read; the users are counted
		if filtered {
			keep = func(u store.User) (bool, error) {
				if !u.Matches(q, true) || !matches(v.Managed, u.Managed) {
					return false, nil
				}
				if !v.Locked {
					return true, nil
				}
				return r.con.auth.Locked(tx, u)
			}
		}
		page, n, err := listing.Page(keep, (w.page-1)*pageSize, pageSize)
		if err != nil {
			return err
		}
		total = n
		tx.ReadAheadPage(page)
		for _, u := range page {
			locked, err := r.con.auth.Locked(tx, u)
			if err != nil {
				return err
			}
			v.Users = append(v.Users, userRow{u, locked})
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	v.Pager = w.pager(url.Values{"q": {v.Q}, "managed": {v.Managed}, "active": {v.Active}, "locked": {map[bool]string{true: "on"}[v.Locked]}}, total)
	return r.render(http.StatusOK, "users", "Users", "users", v)
}

// matches reports whether a yes/no filter ("true", "false" or "" for any)
// admits b.
func matches(filter string, b bool) bool {
	return filter == "" || filter == "true" && b || filter == "false" && !b
}

// grant is one permission a user holds, and how.
type grant struct {
	Permission, Project, ProjectID, Via string
}

type userView struct {
	User    store.User
	Locked  bool
	Groups  []store.Group
	Global  []grant
	Project []grant
	Tokens  []store.Token
	Audit   []store.AuditEntry
	Secret  *tokenSecret // a token just created: shown once
}

type tokenSecret struct{ Name, Secret string }

// loadUser reads everything the user page shows.
func (r *request) loadUser(id string) (userView, error) {
	var v userView
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		u, err := tx.User(id)
		if err != nil {
			return notFound(err)
		}
		v.User = u
		if v.Locked, err = r.con.auth.Locked(tx, u); err != nil {
			return err
		}
		subjects := []store.Subject{store.UserSubject(u.ID)}
		via := map[store.Subject]string{store.UserSubject(u.ID): "direct"}
		for gid := range store.GroupsOf(tx, u.ID) {
			g, err := tx.Group(gid)
			if err != nil {
				return err
			}
			v.Groups = append(v.Groups, g)
			subjects = append(subjects, store.GroupSubject(gid))
			via[store.GroupSubject(gid)] = "group " + g.Name
		}
		slices.SortFunc(v.Groups, func(a, b store.Group) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
		subjects = append(subjects, store.GroupSubject(store.AnyoneGroup))
		via[store.GroupSubject(store.AnyoneGroup)] = "Anyone"
		for _, s := range subjects {
			keys, err := tx.Permissions(s)
			if err != nil {
				return err
			}
			for _, k := range keys {
				scope, pid, perm := store.ParsePerm(k)
				switch scope {
				case "": // global
					v.Global = append(v.Global, grant{Permission: perm, Via: via[s]})
				case "project":
					p, err := tx.Project(pid)
					if err != nil {
						continue // a grant on a project deleted meanwhile
					}
					v.Project = append(v.Project, grant{Permission: perm, Project: p.Key, ProjectID: p.ID, Via: via[s]})
				}
			}
		}
		if v.Tokens, err = tx.Tokens(u.ID); err != nil {
			return err
		}
		v.Audit, err = auditOf(tx, u.Login, 20)
		return err
	})
	return v, err
}

// auditScanLimit bounds the entries a user page reads for that user's
// history; older history is on the audit page.
const auditScanLimit = 100000

// auditOf returns up to n of name's newest audit entries.
func auditOf(tx store.Tx, name string, n int) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	scanned := 0
	for e, err := range tx.Audit() {
		if err != nil {
			return nil, err
		}
		if scanned++; scanned > auditScanLimit || len(out) == n {
			break
		}
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out, nil
}

func userPage(r *request) error {
	v, err := r.loadUser(r.Param("id"))
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "user", v.User.Login, "users", v)
}

// target reads the user of the URL, for a form that changes it.
func (r *request) target() (store.User, error) {
	var u store.User
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		var err error
		u, err = tx.User(r.Param("id"))
		return notFound(err)
	})
	return u, err
}

// confirmDeactivate asks before deactivating: a page, so it works without
// JavaScript and from the keyboard.
func confirmDeactivate(r *request) error {
	u, err := r.target()
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "confirm", "Deactivate "+u.Login, "users", struct {
		Question, Detail, Action, Button, Cancel string
	}{"Deactivate " + u.Login + "?", "The user can no longer sign in; their tokens are revoked and their group memberships and permissions are removed. They can be reactivated later.",
		Prefix + "/users/" + u.ID + "/deactivate", "Deactivate", Prefix + "/users/" + u.ID})
}

// expiry reads an optional YYYY-MM-DD expiry date: the token expires at the
// end of that day (UTC).
func expiry(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil, store.Errorf(store.EInvalid, "The expiry date must be a date (YYYY-MM-DD).")
	}
	return &d, nil
}

// newToken generates a user token for login and returns its secret.
func (r *request) newToken(login string) (*tokenSecret, error) {
	exp, err := expiry(r.form("expires"))
	if err != nil {
		return nil, err
	}
	t, err := store.GenerateToken(r.ctx(), r.con.store, r.caller, store.TokenRequest{Login: login, Name: r.form("name"), Type: store.TokenUser, Expires: exp})
	if err != nil {
		return nil, err
	}
	return &tokenSecret{t.Name, t.Secret}, nil
}

func createToken(r *request) error {
	u, err := r.target()
	if err != nil {
		return r.fail(err)
	}
	secret, err := r.newToken(u.Login)
	if err != nil {
		return r.fail(err)
	}
	v, err := r.loadUser(u.ID)
	if err != nil {
		return r.fail(err)
	}
	v.Secret = secret
	return r.render(http.StatusOK, "user", u.Login, "users", v)
}

// accountPage is a user's own page: details, groups, tokens, password.
func accountPage(r *request) error {
	v, err := r.loadUser(r.caller.ID)
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "account", "My account", "account", v)
}

func createOwnToken(r *request) error {
	secret, err := r.newToken("")
	if err != nil {
		return r.fail(err)
	}
	v, err := r.loadUser(r.caller.ID)
	if err != nil {
		return r.fail(err)
	}
	v.Secret = secret
	return r.render(http.StatusOK, "account", "My account", "account", v)
}

func revokeOwnToken(r *request) error {
	if _, err := store.RevokeToken(r.ctx(), r.con.store, r.caller, "", r.FormValue("name")); err != nil {
		return r.fail(err)
	}
	return r.done("/account", "revoked")
}

// onUser is a form that changes the user of the URL with change, then
// shows the user's page with notice.
func onUser(notice string, change func(r *request, u store.User) error) handler {
	return func(r *request) error {
		u, err := r.target()
		if err == nil {
			err = change(r, u)
		}
		if err != nil {
			return r.fail(err)
		}
		return r.done("/users/"+u.ID, notice)
	}
}

// The forms of a user's page.
var (
	editUser = onUser("saved", func(r *request, u store.User) error {
		name, email := r.form("name"), r.form("email")
		_, err := store.UpdateUser(r.ctx(), r.con.store, r.caller, store.ByID(u.ID), store.UserUpdate{Name: &name, Email: &email})
		return err
	})
	resetPassword = onUser("password", func(r *request, u store.User) error {
		return store.SetPassword(r.ctx(), r.con.store, r.caller, r.con.auth.Policy, u.Login, nil, r.FormValue("password"))
	})
	deactivateUser = onUser("deactivated", func(r *request, u store.User) error {
		_, err := store.DeactivateUser(r.ctx(), r.con.store, r.caller, store.ByID(u.ID), false)
		return err
	})
	// reactivateUser reactivates a local user with a new password, as
	// SonarQube's users/create does for a deactivated login.
	reactivateUser = onUser("reactivated", func(r *request, u store.User) error {
		password := r.FormValue("password")
		_, err := store.CreateUser(r.ctx(), r.con.store, r.caller, r.con.auth.Policy, store.NewUserRequest{
			Login: u.Login, Name: u.Name, Email: u.Email, Local: true, Password: &password})
		return err
	})
	unlockUser = onUser("unlocked", func(r *request, u store.User) error {
		return r.con.auth.Unlock(r.ctx(), r.caller, u.Login)
	})
	revokeToken = onUser("revoked", func(r *request, u store.User) error {
		_, err := store.RevokeToken(r.ctx(), r.con.store, r.caller, u.Login, r.FormValue("name"))
		return err
	})
)
