package webapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzForm posts arbitrary form bodies to actions that write: never a 5xx,
// and a refused request changes nothing.
func FuzzForm(f *testing.F) {
	for _, s := range []string{
		"login=bob&name=Bob&password=pw", "login=%zz", "login=a&login=b&name=x&password=p",
		"name=&login=.x&password=", "login=" + strings.Repeat("a", 300), "scmAccount=+x&scmAccount=+x&login=ab&name=n&password=p",
		"login=\x00\xff&name=x&password=p", "email=a@b&login=ab&name=x&password=p", "local=maybe", "&&&==",
	} {
		f.Add("api/users/create", s)
	}
	f.Add("api/user_groups/create", "name=qa&description=x")
	f.Add("api/permissions/add_user", "login=alice&permission=scan")
	f.Add("api/user_tokens/generate", "name=x&expirationDate=2099-13-01")
	f.Add("api/users/update", "login=scim.user&name=x")
	f.Add("api/users/update", "login=alice&locale=fr&passwordExpirationDays=90&sessionTimeout=3600&trustedHosts=10.0.0.0/8,::1")
	f.Add("api/users/update", "login=alice&trustedHosts=10.0.0.0/99,,&sessionTimeout=1e9&passwordExpirationDays=-0")
	f.Add("api/users/create", "login=bob&name=Bob&password=Str0ng-Passw0rd&locale=xx")
	f.Add("api/authentication/login", "login=alice&password=x")
	f.Add("api/scimgate/unlock", "login=alice")
	f.Add("api/projects/create", "project=web&name=Web&visibility=private&organization=")
	f.Add("api/projects/create", "project=:&name=%00")
	f.Add("api/permissions/add_user", "login=alice&permission=user&projectKey=web&projectId=")
	f.Add("api/permissions/add_group", "groupName=anyone&permission=codeviewer&projectKey=web")
	f.Add("api/permissions/create_template", "name=t&projectKeyPattern=(a|b)*[")
	f.Add("api/permissions/add_group_to_template", "templateName=t&groupName=devs&permission=admin")
	f.Add("api/organizations/create", "key=acme&name=Acme")
	f.Add("api/organizations/add_member", "organization=acme&login=alice")
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, path, form string) {
		switch path {
		case "api/users/create", "api/user_groups/create", "api/permissions/add_user", "api/user_tokens/generate", "api/users/update",
			"api/authentication/login", "api/scimgate/unlock", "api/projects/create", "api/permissions/add_group",
			"api/permissions/create_template", "api/permissions/add_group_to_template", "api/organizations/create", "api/organizations/add_member":
		default:
			return
		}
		before := e.snapshot()
		req := httptest.NewRequest("POST", "/"+path, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", adminAuth)
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, form, rec.Code, rec.Body)
		}
		if rec.Code >= 400 && e.snapshot() != before {
			t.Fatalf("%s %q refused with %d but changed the store", path, form, rec.Code)
		}
	})
}

// FuzzV2 sends arbitrary REST API v2 requests (method, path with query
// parameters, content type, JSON body) as an administrator: never a 5xx, a
// refused request or a read changes nothing. {alice}, {scim}, {devs} and
// {okta} in the path or body stand for the fixtures' ids.
func FuzzV2(f *testing.F) {
	for _, s := range [][4]string{
		{"GET", "users-management/users?q=a&active=false&managed=true&pageIndex=2&pageSize=1", "", ""},
		{"GET", "users-management/users?groupId={okta}&groupId!={devs}&externalIdentity=x", "", ""},
		{"GET", "users-management/users?sonarQubeLastConnectionDateFrom=2020-01-01T00:00:00%2B0100&sonarLintLastConnectionDateTo=x", "", ""},
		{"GET", "users-management/users?pageIndex=99999999999999999999&pageSize=-1", "", ""},
		{"GET", "users-management/users/{scim}", "", ""},
		{"POST", "users-management/users", jsonType, `{"login":"bob","name":"Bob","email":"bob@example.com","password":"Str0ng-Passw0rd!","scmAccounts":["b1"]}`},
		{"POST", "users-management/users", jsonType, `{"login":"x","name":"","local":false,"scmAccounts":[null]}`},
		{"POST", "users-management/users", jsonType, `{"login":"bob","name":"\u0000\ud800","password":null}`},
		{"PATCH", "users-management/users/{alice}", mergeType, `{"login":"alice2","name":"A","email":"a@b.c","scmAccounts":["x","x"]}`},
		{"PATCH", "users-management/users/{scim}", mergeType, `{"externalProvider":"LDAP_x","externalLogin":"","externalId":"1"}`},
		{"PATCH", "users-management/users/{alice}", jsonType, `{"login":null}`},
		{"DELETE", "users-management/users/{alice}?anonymize=true", "", ""},
		{"GET", "authorizations/groups?q=o&managed=false&userId={scim}&userId!={alice}", "", ""},
		{"POST", "authorizations/groups", jsonType, `{"name":"qa","description":"x"}`},
		{"PATCH", "authorizations/groups/{devs}", mergeType, `{"name":"sonar-users"}`},
		{"DELETE", "authorizations/groups/{okta}", "", ""},
		{"GET", "authorizations/group-memberships?userId={alice}&groupId={devs}", "", ""},
		{"POST", "authorizations/group-memberships", jsonType, `{"groupId":"{devs}","userId":"{alice}"}`},
		{"DELETE", "authorizations/group-memberships/{okta}:{scim}", "", ""},
		{"POST", "authorizations/groups", "text/plain", `[1,2]`},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	e := newEnv(f)
	refs := strings.NewReplacer("{alice}", e.expand("{user:alice}"), "{scim}", e.expand("{user:scim.user}"),
		"{devs}", e.expand("{group:devs}"), "{okta}", e.expand("{group:okta-group}"))
	f.Fuzz(func(t *testing.T, method, target, ctype, body string) {
		switch method {
		case "GET", "POST", "PATCH", "DELETE":
		default:
			return
		}
		target = refs.Replace(target)
		if !strings.HasPrefix(target, "users-management/users") && !strings.HasPrefix(target, "authorizations/") {
			return
		}
		req, err := http.NewRequest(method, "/api/v2/"+target, strings.NewReader(refs.Replace(body)))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", adminAuth)
		before := e.snapshot()
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, target, body, rec.Code, rec.Body)
		}
		if (rec.Code >= 400 || method == "GET") && e.snapshot() != before {
			t.Fatalf("%s %s %q answered %d but changed the store", method, target, body, rec.Code)
		}
	})
}
