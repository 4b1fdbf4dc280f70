package webapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// msg is a REST API v2 error body.
func msg(m string) string {
	raw, _ := json.Marshal(map[string]string{"message": m})
	return string(raw)
}

const (
	jsonType  = "application/json"
	mergeType = "application/merge-patch+json"
	usersV2   = "api/v2/users-management/users"
	groupsV2  = "api/v2/authorizations/groups"
	membersV2 = "api/v2/authorizations/group-memberships"
	managed   = "Operation not allowed when the instance is externally managed."
)

func TestV2Users(t *testing.T) {
	t.Parallel()
	deactivated := steps("api/users/deactivate?login=alice")
	run(t, []tcase{
		// Search: the field sets of each visibility level.
		{name: "search anonymous", method: "GET", path: usersV2, auth: "none", status: 200, body: "golden:v2_users_anonymous"},
		{name: "search logged in", method: "GET", path: usersV2, auth: "alice", status: 200, body: "golden:v2_users_logged_in"},
		{name: "search admin", method: "GET", path: usersV2, status: 200, body: "golden:v2_users_admin"},
		{name: "search q on login and name", method: "GET", path: usersV2, form: "q=SCIM", status: 200, body: "golden:v2_users_q"},
		{name: "search q on e-mail hidden from anonymous", method: "GET", path: usersV2, form: "q=example.com", auth: "none", status: 200,
			body: `{"page":{"pageIndex":1,"pageSize":50,"total":0},"users":[]}`},
		{name: "search managed", method: "GET", path: usersV2, form: "managed=true", status: 200, body: "golden:v2_users_q"},
		{name: "search deactivated", method: "GET", path: usersV2, form: "active=false", setup: deactivated, status: 200, body: "golden:v2_users_deactivated"},
		{name: "search members of a group", method: "GET", path: usersV2, form: "groupId={group:okta-group}", status: 200, body: "golden:v2_users_q"},
		{name: "search non-members of a group", method: "GET", path: usersV2, form: "groupId!={group:okta-group}&pageSize=1&pageIndex=2", status: 200,
			body: "golden:v2_users_page2"},
		{name: "search by external identity", method: "GET", path: usersV2, form: "externalIdentity=scim.user", status: 200, body: "golden:v2_users_q"},
		{name: "search never connected", method: "GET", path: usersV2, form: "sonarQubeLastConnectionDateFrom=2020-01-01T00:00:00%2B0100", status: 200,
			body: `{"page":{"pageIndex":1,"pageSize":50,"total":0},"users":[]}`},
		{name: "search page beyond the end", method: "GET", path: usersV2, form: "pageIndex=999999999999&pageSize=500", status: 200,
			body: `{"page":{"pageIndex":999999999999,"pageSize":500,"total":3},"users":[]}`},
		{name: "search admin-only parameter", method: "GET", path: usersV2, form: "externalIdentity=x", auth: "alice", status: 403,
			body: msg("Parameter externalIdentity requires Administer System permission.")},
		{name: "search group parameter anonymous", method: "GET", path: usersV2, form: "groupId=x", auth: "none", status: 403,
			body: msg("Parameter groupId requires Administer System permission.")},
		{name: "search unknown group", method: "GET", path: usersV2, form: "groupId=nope", status: 404, body: msg("Group 'nope' not found")},
		{name: "search page size too large", method: "GET", path: usersV2, form: "pageSize=501", status: 400,
			body: msg("Value of parameter 'pageSize' (501) must be a non-negative integer of at most 500")},
		{name: "search page index not a number", method: "GET", path: usersV2, form: "pageIndex=x", status: 400,
			body: msg("Value of parameter 'pageIndex' (x) must be a non-negative integer")},
		{name: "search active not boolean", method: "GET", path: usersV2, form: "active=maybe", status: 400,
			body: msg("Value of parameter 'active' (maybe) must be true or false")},
		{name: "search bad date", method: "GET", path: usersV2, form: "sonarQubeLastConnectionDateTo=yesterday", status: 400,
			body: msg("'yesterday' cannot be parsed as either a date or date+time")},

		// One user.
		{name: "get anonymous", method: "GET", path: usersV2 + "/{user:scim.user}", auth: "none", status: 200, body: "golden:v2_user_anonymous"},
		{name: "get another user", method: "GET", path: usersV2 + "/{user:scim.user}", auth: "alice", status: 200, body: "golden:v2_user_logged_in"},
		{name: "get oneself", method: "GET", path: usersV2 + "/{user:alice}", auth: "alice", status: 200, body: "golden:v2_user_self"},
		{name: "get as admin", method: "GET", path: usersV2 + "/{user:scim.user}", status: 200, body: "golden:v2_user_admin"},
		{name: "get unknown", method: "GET", path: usersV2 + "/nope", status: 404, body: msg("User 'nope' not found")},

		// Create.
		{name: "create", path: usersV2, ctype: jsonType, form: `{"login":"bob","name":"Bob","email":"bob@example.com","password":"Str0ng-Passw0rd!","scmAccounts":["bobby"]}`,
			status: 200, body: "golden:v2_user_created", check: func(t *testing.T, e *env) {
				if u := e.user("bob"); !u.Local || !u.Active || u.Managed || u.PasswordHash == "" {
					t.Errorf("created user %+v", u)
				}
			}},
		{name: "create non-local", path: usersV2, ctype: jsonType, form: `{"login":"carol","name":"Carol","local":false}`, status: 200, body: "golden:v2_user_created_external",
			check: func(t *testing.T, e *env) {
				if u := e.user("carol"); u.Local || u.PasswordHash != "" {
					t.Errorf("created user %+v", u)
				}
			}},
		{name: "create reactivates", path: usersV2, ctype: jsonType, setup: deactivated, form: `{"login":"alice","name":"Alice Again","password":"Str0ng-Passw0rd!"}`,
			status: 200, body: "golden:v2_user_reactivated", check: func(t *testing.T, e *env) {
				if u := e.user("alice"); !u.Active || u.Name != "Alice Again" {
					t.Errorf("reactivated user %+v", u)
				}
			}},
		{name: "create existing", path: usersV2, ctype: jsonType, form: `{"login":"alice","name":"A","password":"Str0ng-Passw0rd!"}`, status: 400, unchanged: true,
			body: msg("An active user with login 'alice' already exists")},
		{name: "create local without password", path: usersV2, ctype: jsonType, form: `{"login":"bob","name":"Bob"}`, status: 400, unchanged: true,
			body: msg("Password is mandatory and must not be empty")},
		{name: "create bad login", path: usersV2, ctype: jsonType, form: `{"login":"b","name":"Bob","password":"Str0ng-Passw0rd!"}`, status: 400, unchanged: true,
			body: msg("Login is too short (minimum is 2 characters)")},
		{name: "create bad e-mail", path: usersV2, ctype: jsonType, form: `{"login":"bob","name":"Bob","email":"bob","password":"Str0ng-Passw0rd!"}`, status: 400, unchanged: true,
			body: msg("Email 'bob' is not valid")},
		{name: "create without login", path: usersV2, ctype: jsonType, form: `{"name":"Bob"}`, status: 400, unchanged: true, body: msg("Value for field 'login' is missing")},
		{name: "create without name", path: usersV2, ctype: jsonType, form: `{"login":"bob"}`, status: 400, unchanged: true, body: msg("Value for field 'name' is missing")},
		{name: "create long login", path: usersV2, ctype: jsonType, form: `{"login":"` + strings.Repeat("b", 101) + `","name":"Bob"}`, status: 400, unchanged: true,
			body: msg("Value for field 'login' must be at most 100 characters long")},
		{name: "create malformed JSON", path: usersV2, ctype: jsonType, form: `{"login":`, status: 400, unchanged: true,
			body: msg("The request body is not valid JSON of the expected shape")},
		{name: "create unknown field", path: usersV2, ctype: jsonType, form: `{"login":"bob","name":"Bob","admin":true}`, status: 400, unchanged: true,
			body: msg("The request body is not valid JSON of the expected shape")},
		{name: "create two documents", path: usersV2, ctype: jsonType, form: `{"login":"bob","name":"Bob"}{}`, status: 400, unchanged: true,
			body: msg("The request body is not valid JSON of the expected shape")},
		{name: "create as a form", path: usersV2, ctype: "application/x-www-form-urlencoded", form: "login=bob&name=Bob", status: 415, unchanged: true,
			body: msg("Content-Type must be application/json")},
		{name: "create too large", path: usersV2, ctype: jsonType, form: `{"login":"bob","name":"` + strings.Repeat("x", 70<<10) + `"}`, status: 413, unchanged: true,
			body: msg("The request body is too large")},
		{name: "create by a user", path: usersV2, auth: "alice", ctype: jsonType, form: `{"login":"bob","name":"Bob"}`, status: 403, unchanged: true,
			body: msg("Insufficient privileges")},
		{name: "create anonymous", path: usersV2, auth: "none", ctype: jsonType, form: `{"login":"bob","name":"Bob"}`, status: 401, unchanged: true,
			body: msg("Authentication is required")},
		{name: "create bad credentials", path: usersV2, auth: basic("admin", "wrong"), ctype: jsonType, form: `{"login":"bob","name":"Bob"}`, status: 401, unchanged: true},

		// Patch.
		{name: "patch", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: mergeType, form: `{"name":"Alice B","email":"ab@example.com","scmAccounts":["ab"]}`,
			status: 200, body: "golden:v2_user_patched", check: func(t *testing.T, e *env) {
				if u := e.user("alice"); u.Name != "Alice B" || u.Email != "ab@example.com" || len(u.SCMAccounts) != 1 {
					t.Errorf("patched user %+v", u)
				}
			}},
		{name: "patch login", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: jsonType, form: `{"login":"alice2"}`, status: 200, body: "golden:v2_user_renamed",
			check: func(t *testing.T, e *env) {
				if u := e.user("alice2"); u.ExternalLogin != "alice2" {
					t.Errorf("renamed user %+v", u)
				}
			}},
		{name: "patch external identity", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: mergeType,
			form: `{"externalProvider":"saml","externalLogin":"alice@corp","externalId":"x1"}`, status: 200, body: "golden:v2_user_external",
			check: func(t *testing.T, e *env) {
				if u := e.user("alice"); u.ExternalProvider != "saml" || u.ExternalLogin != "alice@corp" || u.ExternalID != "x1" {
					t.Errorf("patched user %+v", u)
				}
			}},
		{name: "patch managed", method: "PATCH", path: usersV2 + "/{user:scim.user}", ctype: mergeType, form: `{"name":"X"}`, status: 400, unchanged: true, body: msg(managed),
			check: func(t *testing.T, e *env) { // refusals are audited, as in v1
				var last store.AuditEntry
				e.view(func(tx store.Tx) error {
					for a, err := range tx.Audit() {
						if err != nil {
							return err
						}
						last = a
					}
					return nil
				})
				if last.Action != "refused" || last.Detail != managed || last.Actor != "admin" || last.Op != "PATCH /api/v2/users-management/users/:id" ||
					last.Name != e.expand("{user:scim.user}") {
					t.Errorf("last audit entry %+v", last)
				}
			}},
		{name: "patch empty name", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: mergeType, form: `{"name":""}`, status: 400, unchanged: true,
			body: msg("Name can't be empty")},
		{name: "patch taken login", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: mergeType, form: `{"login":"admin"}`, status: 400, unchanged: true,
			body: msg("A user with login 'admin' already exists")},
		{name: "patch bad provider", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: mergeType, form: `{"externalProvider":"myspace"}`, status: 400, unchanged: true,
			body: msg("Value of field 'externalProvider' (myspace) must be one of: [github, gitlab, saml] or [LDAP, LDAP_{serverKey}]")},
		{name: "patch scm account of another", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: mergeType, form: `{"scmAccounts":["alice","a"]}`, status: 400,
			unchanged: true, body: msg("Login and email are automatically considered as SCM accounts")},
		{name: "patch unknown", method: "PATCH", path: usersV2 + "/nope", ctype: mergeType, form: `{"name":"X"}`, status: 404, unchanged: true,
			body: msg("User 'nope' not found")},
		{name: "patch wrong content type", method: "PATCH", path: usersV2 + "/{user:alice}", ctype: "text/plain", form: `{"name":"X"}`, status: 415, unchanged: true,
			body: msg("Content-Type must be application/merge-patch+json")},
		{name: "patch by a user", method: "PATCH", path: usersV2 + "/{user:alice}", auth: "alice", ctype: mergeType, form: `{"name":"X"}`, status: 403, unchanged: true,
			body: msg("Insufficient privileges")},

		// Delete (deactivate).
		{name: "delete", method: "DELETE", path: usersV2 + "/{user:alice}", status: 204, check: func(t *testing.T, e *env) {
			if u := e.user("alice"); u.Active {
				t.Error("alice still active")
			}
		}},
		{name: "delete and anonymize", method: "DELETE", path: usersV2 + "/{user:alice}?anonymize=true", status: 204, check: func(t *testing.T, e *env) {
			if e.userExists("alice") {
				t.Error("alice not anonymized")
			}
		}},
		{name: "delete managed", method: "DELETE", path: usersV2 + "/{user:scim.user}", status: 400, unchanged: true, body: msg(managed)},
		{name: "delete oneself", method: "DELETE", path: usersV2 + "/{user:admin}", status: 400, unchanged: true, body: msg("Self-deactivation is not possible")},
		{name: "delete unknown", method: "DELETE", path: usersV2 + "/nope", status: 404, unchanged: true, body: msg("User 'nope' not found")},
		{name: "delete anonymize not boolean", method: "DELETE", path: usersV2 + "/{user:alice}?anonymize=yes", status: 400, unchanged: true,
			body: msg("Value of parameter 'anonymize' (yes) must be true or false")},
		{name: "delete by a user", method: "DELETE", path: usersV2 + "/{user:admin}", auth: "alice", status: 403, unchanged: true, body: msg("Insufficient privileges")},
	})
}

func TestV2Groups(t *testing.T) {
	t.Parallel()
	run(t, []tcase{
		{name: "search", method: "GET", path: groupsV2, status: 200, body: "golden:v2_groups"},
		{name: "search q", method: "GET", path: groupsV2, form: "q=DEV", status: 200, body: "golden:v2_groups_q"},
		{name: "search managed", method: "GET", path: groupsV2, form: "managed=true", status: 200, body: "golden:v2_groups_managed"},
		{name: "search groups of a user", method: "GET", path: groupsV2, form: "userId={user:scim.user}", status: 200, body: "golden:v2_groups_of_user"},
		{name: "search groups not of a user", method: "GET", path: groupsV2, form: "userId!={user:scim.user}", status: 200, body: "golden:v2_groups_not_of_user"},
		{name: "search unknown user", method: "GET", path: groupsV2, form: "userId=nope", status: 404, body: msg("User 'nope' not found")},
		{name: "search by a user", method: "GET", path: groupsV2, auth: "alice", status: 403, body: msg("Insufficient privileges")},
		{name: "search anonymous", method: "GET", path: groupsV2, auth: "none", status: 401, body: msg("Authentication is required")},
		{name: "get", method: "GET", path: groupsV2 + "/{group:devs}", status: 200, body: "golden:v2_group"},
		{name: "get default", method: "GET", path: groupsV2 + "/{group:sonar-users}", status: 200, body: "golden:v2_group_default"},
		{name: "get unknown", method: "GET", path: groupsV2 + "/nope", status: 404, body: msg("Group 'nope' not found")},

		{name: "create", path: groupsV2, ctype: jsonType, form: `{"name":"qa","description":"Testers"}`, status: 201, body: "golden:v2_group_created",
			check: func(t *testing.T, e *env) { e.expand("{group:qa}") }},
		{name: "create existing", path: groupsV2, ctype: jsonType, form: `{"name":"devs"}`, status: 400, unchanged: true, body: msg("Group 'devs' already exists")},
		{name: "create Anyone", path: groupsV2, ctype: jsonType, form: `{"name":"anyone"}`, status: 400, unchanged: true, body: msg("Anyone group cannot be used")},
		{name: "create empty name", path: groupsV2, ctype: jsonType, form: `{"name":""}`, status: 400, unchanged: true, body: msg("Group name cannot be empty")},
		{name: "create long description", path: groupsV2, ctype: jsonType, form: `{"name":"qa","description":"` + strings.Repeat("d", 201) + `"}`, status: 400,
			unchanged: true, body: msg("Value for field 'description' must be at most 200 characters long")},
		{name: "create malformed", path: groupsV2, ctype: jsonType, form: `[]`, status: 400, unchanged: true, body: msg("The request body is not valid JSON of the expected shape")},
		{name: "create by a user", path: groupsV2, auth: "alice", ctype: jsonType, form: `{"name":"qa"}`, status: 403, unchanged: true, body: msg("Insufficient privileges")},

		{name: "patch", method: "PATCH", path: groupsV2 + "/{group:devs}", ctype: mergeType, form: `{"name":"developers","description":"All of them"}`, status: 200,
			body: "golden:v2_group_patched"},
		{name: "patch managed", method: "PATCH", path: groupsV2 + "/{group:okta-group}", ctype: mergeType, form: `{"description":"x"}`, status: 400, unchanged: true,
			body: msg(managed)},
		{name: "patch default", method: "PATCH", path: groupsV2 + "/{group:sonar-users}", ctype: mergeType, form: `{"name":"everyone"}`, status: 400, unchanged: true,
			body: msg("Default group 'sonar-users' cannot be used to perform this action")},
		{name: "patch to a taken name", method: "PATCH", path: groupsV2 + "/{group:devs}", ctype: mergeType, form: `{"name":"okta-group"}`, status: 400, unchanged: true,
			body: msg("Group 'okta-group' already exists")},
		{name: "patch unknown", method: "PATCH", path: groupsV2 + "/nope", ctype: mergeType, form: `{"name":"x"}`, status: 404, unchanged: true,
			body: msg("Group 'nope' not found")},

		{name: "delete", method: "DELETE", path: groupsV2 + "/{group:devs}", status: 204, check: func(t *testing.T, e *env) {
			e.view(func(tx store.Tx) error {
				if _, err := tx.GroupByName("devs"); !store.IsNotFound(err) {
					t.Errorf("devs still there: %v", err)
				}
				return nil
			})
		}},
		{name: "delete managed", method: "DELETE", path: groupsV2 + "/{group:okta-group}", status: 400, unchanged: true, body: msg("Deleting managed groups is not allowed.")},
		{name: "delete default", method: "DELETE", path: groupsV2 + "/{group:sonar-users}", status: 400, unchanged: true,
			body: msg("Default group 'sonar-users' cannot be used to perform this action")},
		{name: "delete unknown", method: "DELETE", path: groupsV2 + "/nope", status: 404, unchanged: true, body: msg("Group 'nope' not found")},
	})
}

func TestV2Memberships(t *testing.T) {
	t.Parallel()
	run(t, []tcase{
		{name: "search by group", method: "GET", path: membersV2, form: "groupId={group:okta-group}", status: 200, body: "golden:v2_memberships_group"},
		{name: "search by user, default group included", method: "GET", path: membersV2, form: "userId={user:scim.user}", status: 200, body: "golden:v2_memberships_user"},
		{name: "search all", method: "GET", path: membersV2, form: "pageSize=2", status: 200, body: "golden:v2_memberships_page"},
		{name: "search unknown group", method: "GET", path: membersV2, form: "groupId=nope", status: 404, body: msg("Group 'nope' not found")},
		{name: "search unknown user", method: "GET", path: membersV2, form: "userId=nope", status: 404, body: msg("User 'nope' not found")},
		{name: "search by a user", method: "GET", path: membersV2, auth: "alice", status: 403, body: msg("Insufficient privileges")},

		{name: "add", path: membersV2, ctype: jsonType, formf: func(e *env) string {
			return e.expand(`{"groupId":"{group:devs}","userId":"{user:alice}"}`)
		}, status: 201, body: "golden:v2_membership_created", check: func(t *testing.T, e *env) {
			if !e.member("devs", "alice") {
				t.Error("alice not in devs")
			}
		}},
		{name: "add to a managed group", path: membersV2, ctype: jsonType, form: `{"groupId":"{group:okta-group}","userId":"{user:alice}"}`, status: 400,
			unchanged: true, body: msg(managed)},
		{name: "add to the default group", path: membersV2, ctype: jsonType, form: `{"groupId":"{group:sonar-users}","userId":"{user:alice}"}`, status: 400,
			unchanged: true, body: msg("Default group 'sonar-users' cannot be used to perform this action")},
		{name: "add unknown user", path: membersV2, ctype: jsonType, form: `{"groupId":"{group:devs}","userId":"nope"}`, status: 404, unchanged: true,
			body: msg("User 'nope' not found")},
		{name: "add without ids", path: membersV2, ctype: jsonType, form: `{"groupId":"{group:devs}"}`, status: 400, unchanged: true,
			body: msg("Values for fields 'groupId' and 'userId' are required")},
		{name: "add by a user", path: membersV2, auth: "alice", ctype: jsonType, form: `{"groupId":"{group:devs}","userId":"{user:alice}"}`, status: 403,
			unchanged: true, body: msg("Insufficient privileges")},

		{name: "remove", method: "DELETE", path: membersV2 + "/{group:devs}:{user:alice}", setup: steps("api/user_groups/add_user?name=devs&login=alice"),
			status: 204, check: func(t *testing.T, e *env) {
				if e.member("devs", "alice") {
					t.Error("alice still in devs")
				}
			}},
		{name: "remove from a managed group", method: "DELETE", path: membersV2 + "/{group:okta-group}:{user:scim.user}", status: 400, unchanged: true,
			body: msg(managed)},
		{name: "remove malformed id", method: "DELETE", path: membersV2 + "/devs", status: 404, unchanged: true, body: msg("Group membership 'devs' not found")},
	})
}

func TestV2Platform(t *testing.T) {
	t.Parallel()
	run(t, []tcase{
		{name: "openapi document", method: "GET", path: "api/v2/api-docs", auth: "none", status: 200, body: "golden:v2_api_docs"},
		{name: "unknown path", method: "GET", path: "api/v2/nothing/here", status: 404, body: msg("Unknown url: /api/v2/nothing/here")},
		{name: "wrong method", method: "PUT", path: usersV2, ctype: jsonType, form: "{}", status: 404, unchanged: true,
			body: msg("Unknown url: /" + usersV2)},
	})
}

// TestV2Sessions: a browser session works for reads; writes need the XSRF
// header, as in v1.
func TestV2Sessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st, cookies := e.session("admin", adminPass)
	if st != 204 && st != 200 {
		t.Fatalf("login: %d", st)
	}
	send := func(xsrf bool) int {
		req, err := http.NewRequest("POST", e.srv.URL+"/"+groupsV2, strings.NewReader(`{"name":"qa"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", jsonType)
		for _, c := range cookies {
			req.AddCookie(c)
			if c.Name == "XSRF-TOKEN" && xsrf {
				req.Header.Set("X-XSRF-TOKEN", c.Value)
			}
		}
		st, _ := e.roundTrip(req)
		return st
	}
	before := e.snapshot()
	if st := send(false); st != 401 || e.snapshot() != before {
		t.Fatalf("write without XSRF header: %d", st)
	}
	if st := send(true); st != 201 {
		t.Fatalf("write with XSRF header: %d", st)
	}
	if st := e.withCookies("GET", usersV2, "", cookies, false); st != 200 {
		t.Fatalf("read: %d", st)
	}
}

// Analysis tokens analyse: v2 refuses them even for reads.
func TestV2AnalysisTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token := between(e.mustDo("POST", "api/user_tokens/generate", "name=ci&type=GLOBAL_ANALYSIS_TOKEN", 200), `"token":"`, `"`)
	if st, body := e.do("GET", usersV2, "", "Bearer "+token); st != 403 || body != msg("Insufficient privileges") {
		t.Errorf("search with an analysis token: %d %s", st, body)
	}
}
