package webapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
)

// uaToken authenticates "ua", a local user holding only useradmin (see
// withUserAdmin).
var uaToken = "squ_" + strings.Repeat("ab", 20)

func withUserAdmin(e *env) {
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		ua, err := store.NewUser(tx, store.User{Login: "ua", Name: "User Admin", Active: true, Local: true, ExternalLogin: "ua", ExternalProvider: "sonarqube"})
		if err != nil {
			return err
		}
		if err := tx.Grant(store.UserSubject(ua.ID), store.PermUserAdmin); err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(uaToken), UserID: ua.ID, Name: "t", Type: store.TokenUser, Created: store.Now()})
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestAccountPolicyFields(t *testing.T) {
	locales := "de, en, en-GB, en-US, es, fr, it, ja, ko, pt, pt-BR, ru, zh, zh-CN, zh-TW"
	const ok = "&password=Str0ng-Passw0rd"
	run(t, []tcase{
		{name: "weak password: every rule", path: "api/users/create", form: "login=bob&name=Bob&password=bob", status: 400, unchanged: true,
			body: errs("Password must be at least 12 characters long", "Password must contain at least one uppercase character",
				"Password must contain at least one digit", "Password must contain at least one special character", "password contains login name")},
		{name: "repeated characters", path: "api/users/create", form: "login=bob&name=Bob&password=Paaa-ss-12345", status: 400, unchanged: true,
			body: errs("password should not repeat same characters")},
		{name: "contains the login", path: "api/users/create", form: "login=carol&name=C&password=My-CAROL-pass1", status: 400, unchanged: true,
			body: errs("password contains login name")},
		{name: "configured minimum length", path: "api/users/create", form: "login=bob&name=Bob" + ok, status: 400, unchanged: true,
			setup: func(e *env) { e.auth.Policy.PasswordMinLength = 20 },
			body:  errs("Password must be at least 20 characters long")},
		{name: "login and password problems together", path: "api/users/create", form: "login=.bob&name=&password=short", status: 400, unchanged: true,
			body: errs("Login should start with _ or alphanumeric.", "Name can't be empty", "Password must be at least 12 characters long",
				"Password must contain at least one uppercase character", "Password must contain at least one digit", "Password must contain at least one special character")},
		{name: "unsupported locale", path: "api/users/create", form: "login=bob&name=Bob&locale=xx" + ok, status: 400, unchanged: true,
			body: errs("Locale 'xx' is not supported. Supported locales: " + locales)},
		{name: "negative expiry", path: "api/users/create", form: "login=bob&name=Bob&passwordExpirationDays=-1" + ok, status: 400, unchanged: true,
			body: errs("Value of parameter 'passwordExpirationDays' (-1) must be a number of days from 0 (never) to 3650")},
		{name: "expiry not a number", path: "api/users/create", form: "login=bob&name=Bob&passwordExpirationDays=soon" + ok, status: 400, unchanged: true,
			body: errs("Value of parameter 'passwordExpirationDays' (soon) must be a number of days from 0 (never) to 3650")},
		{name: "session timeout too short", path: "api/users/create", form: "login=bob&name=Bob&sessionTimeout=59" + ok, status: 400, unchanged: true,
			body: errs("Value of parameter 'sessionTimeout' (59) must be a number of seconds from 60 to 604800")},
		{name: "session timeout too long", path: "api/users/create", form: "login=bob&name=Bob&sessionTimeout=604801" + ok, status: 400, unchanged: true,
			body: errs("Value of parameter 'sessionTimeout' (604801) must be a number of seconds from 60 to 604800")},
		{name: "lockout threshold too high", path: "api/users/create", form: "login=bob&name=Bob&lockoutThreshold=6" + ok, status: 400, unchanged: true,
			body: errs("Value of parameter 'lockoutThreshold' (6) must be a number of failures from 0 (never) to 5")},
		{name: "bad trusted host", path: "api/users/create", form: "login=bob&name=Bob&trustedHosts=10.0.0.0/8,10.0.0.0/33" + ok, status: 400, unchanged: true,
			body: errs("Trusted host '10.0.0.0/33' is not a valid IP address or CIDR range")},
		{name: "password settings on a non-local user", path: "api/users/create", form: "login=bob&name=Bob&local=false&sessionTimeout=600", status: 400, unchanged: true,
			body: errs("Password settings can only be set on local users")},
		{name: "create with every setting", path: "api/users/create", form: "login=bob&name=Bob&locale=fr&passwordExpirationDays=90&sessionTimeout=3600&lockoutThreshold=3&trustedHosts=10.1.2.3/16,+192.0.2.7" + ok, status: 200, body: "golden:users_create_settings",
			check: func(t *testing.T, e *env) {
				u := e.user("bob")
				if u.Locale != "fr" || u.Policy.PasswordExpirationDays == nil || *u.Policy.PasswordExpirationDays != 90 ||
					u.Policy.SessionTimeout != time.Hour || strings.Join(u.Policy.TrustedHosts, ",") != "10.1.0.0/16,192.0.2.7/32" || u.PasswordChanged.IsZero() ||
					u.Policy.LockoutThreshold == nil || *u.Policy.LockoutThreshold != 3 {
					t.Errorf("stored %+v", u)
				}
			}},
		{name: "update settings", path: "api/users/update", form: "login=alice&locale=en-GB&passwordExpirationDays=0&sessionTimeout=600&trustedHosts=127.0.0.1", status: 200, body: "golden:users_update_settings",
			check: func(t *testing.T, e *env) {
				u := e.user("alice")
				if u.Locale != "en-GB" || u.Policy.PasswordExpirationDays == nil || *u.Policy.PasswordExpirationDays != 0 ||
					u.Policy.SessionTimeout != 10*time.Minute || strings.Join(u.Policy.TrustedHosts, ",") != "127.0.0.1/32" {
					t.Errorf("stored %+v", u)
				}
			}},
		{name: "empty values clear settings", path: "api/users/update", form: "login=alice&locale=&passwordExpirationDays=&sessionTimeout=&trustedHosts=", status: 200, body: "golden:users_update_cleared",
			setup: func(e *env) {
				e.mustDo("POST", "api/users/update", "login=alice&locale=fr&passwordExpirationDays=5&sessionTimeout=600&trustedHosts=127.0.0.1", 200)
			},
			check: func(t *testing.T, e *env) {
				if u := e.user("alice"); u.Locale != "" || u.Policy.PasswordExpirationDays != nil || u.Policy.SessionTimeout != 0 || u.Policy.TrustedHosts != nil {
					t.Errorf("not cleared: %+v", u)
				}
			}},
		{name: "managed user: locale is the IdP's", path: "api/users/update", form: "login=scim.user&locale=fr", status: 400, unchanged: true,
			body: errs("It is not allowed to update locale for this user")},
		{name: "managed user: no password settings", path: "api/users/update", form: "login=scim.user&passwordExpirationDays=30", status: 400, unchanged: true,
			body: errs("Password settings can only be set on local users")},
		{name: "managed user: trusted hosts allowed", path: "api/users/update", form: "login=scim.user&trustedHosts=10.0.0.0/8", status: 200, body: "golden:users_update_managed_hosts",
			check: func(t *testing.T, e *env) {
				if u := e.user("scim.user"); strings.Join(u.Policy.TrustedHosts, ",") != "10.0.0.0/8" {
					t.Errorf("trusted hosts: %q", u.Policy.TrustedHosts)
				}
			}},
		{name: "change_password: contains login", path: "api/users/change_password", form: "login=alice&password=Alice-Alice-123", status: 400, unchanged: true,
			body: `{"result":"password contains login name"}`},
		{name: "change_password: repeats", path: "api/users/change_password", form: "login=alice&password=Brand-neeew-pass1", status: 400, unchanged: true,
			body: `{"result":"password should not repeat same characters"}`},
		{name: "change_password records the change time", path: "api/users/change_password", form: "login=alice&password=Brand-new-pass1", status: 204,
			check: func(t *testing.T, e *env) {
				if u := e.user("alice"); u.PasswordChanged.IsZero() || time.Since(u.PasswordChanged) > time.Minute {
					t.Errorf("PasswordChanged = %v", u.PasswordChanged)
				}
			}},
	})
}

func TestNoEscalation(t *testing.T) {
	noPerm := func(msg string) string { return errs("No permission: " + msg + " by user 'ua'") }
	run(t, []tcase{
		{name: "create a user", auth: "ua", setup: withUserAdmin, path: "api/users/create", form: "login=bob&name=Bob&password=Str0ng-Passw0rd", status: 200, body: "golden:users_create_delegated",
			check: func(t *testing.T, e *env) {
				if !e.member(store.DefaultGroup, "bob") {
					t.Error("not in the default group")
				}
			}},
		{name: "grant what it holds", auth: "ua", setup: withUserAdmin, path: "api/permissions/add_user", form: "login=alice&permission=useradmin", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.hasPerm("alice", "useradmin") {
					t.Error("not granted")
				}
			}},
		{name: "grant admin", auth: "ua", setup: withUserAdmin, path: "api/permissions/add_user", form: "login=alice&permission=admin", status: 403, unchanged: true,
			body: noPerm("cannot grant 'admin'")},
		{name: "grant to a group what it lacks", auth: "ua", setup: withUserAdmin, path: "api/permissions/add_group", form: "groupName=devs&permission=gateadmin", status: 403, unchanged: true,
			body: noPerm("cannot grant 'gateadmin'")},
		{name: "revoke admin", auth: "ua", setup: withUserAdmin, path: "api/permissions/remove_user", form: "login=admin&permission=admin", status: 403, unchanged: true,
			body: noPerm("cannot revoke 'admin'")},
		{name: "deactivate an admin", auth: "ua", setup: withUserAdmin, path: "api/users/deactivate", form: "login=admin", status: 403, unchanged: true,
			body: noPerm("cannot change user 'admin' holding 'admin'")},
		{name: "rename an admin", auth: "ua", setup: withUserAdmin, path: "api/users/update", form: "login=admin&name=Mallory", status: 403, unchanged: true,
			body: noPerm("cannot change user 'admin' holding 'admin'")},
		{name: "set an admin's password", auth: "ua", setup: withUserAdmin, path: "api/users/change_password", form: "login=admin&password=Taken-over-123", status: 403, unchanged: true,
			body: noPerm("cannot change user 'admin' holding 'admin'")},
		{name: "token for an admin", auth: "ua", setup: withUserAdmin, path: "api/user_tokens/generate", form: "login=admin&name=mine", status: 403, unchanged: true,
			body: noPerm("cannot change user 'admin' holding 'admin'")},
		{name: "join the admins group", auth: "ua", setup: withUserAdmin, path: "api/user_groups/add_user", form: "name=sonar-administrators&login=ua", status: 403, unchanged: true,
			body: noPerm("cannot change group 'sonar-administrators' holding 'admin'")},
		{name: "rename the admins group", auth: "ua", setup: withUserAdmin, path: "api/user_groups/update", form: "currentName=sonar-administrators&name=x", status: 403, unchanged: true,
			body: noPerm("cannot change group 'sonar-administrators' holding 'admin'")},
		{name: "unlock an admin", auth: "ua", setup: withUserAdmin, path: "api/scimgate/unlock", form: "login=admin", status: 403, unchanged: true,
			body: noPerm("cannot change user 'admin' holding 'admin'")},
		{name: "manage a less privileged user", auth: "ua", setup: withUserAdmin, path: "api/users/deactivate", form: "login=alice", status: 200, body: "golden:users_deactivate_delegated"},
		{name: "manage a plain group", auth: "ua", setup: withUserAdmin, path: "api/user_groups/add_user", form: "name=devs&login=alice", status: 204},
		{name: "token for a less privileged user", auth: "ua", setup: withUserAdmin, path: "api/user_tokens/generate", form: "login=alice&name=ci", status: 200, body: "golden:user_tokens_generate_delegated"},
		{name: "admin-only actions stay admin-only", auth: "ua", setup: withUserAdmin, method: "GET", path: "api/scimgate/audit", status: 403, body: errs("Insufficient privileges")},
		{name: "without useradmin", auth: "alice", path: "api/user_groups/create", form: "name=x", status: 403, unchanged: true, body: errs("Insufficient privileges")},
	})
}

// mustDo sends a request as admin and fails the test on another status.
func (e *env) mustDo(method, path, form string, status int) string {
	e.t.Helper()
	st, body := e.do(method, path, form, adminAuth)
	if st != status {
		e.t.Fatalf("%s %s: %d %s", method, path, st, body)
	}
	return body
}

func TestPasswordExpiryOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.mustDo("POST", "api/users/create", "login=carl&name=Carl&password=Night-owl-1234&passwordExpirationDays=30", 200)
	bob := basic("carl", "Night-owl-1234")
	if st, _ := e.do("GET", "api/users/current", "", bob); st != 200 {
		t.Fatalf("fresh password refused: %d", st)
	}
	e.clock(func() time.Time { return time.Now().Add(31 * 24 * time.Hour) })
	msg := errs("Your password has expired. Change it with api/users/change_password.")
	if st, body := e.do("GET", "api/users/current", "", bob); st != 401 || body != msg {
		t.Fatalf("expired password: %d %s", st, body)
	}
	if st, body := e.do("POST", "api/users/change_password", "login=alice&password=Other-pass-1234", bob); st != 401 || body != msg {
		t.Fatalf("an expired password changes only itself: %d %s", st, body)
	}
	if st, body := e.do("POST", "api/users/change_password", "login=carl&previousPassword=Night-owl-1234&password=Night-owl-5678", bob); st != 204 {
		t.Fatalf("changing an expired password: %d %s", st, body)
	}
	e.clock(func() time.Time { return time.Now().UTC().Add(29 * 24 * time.Hour) })
	if st, _ := e.do("GET", "api/users/current", "", basic("carl", "Night-owl-5678")); st != 200 {
		t.Fatalf("new password refused: %d", st)
	}
	// Tokens are not passwords: they keep working when the password expires.
	if st, _ := e.do("GET", "api/users/current", "", "Bearer "+e.aliceToken); st != 200 {
		t.Fatalf("token refused: %d", st)
	}
}

// session logs in and returns the client's cookies.
func (e *env) session(login, password string) (int, []*http.Cookie) {
	e.t.Helper()
	res, err := e.srv.Client().PostForm(e.srv.URL+"/api/authentication/login", url.Values{"login": {login}, "password": {password}})
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Cookies()
}

func (e *env) withCookies(method, path, form string, cookies []*http.Cookie, xsrf bool) int {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/"+path, strings.NewReader(form))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
		if c.Name == "XSRF-TOKEN" && xsrf {
			req.Header.Set("X-XSRF-TOKEN", c.Value)
		}
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestSessionsOverHTTP(t *testing.T) {
	e := newEnv(t)
	if st, cookies := e.session("alice", "wrong"); st != 401 || len(cookies) != 0 {
		t.Fatalf("wrong password: %d %v", st, cookies)
	}
	st, cookies := e.session("alice", alicePass)
	if st != 200 || len(cookies) != 2 {
		t.Fatalf("login: %d %v", st, cookies)
	}
	for _, c := range cookies {
		if c.Name == "SCIMGATE-SESSION" && !c.HttpOnly {
			t.Error("session cookie readable by scripts")
		}
	}
	if st := e.withCookies("GET", "api/users/current", "", cookies, false); st != 200 {
		t.Fatalf("GET with the session: %d", st)
	}
	post := "api/user_tokens/generate"
	if st := e.withCookies("POST", post, "name=t1", cookies, false); st != 401 {
		t.Fatalf("POST without the XSRF header: %d", st)
	}
	if st := e.withCookies("POST", post, "name=t1", cookies, true); st != 200 {
		t.Fatalf("POST with the XSRF header: %d", st)
	}
	// Idle past the timeout (instance default 3 days): the session is over.
	e.clock(func() time.Time { return time.Now().Add(73 * time.Hour) })
	if st := e.withCookies("GET", "api/users/current", "", cookies, false); st != 401 {
		t.Fatalf("idle session: %d", st)
	}
	e.clock(nil)
	_, cookies = e.session("alice", alicePass)
	if st := e.withCookies("POST", "api/authentication/logout", "", cookies, true); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	if st := e.withCookies("GET", "api/users/current", "", cookies, false); st != 401 {
		t.Fatalf("session after logout: %d", st)
	}
	// A stale cookie does not stop a new login.
	if st := e.withCookies("POST", "api/authentication/login", "login=alice&password="+url.QueryEscape(alicePass), cookies, false); st != 200 {
		t.Fatalf("login with a stale cookie: %d", st)
	}
}

func TestTrustedHostsOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.mustDo("POST", "api/users/update", "login=alice&trustedHosts=10.0.0.0/8", 200)
	alice := basic("alice", alicePass)
	for _, auth := range []string{alice, "Bearer " + e.aliceToken} {
		if st, body := e.do("GET", "api/users/current", "", auth); st != 401 || body != "" {
			t.Errorf("from 127.0.0.1, outside 10.0.0.0/8: %d %q", st, body)
		}
	}
	// X-Forwarded-For from an untrusted peer is ignored.
	req, err := http.NewRequest("GET", e.srv.URL+"/api/users/current", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", alice)
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	req.Header.Set("X-Real-Ip", "10.1.2.3")
	if res, err := e.srv.Client().Do(req); err != nil || res.StatusCode != 401 {
		t.Fatalf("spoofed forwarding header accepted: %v %v", res.StatusCode, err)
	}
	e.mustDo("POST", "api/users/update", "login=alice&trustedHosts=10.0.0.0/8,127.0.0.1", 200)
	for _, auth := range []string{alice, "Bearer " + e.aliceToken} {
		if st, _ := e.do("GET", "api/users/current", "", auth); st != 200 {
			t.Errorf("from a trusted host: %d", st)
		}
	}
}

func TestUnlock(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		e.do("GET", "api/users/current", "", basic("alice", "wrong"))
	}
	if st, _ := e.do("GET", "api/users/current", "", basic("alice", alicePass)); st != 401 {
		t.Fatal("not locked")
	}
	if body := e.mustDo("GET", "api/users/search", "q=alice", 200); !strings.Contains(body, `"locked":true`) {
		t.Fatalf("users/search does not show the lock to admins: %s", body)
	}
	if st, body := e.do("POST", "api/scimgate/unlock", "login=nobody", adminAuth); st != 404 || body != errs("User 'nobody' doesn't exist") {
		t.Fatalf("unknown user: %d %s", st, body)
	}
	e.mustDo("POST", "api/scimgate/unlock", "login=alice", 204)
	if body := e.mustDo("GET", "api/scimgate/audit", "name=alice&ps=1", 200); !strings.Contains(body, `"action":"unlocked"`) || !strings.Contains(body, `"actor":"admin"`) {
		t.Errorf("unlock not in the audit trail: %s", body)
	}
	if st, _ := e.do("GET", "api/users/current", "", basic("alice", alicePass)); st != 200 {
		t.Fatalf("still locked after unlock: %d", st)
	}
}
