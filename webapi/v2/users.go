package v2

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
)

const usersPath = "/api/v2/users-management/users"

var userRoutes = []route{
	{Method: http.MethodGet, Path: usersPath, Summary: "Search users, sorted by login. Anonymous callers see id, login and name; logged-in ones also e-mail, active, local, external provider and avatar; administrators (and the user itself) every field.",
		Access: anyone, Status: http.StatusOK, Result: `{"users":[user],"page":page}`, Handle: searchUsers,
		Params: append([]param{
			{Name: "q", Desc: "Part of the login, name or (where the caller may see it) e-mail, case-insensitive"},
			{Name: "active", Desc: "Active (default) or deactivated users", Type: "boolean", Default: "true"},
			{Name: "managed", Desc: "Users provisioned by the identity provider (true) or not (false)", Type: "boolean"},
			{Name: "externalIdentity", Desc: "Exact external login", AdminOnly: true},
			{Name: "sonarQubeLastConnectionDateFrom", Desc: "Last connection at or after this date-time (2020-01-01T00:00:00+0100)", AdminOnly: true},
			{Name: "sonarQubeLastConnectionDateTo", Desc: "Last connection at or before this date-time, or never", AdminOnly: true},
			{Name: "sonarLintLastConnectionDateFrom", Desc: "SonarLint connection at or after (none is recorded: matches nobody)", AdminOnly: true},
			{Name: "sonarLintLastConnectionDateTo", Desc: "SonarLint connection at or before, or never (everybody)", AdminOnly: true},
			{Name: "groupId", Desc: "Members of this group", AdminOnly: true},
			{Name: "groupId!", Desc: "Users not members of this group", AdminOnly: true},
		}, pageParams...)},
	{Method: http.MethodGet, Path: usersPath + "/:id", Summary: "A user by id (the id SCIM shows)", Access: anyone, Status: http.StatusOK, Result: "user", Handle: getUser},
	{Method: http.MethodPost, Path: usersPath, Summary: "Create a local user, or reactivate the deactivated one of that login", Access: admin,
		Body: newUserBody{}, Status: http.StatusOK, Result: "user", Handle: createUser},
	{Method: http.MethodPatch, Path: usersPath + "/:id", Summary: "Change a user (merge patch); provisioned users are the identity provider's", Access: admin,
		Body: userPatchBody{}, MergePatch: true, Status: http.StatusOK, Result: "user", Handle: patchUser},
	{Method: http.MethodDelete, Path: usersPath + "/:id", Summary: "Deactivate a user, and anonymize it with anonymize=true", Access: admin,
		Params: []param{{Name: "anonymize", Desc: "Anonymize the user too", Type: "boolean", Default: "false"}}, Status: http.StatusNoContent, Handle: deleteUser},
}

// userJSON is a user at the caller's visibility level: nil fields are left
// out.
type userJSON struct {
	ID                          string    `json:"id"`
	Login                       string    `json:"login"`
	Name                        string    `json:"name"`
	Email                       *string   `json:"email,omitempty"`
	Active                      *bool     `json:"active,omitempty"`
	Local                       *bool     `json:"local,omitempty"`
	Managed                     *bool     `json:"managed,omitempty"`
	ExternalLogin               *string   `json:"externalLogin,omitempty"`
	ExternalProvider            *string   `json:"externalProvider,omitempty"`
	ExternalID                  *string   `json:"externalId,omitempty"`
	Avatar                      *string   `json:"avatar,omitempty"`
	SonarQubeLastConnectionDate *string   `json:"sonarQubeLastConnectionDate,omitempty"`
	SonarLintLastConnectionDate *string   `json:"sonarLintLastConnectionDate,omitempty"`
	SCMAccounts                 *[]string `json:"scmAccounts,omitempty"`
}

func ptr[T any](v T) *T { return &v }

// nonEmpty is s, or nil (left out) when s is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// avatar is the MD5 of the e-mail, as SonarQube's gravatar hash.
func avatar(email string) *string {
	if email == "" {
		return nil
	}
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	return ptr(hex.EncodeToString(sum[:]))
}

// render renders u for the caller: anonymous, another user, or an
// administrator or the user itself.
func (cl *call) render(u store.User) userJSON {
	out := userJSON{ID: u.ID, Login: u.Login, Name: u.Name}
	if cl.caller == nil {
		return out
	}
	out.Email, out.Active, out.Local, out.ExternalProvider, out.Avatar = nonEmpty(u.Email), ptr(u.Active), ptr(u.Local), ptr(u.ExternalProvider), avatar(u.Email)
	if !cl.isAdmin() && cl.caller.ID != u.ID {
		return out
	}
	out.Managed, out.ExternalLogin, out.ExternalID = ptr(u.Managed), ptr(u.ExternalLogin), nonEmpty(u.ExternalID)
	if u.LastConnection != nil {
		out.SonarQubeLastConnectionDate = ptr(u.LastConnection.Format("2006-01-02T15:04:05-0700"))
	}
	scm := u.SCMAccounts
	if scm == nil {
		scm = []string{}
	}
	out.SCMAccounts = &scm
	return out
}

func searchUsers(cl *call) error {
	dates := map[string]time.Time{}
	for _, k := range []string{"sonarQubeLastConnectionDateFrom", "sonarQubeLastConnectionDateTo", "sonarLintLastConnectionDateFrom", "sonarLintLastConnectionDateTo"} {
		if v := cl.query(k); v != "" {
			d, err := time.Parse("2006-01-02T15:04:05-0700", v)
			if err != nil {
				return &httpError{http.StatusBadRequest, "'" + v + "' cannot be parsed as either a date or date+time"}
			}
			dates[k] = d
		}
	}
	q := strings.ToLower(cl.query("q"))
	active := cl.query("active") != "false"
	pg := cl.pager()
	users := []userJSON{}
	err := cl.api.store.View(cl.c.Request().Context(), func(tx store.Tx) error {
		group := func(param string) (string, error) {
			gid := cl.query(param)
			if _, err := tx.Group(gid); err != nil {
				return "", store.Errorf(store.ENotFound, "Group '%s' not found", gid)
			}
			return gid, nil
		}
		candidates := store.UsersContaining(tx, q)
		if cl.has("groupId") { // members only: read the group, not every user
			gid, err := group("groupId")
			if err != nil {
				return err
			}
			candidates = store.GroupMembers(tx, gid)
		}
		var excluded func(store.User) (bool, error) // groupId!: users not members of it
		if cl.has("groupId!") {
			gid, err := group("groupId!")
			if err != nil {
				return err
			}
			excluded = store.Membership(tx, gid)
		}
		var keep func(store.User) (bool, error) // none: the page is read, the rest counted
		if q != "" || cl.has("managed") || cl.has("externalIdentity") || len(dates) > 0 || excluded != nil {
			keep = func(u store.User) (bool, error) {
				if cl.has("managed") && u.Managed != (cl.query("managed") == "true") ||
					cl.has("externalIdentity") && u.ExternalLogin != cl.query("externalIdentity") ||
					!u.Matches(q, cl.caller != nil) ||
					!connected(u, dates) {
					return false, nil
				}
				if excluded == nil {
					return true, nil
				}
				in, err := excluded(u)
				return !in, err
			}
		}
		page, total, err := candidates.Active(active).Page(keep, pg.offset, pg.size)
		pg.total = total
		for _, u := range page {
			users = append(users, cl.render(u))
		}
		return err
	})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, map[string]any{"users": users, "page": pg.page()})
}

// connected applies the last-connection filters ("To" includes users who
// never connected; no SonarLint connection is ever recorded).
func connected(u store.User, dates map[string]time.Time) bool {
	if d, ok := dates["sonarQubeLastConnectionDateFrom"]; ok && (u.LastConnection == nil || u.LastConnection.Before(d)) {
		return false
	}
	if d, ok := dates["sonarQubeLastConnectionDateTo"]; ok && u.LastConnection != nil && u.LastConnection.After(d) {
		return false
	}
	_, slFrom := dates["sonarLintLastConnectionDateFrom"]
	return !slFrom
}

func getUser(cl *call) error {
	var u store.User
	err := cl.api.store.View(cl.c.Request().Context(), func(tx store.Tx) error {
		var err error
		if u, err = tx.User(cl.c.Param("id")); err != nil {
			return store.Errorf(store.ENotFound, "User '%s' not found", cl.c.Param("id"))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, cl.render(u))
}

// newUserBody is POST /users.
type newUserBody struct {
	Login       string   `json:"login"`
	Name        string   `json:"name"`
	Email       string   `json:"email,omitempty"`
	Password    *string  `json:"password,omitempty"`
	Local       *bool    `json:"local,omitempty"`
	SCMAccounts []string `json:"scmAccounts,omitempty"`
}

func createUser(cl *call) error {
	var b newUserBody
	if err := cl.decode(&b); err != nil {
		return err
	}
	switch {
	case b.Login == "":
		return &httpError{http.StatusBadRequest, "Value for field 'login' is missing"}
	case b.Name == "":
		return &httpError{http.StatusBadRequest, "Value for field 'name' is missing"}
	case len([]rune(b.Login)) > 100:
		return &httpError{http.StatusBadRequest, "Value for field 'login' must be at most 100 characters long"}
	case len([]rune(b.Name)) > 200:
		return &httpError{http.StatusBadRequest, "Value for field 'name' must be at most 200 characters long"}
	case len([]rune(b.Email)) > 100:
		return &httpError{http.StatusBadRequest, "Value for field 'email' must be at most 100 characters long"}
	}
	local := b.Local == nil || *b.Local
	u, err := store.CreateUser(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.api.auth.Policy,
		store.NewUserRequest{Login: b.Login, Name: b.Name, Email: b.Email, Local: local, Password: b.Password, SCMAccounts: b.SCMAccounts})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, cl.render(u))
}

// userPatchBody is PATCH /users/{id}, for the document; the patch itself is
// read field by field (absent: unchanged).
type userPatchBody struct {
	Login            *string   `json:"login,omitempty"`
	Name             *string   `json:"name,omitempty"`
	Email            *string   `json:"email,omitempty"`
	SCMAccounts      *[]string `json:"scmAccounts,omitempty"`
	ExternalProvider *string   `json:"externalProvider,omitempty"`
	ExternalLogin    *string   `json:"externalLogin,omitempty"`
	ExternalID       *string   `json:"externalId,omitempty"`
}

func patchUser(cl *call) error {
	var b userPatchBody
	if err := cl.decode(&b); err != nil {
		return err
	}
	u, err := store.PatchUser(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByID(cl.c.Param("id")), store.UserPatch{
		Login: b.Login, Name: b.Name, Email: b.Email, SCMAccounts: b.SCMAccounts,
		ExternalProvider: b.ExternalProvider, ExternalLogin: b.ExternalLogin, ExternalID: b.ExternalID})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, cl.render(u))
}

func deleteUser(cl *call) error {
	ctx := cl.c.Request().Context()
	if _, err := store.DeactivateUser(ctx, cl.api.store, cl.callerOf(), store.ByID(cl.c.Param("id")), cl.query("anonymize") == "true"); err != nil {
		return err
	}
	return cl.c.NoContent(http.StatusNoContent)
}
