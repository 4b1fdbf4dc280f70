package webapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

type tcase struct {
	name      string
	method    string
	path      string
	form      string              // the form; with ctype, the body (also JSON)
	ctype     string              // the body's content type; "" a form
	formf     func(e *env) string // the form, when it depends on the setup
	auth      string              // "admin", "alice", "none", or a raw header
	status    int
	body      string // exact body, or "golden:<name>"
	unchanged bool   // the store must be as before
	setup     func(e *env)
	check     func(t *testing.T, e *env)
}

func (e *env) authFor(who string) string {
	switch who {
	case "", "admin":
		return adminAuth
	case "alice":
		return "Bearer " + e.aliceToken
	case "none":
		return ""
	case "ua":
		return "Bearer " + uaToken
	}
	return who
}

func run(t *testing.T, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own store and server
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			before := e.snapshot()
			method := tc.method
			if method == "" {
				method = "POST"
			}
			form := tc.form
			if tc.formf != nil {
				form = tc.formf(e)
			}
			path, form := e.expand(tc.path), e.expand(form)
			var status int
			var body string
			if tc.ctype != "" {
				status, body = e.send(method, path, tc.ctype, form, e.authFor(tc.auth))
			} else {
				status, body = e.do(method, path, form, e.authFor(tc.auth))
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d; body %s", status, tc.status, body)
			}
			switch {
			case strings.HasPrefix(tc.body, "golden:"):
				golden(t, strings.TrimPrefix(tc.body, "golden:"), body)
			case body != tc.body && !(tc.body == "" && status == 204):
				t.Errorf("body\n got: %s\nwant: %s", body, tc.body)
			}
			if tc.unchanged {
				if after := e.snapshot(); after != before {
					t.Errorf("store changed by a refused request:\nbefore %s\nafter  %s", before, after)
				}
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// authenticate checks credentials as a request would present them: a token
// (basic false) or a login and password.
func (e *env) authenticate(login, password string, withPassword bool) (store.User, error) {
	header := "Bearer " + login
	if withPassword {
		header = basic(login, password)
	}
	c, err := e.auth.Authenticate(context.Background(), auth.Credentials{Header: header})
	return c.User, err
}

// view reads the store; any error fails the test.
func (e *env) view(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.store.View(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

// userIn looks a user up by its exact login; the test fails when there is
// none, so a typo cannot make a negative check pass.
func userIn(tx store.Tx, login string) (store.User, error) {
	u, err := tx.UserByLogin(login)
	if err == nil && u.Login != login {
		err = store.ErrNotFound
	}
	if err != nil {
		return u, fmt.Errorf("user %q: %w", login, err)
	}
	return u, nil
}

// user reads a user by login straight from the store.
func (e *env) user(login string) store.User {
	e.t.Helper()
	var u store.User
	e.view(func(tx store.Tx) error {
		var err error
		u, err = userIn(tx, login)
		return err
	})
	return u
}

// userExists reports whether a user has exactly this login.
func (e *env) userExists(login string) bool {
	e.t.Helper()
	var found bool
	e.view(func(tx store.Tx) error {
		_, err := userIn(tx, login)
		found = err == nil
		if store.IsNotFound(err) {
			return nil
		}
		return err
	})
	return found
}

func (e *env) hasPerm(login, perm string) bool {
	e.t.Helper()
	var ok bool
	e.view(func(tx store.Tx) error {
		u, err := userIn(tx, login)
		if err != nil {
			return err
		}
		ok, err = store.HasPermission(tx, u.ID, perm)
		return err
	})
	return ok
}

func (e *env) member(group, login string) bool {
	e.t.Helper()
	var ok bool
	e.view(func(tx store.Tx) error {
		g, err := tx.GroupByName(group)
		if err != nil {
			return fmt.Errorf("group %q: %w", group, err)
		}
		u, err := userIn(tx, login)
		if err != nil {
			return err
		}
		ok, err = store.IsMember(tx, g.ID, u.ID)
		return err
	})
	return ok
}

func TestCommon(t *testing.T) {
	run(t, []tcase{
		{name: "GET on a POST action", method: "GET", path: "api/users/create", status: 405, body: errs("HTTP method POST is required")},
		{name: "POST on a GET action", path: "api/users/search", status: 405, body: errs("HTTP method GET is required")},
		{name: "PUT anywhere", method: "PUT", path: "api/users/create", status: 405, body: errs("HTTP method PUT is not allowed")},
		{name: "anonymous", path: "api/users/create", auth: "none", status: 401, body: errs("Authentication is required"), unchanged: true},
		{name: "bad token: empty body", path: "api/users/create", auth: "Bearer squ_nope", status: 401, body: "", unchanged: true},
		{name: "bad password: empty body", path: "api/users/create", auth: basic("admin", "wrong"), status: 401, body: "", unchanged: true},
		{name: "non-admin write", path: "api/users/create", form: "login=x1&name=x&password=Str0ng-Passw0rd", auth: "alice", status: 403, body: errs("Insufficient privileges"), unchanged: true},
		{name: "unknown action", method: "GET", path: "api/users/nope", status: 404, body: errs("Unknown url : /api/users/nope")},
		{name: "authentication/validate with token", method: "GET", path: "api/authentication/validate", auth: "alice", status: 200, body: `{"valid":true}`},
		{name: "authentication/validate anonymous", method: "GET", path: "api/authentication/validate", auth: "none", status: 200, body: `{"valid":false}`},
		{name: "webservices/list", method: "GET", path: "api/webservices/list", status: 200, body: "golden:webservices_list"},
	})
}

func TestUsersCreate(t *testing.T) {
	run(t, []tcase{
		{name: "local user", path: "api/users/create", form: "login=bob&name=Bob&password=Str0ng-Passw0rd&email=bob@example.com", status: 200,
			body: `{"user":{"login":"bob","name":"Bob","email":"bob@example.com","scmAccounts":[],"active":true,"local":true}}`,
			check: func(t *testing.T, e *env) {
				if !e.member("sonar-users", "bob") {
					t.Error("new user not in sonar-users")
				}
				if _, err := e.authenticate("bob", "Str0ng-Passw0rd", true); err != nil {
					t.Errorf("cannot log in with the new password: %v", err)
				}
			}},
		{name: "non-local user with scm accounts", path: "api/users/create", form: "login=ext&name=Ext&local=false&scmAccount=e1&scmAccount=e2", status: 200,
			body: `{"user":{"login":"ext","name":"Ext","scmAccounts":["e1","e2"],"active":true,"local":false}}`},
		{name: "missing login", path: "api/users/create", form: "name=x&password=Str0ng-Passw0rd", status: 400, body: errs("The 'login' parameter is missing"), unchanged: true},
		{name: "missing name", path: "api/users/create", form: "login=xx&password=Str0ng-Passw0rd", status: 400, body: errs("The 'name' parameter is missing"), unchanged: true},
		{name: "login too short", path: "api/users/create", form: "login=x&name=x&password=Str0ng-Passw0rd", status: 400, body: errs("'login' length (1) is shorter than the minimum authorized (2)"), unchanged: true},
		{name: "login too long", path: "api/users/create", form: "login=" + strings.Repeat("a", 256) + "&name=x&password=Str0ng-Passw0rd", status: 400, body: errs("'login' length (256) is longer than the maximum authorized (255)"), unchanged: true},
		{name: "name too long", path: "api/users/create", form: "login=xx&name=" + strings.Repeat("n", 201) + "&password=Str0ng-Passw0rd", status: 400, body: errs("'name' length (201) is longer than the maximum authorized (200)"), unchanged: true},
		{name: "email too long", path: "api/users/create", form: "login=xx&name=x&password=Str0ng-Passw0rd&email=" + strings.Repeat("e", 101), status: 400, body: errs("'email' length (101) is longer than the maximum authorized (100)"), unchanged: true},
		{name: "bad local value", path: "api/users/create", form: "login=xx&name=x&local=maybe", status: 400, body: errs("Value of parameter 'local' (maybe) must be one of: [true, false, yes, no]"), unchanged: true},
		{name: "local without password", path: "api/users/create", form: "login=xx&name=x", status: 400, body: errs("Password is mandatory and must not be empty"), unchanged: true},
		{name: "non-local with password", path: "api/users/create", form: "login=xx&name=x&local=false&password=Str0ng-Passw0rd", status: 400, body: errs("Password should only be set on local user"), unchanged: true},
		{name: "invalid email", path: "api/users/create", form: "login=xx&name=x&password=Str0ng-Passw0rd&email=not-an-email", status: 400, body: errs("Email 'not-an-email' is not valid"), unchanged: true},
		{name: "bad first character and empty name", path: "api/users/create", form: "login=.Toto&name=&password=Str0ng-Passw0rd", status: 400, body: errs("Login should start with _ or alphanumeric.", "Name can't be empty"), unchanged: true},
		{name: "bad characters", path: "api/users/create", form: "login=mari+us&name=x&password=Str0ng-Passw0rd", status: 400, body: errs("Login should contain only letters, numbers, and .-_@"), unchanged: true},
		{name: "scm account with whitespace", path: "api/users/create", form: "login=xx&name=x&password=Str0ng-Passw0rd&scmAccount=+a", status: 400, body: errs("SCM account cannot start or end with whitespace: ' a'"), unchanged: true},
		{name: "duplicate scm account", path: "api/users/create", form: "login=xx&name=x&password=Str0ng-Passw0rd&scmAccount=a&scmAccount=a", status: 400, body: errs("Duplicate SCM account: 'a'"), unchanged: true},
		{name: "active login exists", path: "api/users/create", form: "login=alice&name=x&password=Str0ng-Passw0rd", status: 400, body: errs("An active user with login 'alice' already exists"), unchanged: true},
		{name: "over a managed user's login", path: "api/users/create", form: "login=scim.user&name=x&password=Str0ng-Passw0rd", status: 400, body: errs("An active user with login 'scim.user' already exists"), unchanged: true},
	})
}

func TestUsersUpdate(t *testing.T) {
	run(t, []tcase{
		{name: "local user", path: "api/users/update", form: "login=alice&name=Alice+B&email=ab@example.com", status: 200, body: "golden:users_update"},
		{name: "clear email", path: "api/users/update", form: "login=alice&email=", status: 200,
			check: func(t *testing.T, e *env) {
				if e.user("alice").Email != "" {
					t.Error("email not cleared")
				}
			}, body: `{"user":{"login":"alice","name":"Alice","active":true,"local":true,"externalIdentity":"alice","externalProvider":"sonarqube","groups":[],"scmAccounts":[]}}`},
		{name: "unknown user", path: "api/users/update", form: "login=ghost&name=x", status: 404, body: errs("User 'ghost' doesn't exist"), unchanged: true},
		{name: "managed user's name", path: "api/users/update", form: "login=scim.user&name=x", status: 400, body: errs("It is not allowed to update name for this user"), unchanged: true},
		{name: "managed user's email", path: "api/users/update", form: "login=scim.user&email=x@example.com", status: 400, body: errs("It is not allowed to update email for this user"), unchanged: true},
		{name: "invalid email", path: "api/users/update", form: "login=alice&email=bad", status: 400, body: errs("Email 'bad' is not valid"), unchanged: true},
		{name: "update_login", path: "api/users/update_login", form: "login=alice&newLogin=alice2", status: 204,
			check: func(t *testing.T, e *env) {
				if u := e.user("alice2"); u.Name != "Alice" || u.ExternalLogin != "alice2" {
					t.Errorf("renamed user = %+v", u)
				}
			}},
		{name: "update_login of a managed user", path: "api/users/update_login", form: "login=scim.user&newLogin=other", status: 400, body: errs("Operation not allowed when the instance is externally managed."), unchanged: true},
		{name: "update_login to a taken login", path: "api/users/update_login", form: "login=alice&newLogin=admin", status: 400, body: errs("A user with login 'admin' already exists"), unchanged: true},
		{name: "update_login unknown", path: "api/users/update_login", form: "login=ghost&newLogin=other", status: 404, body: errs("User 'ghost' doesn't exist"), unchanged: true},
		{name: "update_login bad format", path: "api/users/update_login", form: "login=alice&newLogin=a%2Fb", status: 400, body: errs("Login should contain only letters, numbers, and .-_@"), unchanged: true},
		{name: "update_login missing newLogin", path: "api/users/update_login", form: "login=alice", status: 400, body: errs("The 'newLogin' parameter is missing"), unchanged: true},
	})
}

func TestUsersDeactivate(t *testing.T) {
	run(t, []tcase{
		{name: "local user", path: "api/users/deactivate", form: "login=alice", status: 200, body: "golden:users_deactivate",
			check: func(t *testing.T, e *env) {
				u := e.user("alice")
				if u.Active || u.Email != "" {
					t.Errorf("after deactivate: %+v", u)
				}
				if e.member("sonar-users", "alice") {
					t.Error("still in sonar-users")
				}
				if _, err := e.authenticate(e.aliceToken, "", false); err == nil {
					t.Error("token survived deactivation")
				}
			}},
		{name: "anonymize", path: "api/users/deactivate", form: "login=alice&anonymize=true", status: 200,
			check: func(t *testing.T, e *env) {
				if e.userExists("alice") {
					t.Error("login not freed by anonymize")
				}
			}, body: "golden:users_deactivate_anonymize"},
		{name: "managed user", path: "api/users/deactivate", form: "login=scim.user", status: 400, body: errs("Operation not allowed when the instance is externally managed."), unchanged: true},
		{name: "self", path: "api/users/deactivate", form: "login=admin", status: 400, body: errs("Self-deactivation is not possible"), unchanged: true},
		{name: "unknown", path: "api/users/deactivate", form: "login=ghost", status: 404, body: errs("User 'ghost' doesn't exist"), unchanged: true},
		{name: "missing login", path: "api/users/deactivate", status: 400, body: errs("The 'login' parameter is missing"), unchanged: true},
	})
}

func TestUsersReactivate(t *testing.T) {
	e := newEnv(t)
	if st, body := e.do("POST", "api/users/deactivate", "login=alice", adminAuth); st != 200 {
		t.Fatal(st, body)
	}
	st, body := e.do("POST", "api/users/create", "login=alice&name=Alice+Again&password=New-pass-1234", adminAuth)
	if st != 200 || !strings.Contains(body, `"active":true`) {
		t.Fatalf("reactivation: %d %s", st, body)
	}
	if !e.member("sonar-users", "alice") {
		t.Error("reactivated user not back in sonar-users")
	}
}

func TestUsersSearch(t *testing.T) {
	run(t, []tcase{
		{name: "admin sees everything", method: "GET", path: "api/users/search", status: 200, body: "golden:users_search_admin"},
		{name: "non-admin sees public fields", method: "GET", path: "api/users/search", auth: "alice", status: 200, body: "golden:users_search_user"},
		{name: "managed only", method: "GET", path: "api/users/search", form: "managed=true", status: 200, body: "golden:users_search_managed"},
		{name: "query", method: "GET", path: "api/users/search", form: "q=SCIM", status: 200, body: "golden:users_search_q"},
		{name: "query too short", method: "GET", path: "api/users/search", form: "q=a", status: 400, body: errs("'q' length (1) is shorter than the minimum authorized (2)")},
		{name: "page size too big", method: "GET", path: "api/users/search", form: "ps=501", status: 400, body: errs("'ps' value (501) must be less than 500")},
		{name: "page size not a number", method: "GET", path: "api/users/search", form: "ps=x", status: 400, body: errs("'ps' value 'x' cannot be parsed as an integer")},
		{name: "page zero", method: "GET", path: "api/users/search", form: "p=0", status: 400, body: errs("Page index must be strictly positive. Got 0")},
		{name: "second page of one", method: "GET", path: "api/users/search", form: "p=2&ps=1", status: 200, body: "golden:users_search_page2"},
		{name: "ps=0 gives only the total", method: "GET", path: "api/users/search", form: "ps=0", status: 200, body: `{"paging":{"pageIndex":1,"pageSize":0,"total":3},"users":[]}`},
		{name: "externalIdentity needs admin", method: "GET", path: "api/users/search", form: "externalIdentity=x", auth: "alice", status: 403, body: errs("parameter externalIdentity requires Administer System permission.")},
		{name: "current user", method: "GET", path: "api/users/current", auth: "alice", status: 200, body: "golden:users_current"},
		{name: "groups of a user", method: "GET", path: "api/users/groups", form: "login=scim.user&selected=all", status: 200, body: "golden:users_groups"},
		{name: "groups of an unknown user", method: "GET", path: "api/users/groups", form: "login=ghost", status: 404, body: errs("Unknown user: ghost")},
	})
}

func TestChangePassword(t *testing.T) {
	run(t, []tcase{
		{name: "own password", path: "api/users/change_password", form: "login=alice&previousPassword=" + alicePass + "&password=Brand-new-pass1", auth: basic("alice", alicePass), status: 204,
			check: func(t *testing.T, e *env) {
				if _, err := e.authenticate("alice", "Brand-new-pass1", true); err != nil {
					t.Error("new password refused")
				}
			}},
		{name: "admin sets another's", path: "api/users/change_password", form: "login=alice&password=Brand-new-pass1", status: 204},
		{name: "wrong previous", path: "api/users/change_password", form: "login=alice&previousPassword=nope&password=Brand-new-pass1", auth: "alice", status: 400, body: `{"result":"old_password_incorrect"}`, unchanged: true},
		{name: "same as old", path: "api/users/change_password", form: "login=alice&previousPassword=" + alicePass + "&password=" + alicePass, auth: "alice", status: 400, body: `{"result":"new_password_same_as_old"}`, unchanged: true},
		{name: "too short", path: "api/users/change_password", form: "login=alice&password=Sh0rt!", status: 400, body: `{"result":"Password must be at least 12 characters long"}`, unchanged: true},
		{name: "no uppercase", path: "api/users/change_password", form: "login=alice&password=lowercase-only1", status: 400, body: `{"result":"Password must contain at least one uppercase character"}`, unchanged: true},
		{name: "no digit", path: "api/users/change_password", form: "login=alice&password=No-digits-here", status: 400, body: `{"result":"Password must contain at least one digit"}`, unchanged: true},
		{name: "no special", path: "api/users/change_password", form: "login=alice&password=NoSpecials1234", status: 400, body: `{"result":"Password must contain at least one special character"}`, unchanged: true},
		{name: "missing login", path: "api/users/change_password", form: "password=x", status: 400, body: `{"result":"The 'login' parameter is missing"}`, unchanged: true},
		{name: "own without previous", path: "api/users/change_password", form: "login=alice&password=Brand-new-pass1", auth: "alice", status: 400, body: `{"result":"The 'previousPassword' parameter is missing"}`, unchanged: true},
		{name: "managed user", path: "api/users/change_password", form: "login=scim.user&password=Brand-new-pass1", status: 400, body: `{"result":"Password cannot be changed when external authentication is used"}`, unchanged: true},
		{name: "non-admin for another", path: "api/users/change_password", form: "login=admin&password=Brand-new-pass1", auth: "alice", status: 403, body: errs("Insufficient privileges"), unchanged: true},
		{name: "unknown user", path: "api/users/change_password", form: "login=ghost&password=Brand-new-pass1", status: 404, body: errs("User with login 'ghost' has not been found"), unchanged: true},
	})
}

func TestUserGroups(t *testing.T) {
	run(t, []tcase{
		{name: "create", path: "api/user_groups/create", form: "name=qa&description=Testers", status: 200, body: "golden:user_groups_create"},
		{name: "create duplicate", path: "api/user_groups/create", form: "name=devs", status: 400, body: errs("Group 'devs' already exists"), unchanged: true},
		{name: "create over a managed group's name", path: "api/user_groups/create", form: "name=OKTA-GROUP", status: 400, body: errs("Group 'OKTA-GROUP' already exists"), unchanged: true},
		{name: "create anyone", path: "api/user_groups/create", form: "name=AnyOne", status: 400, body: errs("Anyone group cannot be used"), unchanged: true},
		{name: "create blank", path: "api/user_groups/create", form: "name=+", status: 400, body: errs("Group name cannot be empty"), unchanged: true},
		{name: "create name too long", path: "api/user_groups/create", form: "name=" + strings.Repeat("g", 256), status: 400, body: errs("'name' length (256) is longer than the maximum authorized (255)"), unchanged: true},
		{name: "update", path: "api/user_groups/update", form: "currentName=devs&name=developers&description=Devs", status: 200, body: "golden:user_groups_update"},
		{name: "update unknown", path: "api/user_groups/update", form: "currentName=ghost&name=x", status: 404, body: errs("Could not find a user group with name 'ghost'."), unchanged: true},
		{name: "update managed", path: "api/user_groups/update", form: "currentName=okta-group&name=x", status: 400, body: errs("Operation not allowed when the instance is externally managed."), unchanged: true},
		{name: "update default", path: "api/user_groups/update", form: "currentName=sonar-users&name=x", status: 400, body: errs("Default group 'sonar-users' cannot be used to perform this action"), unchanged: true},
		{name: "delete", path: "api/user_groups/delete", form: "name=devs", status: 204},
		{name: "delete managed", path: "api/user_groups/delete", form: "name=okta-group", status: 400, body: errs("Deleting managed groups is not allowed."), unchanged: true},
		{name: "delete default", path: "api/user_groups/delete", form: "name=sonar-users", status: 400, body: errs("Default group 'sonar-users' cannot be used to perform this action"), unchanged: true},
		{name: "delete unknown", path: "api/user_groups/delete", form: "name=ghost", status: 404, body: errs("No group with name 'ghost'"), unchanged: true},
		{name: "delete last admin group", path: "api/user_groups/delete", form: "name=sonar-administrators", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.hasPerm("admin", "admin") {
					t.Error("admin lost admin")
				}
			}},
		{name: "add_user", path: "api/user_groups/add_user", form: "name=devs&login=alice", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.member("devs", "alice") {
					t.Error("not added")
				}
			}},
		{name: "add_user managed user to local group", path: "api/user_groups/add_user", form: "name=devs&login=scim.user", status: 204},
		{name: "add_user to managed group", path: "api/user_groups/add_user", form: "name=okta-group&login=alice", status: 400, body: errs("Operation not allowed when the instance is externally managed."), unchanged: true},
		{name: "add_user twice", path: "api/user_groups/add_user", form: "name=sonar-administrators&login=admin", status: 400, body: errs("User 'admin' is already a member of group 'sonar-administrators'"), unchanged: true},
		{name: "add_user unknown user", path: "api/user_groups/add_user", form: "name=devs&login=ghost", status: 404, body: errs("Could not find a user with login 'ghost'"), unchanged: true},
		{name: "add_user unknown group", path: "api/user_groups/add_user", form: "name=ghost&login=alice", status: 404, body: errs("No group with name 'ghost'"), unchanged: true},
		{name: "remove_user from managed group", path: "api/user_groups/remove_user", form: "name=okta-group&login=scim.user", status: 400, body: errs("Operation not allowed when the instance is externally managed."), unchanged: true},
		{name: "remove_user non-member", path: "api/user_groups/remove_user", form: "name=devs&login=alice", status: 204, unchanged: true},
		{name: "remove_user unknown", path: "api/user_groups/remove_user", form: "name=devs&login=ghost", status: 404, body: errs("User with login 'ghost' is not found'"), unchanged: true},
		{name: "search", method: "GET", path: "api/user_groups/search", status: 200, body: "golden:user_groups_search"},
		{name: "search managed", method: "GET", path: "api/user_groups/search", form: "managed=true&f=name,managed", status: 200, body: "golden:user_groups_search_managed"},
		{name: "search needs admin", method: "GET", path: "api/user_groups/search", auth: "alice", status: 403, body: errs("Insufficient privileges")},
		{name: "users of a group", method: "GET", path: "api/user_groups/users", form: "name=okta-group&selected=all", status: 200, body: "golden:user_groups_users"},
	})
}

// When admin holds admin only through sonar-administrators, every path
// that would leave no administrator is refused and changes nothing.
func TestLastAdminRules(t *testing.T) {
	e := newEnv(t)
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		return tx.Revoke(store.UserSubject(admin.ID), store.PermAdmin)
	})
	if err != nil {
		t.Fatal(err)
	}
	before := e.snapshot()
	for _, tc := range []struct{ path, form, msg string }{
		{"api/permissions/remove_group", "groupName=sonar-administrators&permission=admin", "Last group with permission 'admin'. Permission cannot be removed."},
		{"api/user_groups/remove_user", "name=sonar-administrators&login=admin", "The last administrator user cannot be removed"},
		{"api/user_groups/delete", "name=sonar-administrators", "The last system admin group cannot be deleted"},
		{"api/permissions/remove_user", "login=admin&permission=admin", "As an admin, you can't remove your own admin right"},
		{"api/users/deactivate", "login=admin", "Self-deactivation is not possible"},
	} {
		st, body := e.do("POST", tc.path, tc.form, adminAuth)
		if st != 400 || body != errs(tc.msg) {
			t.Errorf("%s: %d %s, want 400 %q", tc.path, st, body, tc.msg)
		}
	}
	if e.snapshot() != before {
		t.Error("a refused request changed the store")
	}
	// With a second administrator the same group change goes through.
	if st, body := e.do("POST", "api/permissions/add_user", "login=alice&permission=admin", adminAuth); st != 204 {
		t.Fatal(st, body)
	}
	if st, body := e.do("POST", "api/permissions/remove_group", "groupName=sonar-administrators&permission=admin", adminAuth); st != 204 {
		t.Fatalf("remove_group with another admin left: %d %s", st, body)
	}
	if e.hasPerm("admin", "admin") || !e.hasPerm("alice", "admin") {
		t.Error("permissions not as expected after the change")
	}
}

func TestPermissions(t *testing.T) {
	run(t, []tcase{
		{name: "add_user", path: "api/permissions/add_user", form: "login=alice&permission=scan", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.hasPerm("alice", "scan") {
					t.Error("not granted")
				}
			}},
		{name: "add_user to a managed user", path: "api/permissions/add_user", form: "login=scim.user&permission=gateadmin", status: 204},
		{name: "add_user invalid permission", path: "api/permissions/add_user", form: "login=alice&permission=root", status: 400, body: errs("Invalid global permission 'root'. Valid values are [admin, gateadmin, profileadmin, provisioning, scan, useradmin]"), unchanged: true},
		{name: "add_user unknown", path: "api/permissions/add_user", form: "login=ghost&permission=scan", status: 404, body: errs("User with login 'ghost' is not found'"), unchanged: true},
		{name: "add_user both project params", path: "api/permissions/add_user", form: "login=alice&permission=scan&projectId=1&projectKey=k", status: 400, body: errs("Project id or project key can be provided, not both."), unchanged: true},
		{name: "add_user unknown project", path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=k", status: 404, body: errs("Entity not found"), unchanged: true},
		{name: "add_user missing permission", path: "api/permissions/add_user", form: "login=alice", status: 400, body: errs("The 'permission' parameter is missing"), unchanged: true},
		{name: "non-admin grants itself admin", path: "api/permissions/add_user", form: "login=alice&permission=admin", auth: "alice", status: 403, body: errs("Insufficient privileges"), unchanged: true},
		{name: "remove own admin", path: "api/permissions/remove_user", form: "login=admin&permission=admin", status: 400, body: errs("As an admin, you can't remove your own admin right"), unchanged: true},
		{name: "remove absent permission", path: "api/permissions/remove_user", form: "login=alice&permission=scan", status: 204, unchanged: true},
		{name: "add_group to managed group", path: "api/permissions/add_group", form: "groupName=okta-group&permission=scan", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.hasPerm("scim.user", "scan") {
					t.Error("member of the managed group lacks the group's permission")
				}
			}},
		{name: "add_group anyone admin", path: "api/permissions/add_group", form: "groupName=anyone&permission=admin", status: 400, body: errs("It is not possible to add the 'admin' permission to group 'Anyone'."), unchanged: true},
		{name: "add_group anyone scan", path: "api/permissions/add_group", form: "groupName=Anyone&permission=scan", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.hasPerm("alice", "scan") {
					t.Error("Anyone grant not held by alice")
				}
			}},
		{name: "add_group unknown", path: "api/permissions/add_group", form: "groupName=ghost&permission=scan", status: 404, body: errs("No group with name 'ghost'"), unchanged: true},
		{name: "users", method: "GET", path: "api/permissions/users", status: 200, body: "golden:permissions_users"},
		{name: "users with permission", method: "GET", path: "api/permissions/users", form: "permission=admin", status: 200, body: "golden:permissions_users_admin"},
		{name: "users short query", method: "GET", path: "api/permissions/users", form: "q=ad", status: 400, body: errs("'q' length (2) is shorter than the minimum authorized (3)")},
		{name: "groups", method: "GET", path: "api/permissions/groups", status: 200, body: "golden:permissions_groups"},
	})
}

func TestUserTokens(t *testing.T) {
	run(t, []tcase{
		{name: "generate own", path: "api/user_tokens/generate", form: "name=ci", auth: "alice", status: 200, body: "golden:user_tokens_generate"},
		{name: "generate for another as admin", path: "api/user_tokens/generate", form: "name=scim&login=scim.user&expirationDate=2099-01-01", status: 200, body: "golden:user_tokens_generate_other"},
		{name: "generate for another as non-admin", path: "api/user_tokens/generate", form: "name=x&login=admin", auth: "alice", status: 403, body: errs("Insufficient privileges"), unchanged: true},
		{name: "generate for unknown", path: "api/user_tokens/generate", form: "name=x&login=ghost", status: 404, body: errs("User with login 'ghost' doesn't exist"), unchanged: true},
		{name: "generate duplicate", path: "api/user_tokens/generate", form: "name=laptop", auth: "alice", status: 400, body: errs("A user token for login 'alice' and name 'laptop' already exists"), unchanged: true},
		{name: "generate name too long", path: "api/user_tokens/generate", form: "name=" + strings.Repeat("t", 101), status: 400, body: errs("'name' length (101) is longer than the maximum authorized (100)"), unchanged: true},
		{name: "generate bad date", path: "api/user_tokens/generate", form: "name=x&expirationDate=tomorrow", status: 400, body: errs("Supplied date format for parameter expirationDate is wrong. Please supply date in the ISO 8601 date format (YYYY-MM-DD)"), unchanged: true},
		{name: "generate past date", path: "api/user_tokens/generate", form: "name=x&expirationDate=2000-01-01", status: 400, unchanged: true,
			body: errs("The minimum value for parameter expirationDate is " + store.Now().AddDate(0, 0, 1).Format("2006-01-02") + ".")},
		{name: "generate global analysis token without scan", setup: steps("api/permissions/remove_group?groupName=sonar-users&permission=scan"),
			path: "api/user_tokens/generate", form: "name=x&type=GLOBAL_ANALYSIS_TOKEN", auth: "alice", status: 403, body: errs("Insufficient privileges"), unchanged: true},
		{name: "revoke", path: "api/user_tokens/revoke", form: "name=laptop", auth: "alice", status: 204,
			check: func(t *testing.T, e *env) {
				if _, err := e.authenticate(e.aliceToken, "", false); err == nil {
					t.Error("revoked token still works")
				}
			}},
		{name: "revoke unknown is silent", path: "api/user_tokens/revoke", form: "name=nope", auth: "alice", status: 204, unchanged: true},
		{name: "search own", method: "GET", path: "api/user_tokens/search", auth: "alice", status: 200, body: "golden:user_tokens_search"},
		{name: "search another as non-admin", method: "GET", path: "api/user_tokens/search", form: "login=admin", auth: "alice", status: 403, body: errs("Insufficient privileges")},
	})
}

// A token is stored hashed: its secret appears nowhere in the store file.
func TestTokenStoredHashed(t *testing.T) {
	e := newEnv(t)
	st, body := e.do("POST", "api/user_tokens/generate", "name=probe", adminAuth)
	if st != 200 {
		t.Fatal(st, body)
	}
	secret := tokenRe.FindString(body)
	var found bool
	var hashes int
	e.view(func(tx store.Tx) error {
		admin, err := userIn(tx, "admin")
		if err != nil {
			return err
		}
		toks, err := tx.Tokens(admin.ID)
		for _, tok := range toks {
			found = found || tok.Hash == secret
			hashes++
		}
		return err
	})
	if found || secret == "" || hashes == 0 {
		t.Fatalf("token secret %q stored in clear (or no token stored)", secret)
	}
	if _, body := e.do("GET", "api/authentication/validate", "", "Bearer "+secret); body != `{"valid":true}` {
		t.Fatal("generated token does not authenticate")
	}
	if st, body := e.do("GET", "api/authentication/validate", "", basic(secret, "")); st != 200 || body != `{"valid":true}` {
		t.Fatalf("token as Basic login: %d %s", st, body)
	}
}

// After five wrong passwords the login is locked: the right password gets
// the same empty 401 as a wrong one, and tokens keep working.
func TestPasswordLockoutOverHTTP(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		if st, body := e.do("GET", "api/users/current", "", basic("alice", "wrong")); st != 401 || body != "" {
			t.Fatalf("wrong password %d: %d %q", i, st, body)
		}
	}
	if st, body := e.do("GET", "api/users/current", "", basic("alice", alicePass)); st != 401 || body != "" {
		t.Fatalf("locked login with the right password: %d %q", st, body)
	}
	if st, _ := e.do("GET", "api/users/current", "", "Bearer "+e.aliceToken); st != 200 {
		t.Fatalf("token of a locked login: %d", st)
	}
	if st, _ := e.do("GET", "api/users/current", "", adminAuth); st != 200 {
		t.Fatalf("another login is locked too: %d", st)
	}
}
