package webapi

import (
	"crypto/md5"
	"encoding/hex"
	"iter"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

const dateLayout = "2006-01-02T15:04:05-0700"

func formatDate(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Local().Format(dateLayout)
}

func (cl *call) view(fn func(tx store.Tx) error) error {
	return cl.api.store.View(cl.c.Request().Context(), fn)
}

func (cl *call) json(v any) error { return cl.c.JSON(http.StatusOK, v) }

func (cl *call) noContent() error { return cl.c.NoContent(http.StatusNoContent) }

// userByLogin finds a user by its exact login (SonarQube matches logins
// case-sensitively; the store keeps them unique case-insensitively).
func userByLogin(tx store.Tx, login string) (store.User, bool) {
	u, err := tx.UserByLogin(login)
	return u, err == nil && u.Login == login
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// userJSON is the user object of create, update and deactivate.
type userJSON struct {
	Login            string   `json:"login"`
	Name             string   `json:"name"`
	Email            string   `json:"email,omitempty"`
	Active           bool     `json:"active"`
	Local            bool     `json:"local"`
	ExternalIdentity string   `json:"externalIdentity,omitempty"`
	ExternalProvider string   `json:"externalProvider,omitempty"`
	Groups           []string `json:"groups"`
	SCMAccounts      []string `json:"scmAccounts"`
	settingsJSON
}

// settingsJSON is scimgate's per-user settings, shown when set.
type settingsJSON struct {
	Locale                 string   `json:"locale,omitempty"`
	PasswordExpirationDays *int     `json:"passwordExpirationDays,omitempty"`
	SessionTimeout         int      `json:"sessionTimeout,omitempty"` // seconds
	LockoutThreshold       *int     `json:"lockoutThreshold,omitempty"`
	TrustedHosts           []string `json:"trustedHosts,omitempty"`
}

func newSettingsJSON(u store.User) settingsJSON {
	return settingsJSON{Locale: u.Locale, PasswordExpirationDays: u.Policy.PasswordExpirationDays,
		SessionTimeout: int(u.Policy.SessionTimeout.Seconds()), LockoutThreshold: u.Policy.LockoutThreshold, TrustedHosts: u.Policy.TrustedHosts}
}

func newUserJSON(u store.User) userJSON {
	return userJSON{Login: u.Login, Name: u.Name, Email: u.Email, Active: u.Active, Local: u.Local,
		ExternalIdentity: u.ExternalLogin, ExternalProvider: u.ExternalProvider,
		Groups: []string{}, SCMAccounts: orEmpty(u.SCMAccounts), settingsJSON: newSettingsJSON(u)}
}

var usersController = controller{Path: "api/users", Since: "3.6", Desc: "Manage users.", Action: []action{
	{Key: "create", Post: true, Since: "3.7", Access: userAdmin, Handle: createUser,
		Desc: "Create a user. If a deactivated user account exists with the given login, it will be reactivated. Requires Administer System permission, or Administer Users within the caller's own permissions. The password must meet the instance's password policy.",
		Params: append([]param{
			{Key: "email", Desc: "User email", MaxLen: 100},
			{Key: "local", Desc: "Specify if the user should be authenticated from SonarQube server or from an external authentication system. Password should not be set when local is set to false.", Values: boolValues, Default: "true"},
			{Key: "login", Desc: "User login", Required: true, MinLen: 2, MaxLen: store.MaxLoginLength},
			{Key: "name", Desc: "User name", Required: true, MaxLen: 200},
			{Key: "password", Desc: "User password. Only mandatory when creating local user, otherwise it should not be set", Untrimmed: true},
			{Key: "scmAccount", Desc: "List of SCM accounts. To set several values, the parameter must be called once for each value.", Multi: true},
		}, policyParams...)},
	{Key: "update", Post: true, Since: "3.7", Access: userAdmin, Handle: updateUser,
		Desc: "Update a user. Name and email of users managed by an identity provider cannot be changed. Requires Administer System permission.",
		Params: append([]param{
			{Key: "login", Desc: "User login", Required: true, MaxLen: store.MaxLoginLength},
			{Key: "name", Desc: "User name", MaxLen: 200},
			{Key: "email", Desc: "User email", MaxLen: 100},
			{Key: "scmAccount", Desc: "SCM accounts.", Multi: true},
		}, policyParams...)},
	{Key: "update_login", Post: true, Since: "7.6", Access: userAdmin, Handle: updateLogin,
		Desc: "Update a user login. Refused for users managed by an identity provider. Requires Administer System permission.",
		Params: []param{
			{Key: "login", Desc: "The current login (case-sensitive)", Required: true},
			{Key: "newLogin", Desc: "The new login. It must not already exist.", Required: true, MinLen: 2, MaxLen: store.MaxLoginLength},
		}},
	{Key: "deactivate", Post: true, Since: "3.7", Access: userAdmin, Handle: deactivateUser,
		Desc: "Deactivate a user: its tokens, permissions and memberships of local groups are removed. Refused for users managed by an identity provider. Requires Administer System permission.",
		Params: []param{
			{Key: "login", Desc: "User login", Required: true},
			{Key: "anonymize", Desc: "Anonymize user in addition to deactivating it", Values: boolValues, Default: "false", Since: "9.7"},
		}},
	{Key: "search", Since: "3.6", Access: loggedIn, Handle: searchUsers,
		Desc: "Get a list of users. By default, only active users are returned. Email, groups, tokens count, external identity and managed are visible to administrators and to the user itself.",
		Params: append(pagingParams(50, 500),
			param{Key: "q", Desc: "Filter on login, name and email. This parameter can either be case sensitive and perform an exact match, or case insensitive and perform a partial match (contains), depending on the scenario", MinLen: 2},
			param{Key: "deactivated", Desc: "Return deactivated users instead of active users", Values: boolValues, Default: "false"},
			param{Key: "managed", Desc: "Return managed (SCIM-provisioned) or non-managed users", Values: boolValues},
			param{Key: "externalIdentity", Desc: "Find a user by its external identity (ie. its login in the Identity Provider). Requires Administer System permission."},
			param{Key: "lastConnectedAfter", Desc: "Users whose last connection is at or after this date-time (2020-01-01T00:00:00+0100). Requires Administer System permission.", Since: "10.1"},
			param{Key: "lastConnectedBefore", Desc: "Users who never connected or whose last connection is at or before this date-time. Requires Administer System permission.", Since: "10.1"},
			param{Key: "slLastConnectedAfter", Desc: "Users whose last SonarLint connection is at or after this date-time (scimgate records none: matches nobody). Requires Administer System permission.", Since: "10.1"},
			param{Key: "slLastConnectedBefore", Desc: "Users who never connected with SonarLint or did at or before this date-time (everybody, in scimgate). Requires Administer System permission.", Since: "10.1"},
		)},
	{Key: "update_identity_provider", Post: true, Since: "8.7", Access: admin, Handle: updateIdentityProvider,
		Desc: "Update the identity provider of a user. Refused for users managed by an identity provider through SCIM. Requires Administer System permission.",
		Params: []param{
			{Key: "login", Desc: "User login", Required: true},
			{Key: "newExternalProvider", Desc: "New identity provider: github, gitlab, saml, sonarqube, LDAP or LDAP_{serverKey}", Required: true},
			{Key: "newExternalIdentity", Desc: "New external identity, usually the login in the identity provider. Defaults to the current one."},
		}},
	{Key: "anonymize", Post: true, Since: "9.7", Access: admin, Handle: anonymizeUser,
		Desc:   "Anonymize a deactivated user: login, name and external identity become a random sq-removed-XXXXXX. Requires Administer System permission.",
		Params: []param{{Key: "login", Desc: "User login", Required: true}}},
	{Key: "current", Since: "5.2", Internal: true, Access: anyone, Handle: currentUser,
		Desc: "Get the details of the current authenticated user."},
	{Key: "change_password", Post: true, Since: "5.2", Access: anyone, Handle: changePassword,
		Desc: "Update a user's password. Authenticated users can change their own password, provided that the account is not linked to an external authentication system. Administer System permission is required to change another user's password.",
		Params: []param{
			{Key: "login", Desc: "User login"},
			{Key: "password", Desc: "New password", Untrimmed: true},
			{Key: "previousPassword", Desc: "Previous password. Required when changing one's own password.", Untrimmed: true},
		}},
	{Key: "groups", Since: "5.2", Access: userAdmin, Handle: userGroups,
		Desc: "Lists the groups a user belongs to. Requires Administer System permission.",
		Params: []param{
			{Key: "login", Desc: "A user login", Required: true},
			{Key: "selected", Desc: "Depending on the value, show only selected items (selected=selected), deselected items (selected=deselected), or all items with their selection status (selected=all).", Values: []string{"all", "deselected", "selected"}, Default: "selected"},
			{Key: "q", Desc: "Limit search to group names that contain the supplied string."},
			{Key: "p", Desc: "1-based page number", Default: "1", Int: true},
			{Key: "ps", Desc: "Page size. Must be greater than 0 and less or equal than 500", Default: "25", Int: true},
		}},
}}

var boolValues = []string{"true", "false", "yes", "no"}

func createUser(cl *call) error {
	settings, err := cl.settings()
	if err != nil {
		return err
	}
	req := store.NewUserRequest{Login: cl.str("login"), Name: cl.str("name"), Email: cl.str("email"), Local: cl.bool("local"),
		Password: cl.optional("password"), SCMAccounts: cl.multi("scmAccount"), Settings: settings}
	out, err := store.CreateUser(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.api.auth.Policy, req)
	if err != nil {
		return err
	}
	type createdUser struct {
		Login       string   `json:"login"`
		Name        string   `json:"name"`
		Email       string   `json:"email,omitempty"`
		SCMAccounts []string `json:"scmAccounts"`
		Active      bool     `json:"active"`
		Local       bool     `json:"local"`
		settingsJSON
	}
	return cl.json(map[string]any{"user": createdUser{out.Login, out.Name, out.Email, orEmpty(out.SCMAccounts), out.Active, out.Local, newSettingsJSON(out)}})
}

// optional is a parameter's value when the request carries it.
func (cl *call) optional(key string) *string {
	if !cl.has(key) {
		return nil
	}
	v := cl.str(key)
	return &v
}

func updateUser(cl *call) error {
	settings, err := cl.settings()
	if err != nil {
		return err
	}
	up := store.UserUpdate{Name: cl.optional("name"), Email: cl.optional("email"), SCMAccounts: cl.multi("scmAccount"), Settings: settings}
	out, err := store.UpdateUser(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("login")), up)
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"user": newUserJSON(out)})
}

func updateLogin(cl *call) error {
	return cl.changed(store.RenameUser(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("login")), cl.str("newLogin")))
}

func deactivateUser(cl *call) error {
	out, err := store.DeactivateUser(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByName(cl.str("login")), cl.bool("anonymize"))
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"user": newUserJSON(out)})
}

// searchUser is one users/search entry; pointers and omitempty hide what
// the caller may not see.
type searchUser struct {
	Login              string   `json:"login"`
	Name               string   `json:"name"`
	Active             *bool    `json:"active,omitempty"`
	Email              string   `json:"email,omitempty"`
	SCMAccounts        []string `json:"scmAccounts,omitempty"`
	Groups             []string `json:"groups,omitempty"`
	TokensCount        *int     `json:"tokensCount,omitempty"`
	Local              *bool    `json:"local,omitempty"`
	ExternalIdentity   string   `json:"externalIdentity,omitempty"`
	ExternalProvider   string   `json:"externalProvider,omitempty"`
	Avatar             string   `json:"avatar,omitempty"`
	LastConnectionDate string   `json:"lastConnectionDate,omitempty"`
	Managed            *bool    `json:"managed,omitempty"`
	Locked             bool     `json:"locked,omitempty"` // password logins refused by the lockout
	settingsJSON
}

func avatar(email string) string {
	if email == "" {
		return ""
	}
	sum := md5.Sum([]byte(strings.ToLower(email)))
	return hex.EncodeToString(sum[:])
}

// groupNamer names the groups of users, looking each group up once: the
// users of a page share a few groups, the default one above all.
type groupNamer struct {
	tx     store.Tx
	groups func(store.User) iter.Seq[string]
	names  map[string]string
}

func newGroupNamer(tx store.Tx) *groupNamer {
	return &groupNamer{tx: tx, groups: store.GroupsOfUsers(tx), names: map[string]string{}}
}

// of returns the names of u's groups, sorted.
func (n *groupNamer) of(u store.User) ([]string, error) {
	var out []string
	for gid := range n.groups(u) {
		name, ok := n.names[gid]
		if !ok {
			g, err := n.tx.Group(gid)
			if err != nil {
				return nil, err
			}
			name, n.names[gid] = g.Name, g.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

func searchUsers(cl *call) error {
	for _, p := range []string{"externalIdentity", "lastConnectedAfter", "lastConnectedBefore", "slLastConnectedAfter", "slLastConnectedBefore"} {
		if cl.has(p) && !cl.admin {
			return store.Errorf(store.EForbidden, "parameter %s requires Administer System permission.", p)
		}
	}
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	q := strings.ToLower(cl.str("q"))
	deactivated := cl.bool("deactivated")
	managedFilter, filterManaged := cl.bool("managed"), cl.has("managed")
	extID, filterExt := cl.str("externalIdentity"), cl.has("externalIdentity")
	dates := map[string]time.Time{}
	for _, k := range []string{"lastConnectedAfter", "lastConnectedBefore", "slLastConnectedAfter", "slLastConnectedBefore"} {
		if v := cl.str(k); v != "" {
			d, err := time.Parse("2006-01-02T15:04:05-0700", v)
			if err != nil {
				return invalid("'%s' cannot be parsed as either a date or date+time", v)
			}
			dates[k] = d
		}
	}
	connected := func(u store.User) bool {
		if d, ok := dates["lastConnectedAfter"]; ok && (u.LastConnection == nil || u.LastConnection.Before(d)) {
			return false
		}
		if d, ok := dates["lastConnectedBefore"]; ok && u.LastConnection != nil && u.LastConnection.After(d) {
			return false
		}
		_, slAfter := dates["slLastConnectedAfter"]
		return !slAfter // nobody connected with SonarLint
	}
	w := newWindow(p, ps)
	users := []searchUser{}
	err = cl.view(func(tx store.Tx) error {
		var keep func(store.User) (bool, error) // none: the page is read, the rest counted
		if q != "" || filterManaged || filterExt || len(dates) > 0 {
			keep = func(u store.User) (bool, error) {
				return (!filterManaged || u.Managed == managedFilter) &&
					(!filterExt || u.ExternalLogin == extID) &&
					u.Matches(q, cl.isSelfOrAdmin(u)) &&
					connected(u), nil
			}
		}
		page, err := w.list(store.UsersContaining(tx, q).Active(!deactivated), keep)
		if err != nil {
			return err
		}
		var shown []store.User // the users whose groups, tokens and lock the caller sees
		for _, u := range page {
			if cl.isSelfOrAdmin(u) {
				shown = append(shown, u)
			}
		}
		tx.ReadAheadPage(shown)
		groups := newGroupNamer(tx)
		for _, u := range page {
			su, err := cl.searchUser(tx, groups, u)
			if err != nil {
				return err
			}
			users = append(users, su)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "users": users})
}

func (cl *call) searchUser(tx store.Tx, groups *groupNamer, u store.User) (searchUser, error) {
	su := searchUser{Login: u.Login, Name: u.Name}
	active, local := u.Active, u.Local
	su.Active, su.Local, su.ExternalProvider = &active, &local, u.ExternalProvider
	su.Avatar, su.SCMAccounts = avatar(u.Email), u.SCMAccounts
	if !cl.isSelfOrAdmin(u) {
		return su, nil
	}
	names, err := groups.of(u)
	if err != nil {
		return su, err
	}
	tokens, err := tx.Tokens(u.ID)
	if err != nil {
		return su, err
	}
	n, managed := len(tokens), u.Managed
	su.Email, su.Groups, su.TokensCount, su.ExternalIdentity = u.Email, names, &n, u.ExternalLogin
	su.LastConnectionDate, su.Managed = formatDate(u.LastConnection), &managed
	su.settingsJSON = newSettingsJSON(u)
	su.Locked, err = cl.api.auth.Locked(tx, u)
	return su, err
}

func currentUser(cl *call) error {
	if cl.caller == nil {
		return cl.json(map[string]any{"isLoggedIn": false, "permissions": map[string]any{"global": []string{}}})
	}
	u := *cl.caller
	var groups, perms []string
	err := cl.view(func(tx store.Tx) error {
		var err error
		if groups, err = newGroupNamer(tx).of(u); err != nil {
			return err
		}
		perms, err = store.UserPermissions(tx, u.ID)
		return err
	})
	if err != nil {
		return err
	}
	type current struct {
		IsLoggedIn       bool                `json:"isLoggedIn"`
		Login            string              `json:"login"`
		Name             string              `json:"name"`
		Email            string              `json:"email,omitempty"`
		Local            bool                `json:"local"`
		ExternalIdentity string              `json:"externalIdentity,omitempty"`
		ExternalProvider string              `json:"externalProvider,omitempty"`
		SCMAccounts      []string            `json:"scmAccounts"`
		Groups           []string            `json:"groups"`
		Permissions      map[string][]string `json:"permissions"`
		Avatar           string              `json:"avatar,omitempty"`
		Homepage         map[string]string   `json:"homepage"`
		UsingSonarLint   bool                `json:"usingSonarLintConnectedMode"`
		DismissedNotices map[string]bool     `json:"dismissedNotices"`
		ID               string              `json:"id"`
		Managed          bool                `json:"managed"`
	}
	return cl.json(current{IsLoggedIn: true, Login: u.Login, Name: u.Name, Email: u.Email, Local: u.Local,
		ExternalIdentity: u.ExternalLogin, ExternalProvider: u.ExternalProvider, SCMAccounts: orEmpty(u.SCMAccounts),
		Groups: orEmpty(groups), Permissions: map[string][]string{"global": orEmpty(perms)}, Avatar: avatar(u.Email),
		Homepage: map[string]string{"type": "PROJECTS"}, DismissedNotices: map[string]bool{}, ID: u.ID, Managed: u.Managed})
}

// changePassword answers in its own format: 204, or 400 {"result": ...}.
func changePassword(cl *call) error {
	result := func(msg string) error {
		cl.c.Set(refusalKey, msg)
		return cl.c.JSON(http.StatusBadRequest, map[string]string{"result": msg})
	}
	if cl.caller == nil {
		return writeErrors(cl.c, http.StatusUnauthorized, "Authentication is required")
	}
	for _, k := range []string{"login", "password"} {
		if !cl.has(k) {
			return result("The '" + k + "' parameter is missing")
		}
	}
	login := cl.str("login")
	own := login == cl.caller.Login
	if own && !cl.has("previousPassword") {
		return result("The 'previousPassword' parameter is missing")
	}
	if !own && cl.expired {
		return writeErrors(cl.c, http.StatusUnauthorized, store.ErrorMessage(auth.ErrPasswordExpired))
	}
	err := store.SetPassword(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.api.auth.Policy, login, cl.optional("previousPassword"), cl.str("password"))
	if store.ErrorCode(err) == store.EInvalid {
		return result(store.ErrorMessage(err))
	}
	return cl.changed(err)
}

func userGroups(cl *call) error {
	login := cl.str("login")
	p, ps := cl.int("p"), cl.int("ps")
	if ps > 500 {
		return invalid("The 'ps' parameter must be less than 500")
	}
	if p < 1 {
		return invalid("Page index must be strictly positive. Got %d", p)
	}
	selected, q := cl.str("selected"), strings.ToLower(cl.str("q"))
	type groupJSON struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description,omitempty"`
		Selected    bool   `json:"selected"`
		Default     bool   `json:"default"`
	}
	groups := []groupJSON{}
	w := newWindow(p, ps)
	err := cl.view(func(tx store.Tx) error {
		u, ok := userByLogin(tx, login)
		if !ok || !u.Active {
			return notFound("Unknown user: %s", login)
		}
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			member, err := store.IsMember(tx, g.ID, u.ID)
			if err != nil {
				return err
			}
			if selected == "selected" && !member || selected == "deselected" && member ||
				q != "" && !strings.Contains(strings.ToLower(g.Name), q) {
				continue
			}
			if w.take() {
				groups = append(groups, groupJSON{g.ID, g.Name, g.Description, member, g.Name == store.DefaultGroup})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "groups": groups})
}

func updateIdentityProvider(cl *call) error {
	return cl.changed(store.SetIdentityProvider(cl.c.Request().Context(), cl.api.store, cl.str("login"), cl.str("newExternalProvider"), cl.str("newExternalIdentity")))
}

func anonymizeUser(cl *call) error {
	return cl.changed(store.AnonymizeUser(cl.c.Request().Context(), cl.api.store, cl.str("login")))
}
