package webapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Regression tests of the second security review: one per finding that the
// Web API shows (the others are in scim, store and cmd/scimgate).

// Finding 1: the escalation guard counts project, template and organisation
// permissions, not only global ones.
func TestGuardCoversEveryScope(t *testing.T) {
	carolAdmin := steps(privateWeb,
		"api/users/create?login=carol&name=Carol&password=Violet-sky-123",
		"api/permissions/add_user?login=carol&permission=admin&projectKey=web",
		"api/user_groups/create?name=webadmins",
		"api/permissions/add_group?groupName=webadmins&permission=admin&projectKey=web")
	setup := func(e *env) { withUserAdmin(e); carolAdmin(e) }
	noPerm := func(msg string) string { return errs("No permission: " + msg + " by user 'ua'") }
	run(t, []tcase{
		{name: "token for a project admin", auth: "ua", setup: setup, path: "api/user_tokens/generate", form: "login=carol&name=mine", status: 403, unchanged: true,
			body: noPerm("cannot change user 'carol' holding 'admin' on project 'web'")},
		{name: "password of a project admin", auth: "ua", setup: setup, path: "api/users/change_password", form: "login=carol&password=Taken-over-123", status: 403, unchanged: true,
			body: noPerm("cannot change user 'carol' holding 'admin' on project 'web'")},
		{name: "join a group administering a project", auth: "ua", setup: setup, path: "api/user_groups/add_user", form: "name=webadmins&login=ua", status: 403, unchanged: true,
			body: noPerm("cannot change group 'webadmins' holding 'admin' on project 'web'")},
		{name: "deactivate a project admin", auth: "ua", setup: setup, path: "api/users/deactivate", form: "login=carol", status: 403, unchanged: true,
			body: noPerm("cannot change user 'carol' holding 'admin' on project 'web'")},
		{name: "organisation member", auth: "ua", setup: func(e *env) { setup(e); steps(acme, "api/organizations/add_member?organization=acme&login=alice")(e) },
			path: "api/user_tokens/generate", form: "login=alice&name=mine", status: 403, unchanged: true,
			body: noPerm("cannot change user 'alice' holding member of organization 'acme'")},
	})
}

// Finding 4: removing a member from an organisation goes through the
// last-admin rule when admin holds admin only through an organisation group.
func TestOrgRemoveMemberKeepsAnAdmin(t *testing.T) {
	e := newEnv(t)
	steps(acme, "api/organizations/add_member?organization=acme&login=admin",
		"api/user_groups/create?name=acme-admins&organization=acme",
		"api/user_groups/add_user?name=acme-admins&login=admin",
		"api/permissions/add_group?groupName=acme-admins&permission=admin",
		"api/permissions/remove_group?groupName=sonar-administrators&permission=admin")(e)
	err := e.store.Update(t.Context(), func(tx store.Tx) error {
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
	st, body := e.do("POST", "api/organizations/remove_member", "organization=acme&login=admin", adminAuth)
	if st != 400 || body != errs("The last administrator user cannot be removed") {
		t.Fatalf("remove_member of the last admin: %d %s", st, body)
	}
	if e.snapshot() != before || !e.hasPerm("admin", store.PermAdmin) {
		t.Error("the refused removal changed the store")
	}
}

// Finding 9: deactivating a project's only administrator is refused, on
// both APIs (the rule is store.Deactivate's).
func TestDeactivateLastProjectAdmin(t *testing.T) {
	setup := steps(privateWeb, "api/users/create?login=carol&name=Carol&password=Violet-sky-123",
		"api/permissions/add_user?login=carol&permission=admin&projectKey=web",
		"api/permissions/remove_group?groupName=sonar-administrators&permission=admin&projectKey=web")
	run(t, []tcase{
		{name: "only admin of a project", setup: setup, path: "api/users/deactivate", form: "login=carol", status: 400, unchanged: true,
			body: errs("User is last administrator of project 'web', and cannot be deactivated")},
		{name: "another admin is left", setup: func(e *env) { setup(e); steps(aliceAdmin)(e) }, path: "api/users/deactivate", form: "login=carol", status: 200,
			check: func(t *testing.T, e *env) {
				if e.user("carol").Active {
					t.Error("still active")
				}
			}, body: `{"user":{"login":"carol","name":"Carol","active":false,"local":true,"externalIdentity":"carol","externalProvider":"sonarqube","groups":[],"scmAccounts":[]}}`},
	})
}

// Findings 6, 7, 10 and 11.
func TestSmallerFindings(t *testing.T) {
	huge := "p=4611686018427387905&ps=4"
	run(t, []tcase{
		{name: "6: scmAccount of a managed user", path: "api/users/update", form: "login=scim.user&scmAccount=mallory", status: 400, unchanged: true,
			body: errs("It is not allowed to update SCM accounts for this user")},
		{name: "6: trusted hosts of a managed user keep its SCIM version", path: "api/users/update", form: "login=scim.user&trustedHosts=10.0.0.0/8", status: 200,
			body: "golden:users_update_managed_hosts",
			check: func(t *testing.T, e *env) {
				if v := e.user("scim.user").Version; v != 1 {
					t.Errorf("version %d, want 1: the IdP's next If-Match would fail", v)
				}
			}},
		{name: "7: q does not match hidden e-mails", auth: "alice", method: "GET", path: "api/users/search", form: "q=example.com", status: 200,
			check: func(t *testing.T, e *env) {}, body: "golden:users_search_q_hidden_email"},
		{name: "10: no token for a deactivated user", setup: func(e *env) { e.mustDo("POST", "api/users/deactivate", "login=alice", 200) }, path: "api/user_tokens/generate", form: "login=alice&name=later", status: 404, unchanged: true,
			body: errs("User with login 'alice' doesn't exist")},
		{name: "11: users/search past the end", method: "GET", path: "api/users/search", form: huge, status: 200,
			body: `{"paging":{"pageIndex":4611686018427387905,"pageSize":4,"total":3},"users":[]}`},
		{name: "11: user_groups/search past the end", method: "GET", path: "api/user_groups/search", form: huge, status: 200,
			body: `{"groups":[],"paging":{"pageIndex":4611686018427387905,"pageSize":4,"total":4}}`},
		{name: "11: permissions/users past the end", method: "GET", path: "api/permissions/users", form: huge, status: 200,
			body: `{"paging":{"pageIndex":4611686018427387905,"pageSize":4,"total":3},"users":[]}`},
		{name: "11: projects/search past the end", setup: steps(privateWeb), method: "GET", path: "api/projects/search", form: huge, status: 200,
			body: `{"components":[],"paging":{"pageIndex":4611686018427387905,"pageSize":4,"total":1}}`},
		{name: "14: invisible characters in a group name", path: "api/user_groups/create", form: "name=" + url.QueryEscape("devs\u200b"), status: 400, unchanged: true,
			body: errs("Group name 'devs?' contains control or invisible characters")},
		{name: "8: Anyone stays reserved", path: "api/user_groups/update", form: "currentName=devs&name=ANYONE", status: 400, unchanged: true,
			body: errs("Anyone group cannot be used")},
	})
}

// Finding 5: an open session obeys password expiry like the password does.
func TestSessionObeysPasswordExpiry(t *testing.T) {
	e := newEnv(t)
	e.mustDo("POST", "api/users/create", "login=carl&name=Carl&password=Night-owl-1234&passwordExpirationDays=1", 200)
	st, cookies := e.session("carl", "Night-owl-1234")
	if st != 200 {
		t.Fatalf("login: %d", st)
	}
	if st := e.withCookies("GET", "api/users/current", "", cookies, false); st != 200 {
		t.Fatalf("fresh session: %d", st)
	}
	e.clock(func() time.Time { return time.Now().Add(2 * 24 * time.Hour) }) // within the 3-day idle timeout
	if st := e.withCookies("GET", "api/users/current", "", cookies, false); st != 401 {
		t.Fatalf("session after the password expired: %d", st)
	}
	// The expired password can still be changed through the session.
	if st := e.withCookies("POST", "api/users/change_password", "login=carl&previousPassword=Night-owl-1234&password=Night-owl-5678", cookies, true); st != 204 {
		t.Fatalf("change the expired password through the session: %d", st)
	}
}

// Finding 12: the XSRF token is bound to its session, and login and logout
// refuse cross-site requests.
func TestXSRFBoundToSession(t *testing.T) {
	e := newEnv(t)
	_, alice := e.session("alice", alicePass)
	_, admin := e.session("admin", adminPass)
	cookie := func(cs []*http.Cookie, name string) *http.Cookie {
		for _, c := range cs {
			if c.Name == name {
				return c
			}
		}
		t.Fatalf("no cookie %s in %v", name, cs)
		return nil
	}
	post := func(session, xsrfCookie, xsrfHeader string, origin string) int {
		req, err := http.NewRequest("POST", e.srv.URL+"/api/user_tokens/generate", strings.NewReader("name=x"+xsrfHeader[:4]))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "SCIMGATE-SESSION", Value: session})
		req.AddCookie(&http.Cookie{Name: "XSRF-TOKEN", Value: xsrfCookie})
		req.Header.Set("X-XSRF-TOKEN", xsrfHeader)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	aliceSession, aliceXSRF := cookie(alice, "SCIMGATE-SESSION").Value, cookie(alice, "XSRF-TOKEN").Value
	adminXSRF := cookie(admin, "XSRF-TOKEN").Value
	if st := post(aliceSession, "planted", "planted", ""); st != 401 {
		t.Errorf("a planted cookie and header pair: %d", st)
	}
	if st := post(aliceSession, adminXSRF, adminXSRF, ""); st != 401 {
		t.Errorf("another session's XSRF token: %d", st)
	}
	if st := post(aliceSession, aliceXSRF, aliceXSRF, ""); st != 200 {
		t.Errorf("the session's own XSRF token: %d", st)
	}
	// Login CSRF: another site's form cannot log the browser in.
	for _, h := range []map[string]string{{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}} {
		req, err := http.NewRequest("POST", e.srv.URL+"/api/authentication/login", strings.NewReader("login=alice&password="+url.QueryEscape(alicePass)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 || len(res.Cookies()) != 0 {
			t.Errorf("cross-site login %v: %d %v", h, res.StatusCode, res.Cookies())
		}
	}
	// Logout of a live session needs its XSRF token.
	if st := e.withCookies("POST", "api/authentication/logout", "", alice, false); st != 401 {
		t.Errorf("logout without the XSRF token: %d", st)
	}
	if st := e.withCookies("POST", "api/authentication/logout", "", alice, true); st != 200 {
		t.Errorf("logout with it: %d", st)
	}
}

// Finding 2: guesses arriving at once are reserved before the slow hash
// check, so the right password sent just after a burst is still refused.
func TestLockoutUnderParallelGuesses(t *testing.T) {
	e := newEnv(t)
	store.PasswordCost = 10 // slow enough that the guesses overlap
	defer func() { store.PasswordCost = 4 }()
	e.mustDo("POST", "api/users/create", "login=dora&name=Dora&password=Lantern-sky-1234", 200)
	done := make(chan int, 30)
	for i := 0; i < 30; i++ {
		go func() {
			st, _ := e.do("GET", "api/users/current", "", basic("dora", "wrong-guess"))
			done <- st
		}()
	}
	time.Sleep(20 * time.Millisecond)
	st, _ := e.do("GET", "api/users/current", "", basic("dora", "Lantern-sky-1234"))
	for i := 0; i < 30; i++ {
		if s := <-done; s != 401 {
			t.Errorf("wrong guess answered %d", s)
		}
	}
	if st != 401 {
		t.Fatalf("right password after 30 parallel guesses: %d, want 401 (locked)", st)
	}
}
