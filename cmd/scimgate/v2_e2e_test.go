package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// TestV2EndToEnd: a user and a group provisioned through SCIM read the same
// through the REST API v2 (same ids, managed, memberships); every v2 write on
// them is refused with the managed message and changes nothing; a local user
// made through v2 is edited through v1, and one made through v1 through v2.
func TestV2EndToEnd(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	admin := basicAuth("admin", adminPass)
	bearer := g.bearer("okta")
	const (
		jsonType, merge, form  = "application/json", "application/merge-patch+json", "application/x-www-form-urlencoded"
		users, groups, members = "/api/v2/users-management/users", "/api/v2/authorizations/groups", "/api/v2/authorizations/group-memberships"
		managed                = `{"message":"Operation not allowed when the instance is externally managed."}`
	)
	st, u, raw := g.req("POST", "/api/scim/v2/Users", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane.doe","name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"jane@example.com"}],"externalId":"00u9","active":true}`, bearer)
	if st != 201 {
		t.Fatalf("SCIM create user: %d %s", st, raw)
	}
	uid := u["id"].(string)
	st, grp, raw := g.req("POST", "/api/scim/v2/Groups", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"engineering","members":[{"value":"`+uid+`"}]}`, bearer)
	if st != 201 {
		t.Fatalf("SCIM create group: %d %s", st, raw)
	}
	gid := grp["id"].(string)

	// Reads: same ids, managed, the membership.
	st, vu, raw := g.req("GET", users+"/"+uid, "", "", admin)
	if st != 200 || vu["login"] != "jane.doe" || vu["managed"] != true || vu["externalId"] != "00u9" || vu["email"] != "jane@example.com" {
		t.Fatalf("v2 user: %d %s", st, raw)
	}
	st, vg, raw := g.req("GET", groups+"/"+gid, "", "", admin)
	if st != 200 || vg["name"] != "engineering" || vg["managed"] != true {
		t.Fatalf("v2 group: %d %s", st, raw)
	}
	st, ms, raw := g.req("GET", members+"?groupId="+gid, "", "", admin)
	if list, _ := ms["groupMemberships"].([]any); st != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != gid+":"+uid {
		t.Fatalf("v2 memberships: %d %s", st, raw)
	}
	st, _, raw = g.req("POST", "/api/user_groups/create", form, "name=local-team", admin)
	if st != 200 {
		t.Fatalf("v1 group: %d %s", st, raw)
	}
	_, local, _ := g.req("GET", groups+"?q=local-team", "", "", admin)
	localID := local["groups"].([]any)[0].(map[string]any)["id"].(string)

	// Writes on what SCIM owns: refused, nothing changed.
	before := g.snapshot()
	for _, tc := range []struct{ method, path, ctype, body, want string }{
		{"PATCH", users + "/" + uid, merge, `{"name":"Janet"}`, managed},
		{"PATCH", users + "/" + uid, merge, `{"login":"jane"}`, managed},
		{"PATCH", users + "/" + uid, merge, `{"email":"j2@example.com"}`, managed},
		{"PATCH", users + "/" + uid, merge, `{"scmAccounts":["jd"]}`, managed},
		{"PATCH", users + "/" + uid, merge, `{"externalId":"other"}`, managed},
		{"DELETE", users + "/" + uid, "", "", managed},
		{"DELETE", users + "/" + uid + "?anonymize=true", "", "", managed},
		{"POST", users, jsonType, `{"login":"jane.doe","name":"J","password":"Some-pass-1234!"}`, `{"message":"An active user with login 'jane.doe' already exists"}`},
		{"PATCH", groups + "/" + gid, merge, `{"name":"eng"}`, managed},
		{"PATCH", groups + "/" + gid, merge, `{"description":"x"}`, managed},
		{"DELETE", groups + "/" + gid, "", "", `{"message":"Deleting managed groups is not allowed."}`},
		{"POST", members, jsonType, `{"groupId":"` + gid + `","userId":"` + g.userID("admin") + `"}`, managed},
		{"DELETE", members + "/" + gid + ":" + uid, "", "", managed},
	} {
		st, _, raw := g.req(tc.method, tc.path, tc.ctype, tc.body, admin)
		if st != 400 || raw != tc.want {
			t.Errorf("%s %s %s: %d %s, want 400 %s", tc.method, tc.path, tc.body, st, raw, tc.want)
		}
	}
	if g.snapshot() != before {
		t.Fatal("refused v2 writes changed the store")
	}
	// A managed user may join a local group (SonarQube allows it): memberships
	// of local groups are the application's.
	if st, _, raw := g.req("POST", members, jsonType, `{"groupId":"`+localID+`","userId":"`+uid+`"}`, admin); st != 201 {
		t.Fatalf("managed user into local group: %d %s", st, raw)
	}

	// Made through v2, edited through v1.
	st, bob, raw := g.req("POST", users, jsonType, `{"login":"bob","name":"Bob","email":"bob@example.com","password":"Night-owl-1234!"}`, admin)
	if st != 200 {
		t.Fatalf("v2 create: %d %s", st, raw)
	}
	bobID := bob["id"].(string)
	if st, _, raw := g.req("POST", "/api/users/update", form, "login=bob&name=Robert", admin); st != 200 {
		t.Fatalf("v1 update of a v2 user: %d %s", st, raw)
	}
	if st, _, raw := g.req("POST", "/api/user_groups/add_user", form, "name=local-team&login=bob", admin); st != 204 {
		t.Fatalf("v1 add_user of a v2 user: %d %s", st, raw)
	}
	if _, got, raw := g.req("GET", users+"/"+bobID, "", "", admin); got["name"] != "Robert" {
		t.Fatalf("v2 read after v1 update: %s", raw)
	}
	if _, got, raw := g.req("GET", members+"?userId="+bobID+"&groupId="+localID, "", "", admin); len(got["groupMemberships"].([]any)) != 1 {
		t.Fatalf("v2 membership after v1 add_user: %s", raw)
	}

	// Made through v1, edited through v2.
	if st, _, raw := g.req("POST", "/api/users/create", form, "login=carol&name=Carol&password=Night-owl-1234!", admin); st != 200 {
		t.Fatalf("v1 create: %d %s", st, raw)
	}
	carolID := g.userID("carol")
	if st, _, raw := g.req("PATCH", users+"/"+carolID, merge, `{"name":"Caroline","email":"caroline@example.com"}`, admin); st != 200 {
		t.Fatalf("v2 patch of a v1 user: %d %s", st, raw)
	}
	if _, _, raw := g.req("GET", "/api/users/search?q=carol", "", "", admin); !containsAll(raw, `"name":"Caroline"`, `"email":"caroline@example.com"`) {
		t.Fatalf("v1 read after v2 patch: %s", raw)
	}
	if st, _, raw := g.req("DELETE", users+"/"+carolID, "", "", admin); st != 204 {
		t.Fatalf("v2 deactivate of a v1 user: %d %s", st, raw)
	}
	if _, _, raw := g.req("GET", "/api/users/search?q=carol&deactivated=true", "", "", admin); !containsAll(raw, `"login":"carol"`, `"active":false`) {
		t.Fatalf("v1 read after v2 deactivate: %s", raw)
	}
}

// userID is the id of the user with login; the test fails when there is none.
func (g *gateway) userID(login string) string {
	g.t.Helper()
	var id string
	must(g.t, g.store.View(context.Background(), func(tx store.Tx) error {
		u, err := tx.UserByLogin(login)
		if err == nil && u.Login != login {
			err = store.ErrNotFound
		}
		id = u.ID
		return err
	}))
	return id
}

// containsAll reports whether s contains every one of subs.
func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// The server serves the console: / redirects to it, and its pages carry
// their security headers.
func TestConsoleServed(t *testing.T) {
	g := newGateway(t)
	req, err := http.NewRequest("GET", g.srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := g.srv.Client().Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 302 || res.Header.Get("Location") != "/console/" {
		t.Fatalf("/ = %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	st, _, raw := g.req("GET", "/console/login", "", "", "")
	if st != 200 || !strings.Contains(raw, `name="password"`) {
		t.Fatalf("/console/login: %d", st)
	}
}
