package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneProjectForOneTeam is the workflow admins ask about: "how do I give
// a user access to only one project?" Okta provisions users and a group
// through SCIM; the project is made private, Browse is taken from the
// members group (sonar-users) and granted to the Okta group; the answer
// endpoint, projects/search and the CLI agree on who can browse it, and
// follow the IdP's membership changes and deprovisioning.
func TestOneProjectForOneTeam(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	admin := basicAuth("admin", adminPass)
	form := "application/x-www-form-urlencoded"
	post := func(path, body string, want int) map[string]any {
		t.Helper()
		st, m, raw := g.req("POST", path, form, body, admin)
		if st != want {
			t.Fatalf("POST %s %s: %d %s", path, body, st, raw)
		}
		return m
	}
	bearer := "Bearer " + post("/api/user_tokens/generate", "name=okta", 200)["token"].(string)
	scimUser := func(login string) string {
		t.Helper()
		st, u, raw := g.req("POST", "/api/scim/v2/Users", "application/scim+json",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+login+`","name":{"givenName":"G","familyName":"F"},"emails":[{"primary":true,"value":"`+login+`@example.com","type":"work"}],"active":true}`, bearer)
		if st != 201 {
			t.Fatalf("SCIM create %s: %d %s", login, st, raw)
		}
		return u["id"].(string)
	}
	ana, ben := scimUser("ana"), scimUser("ben")
	st, grp, raw := g.req("POST", "/api/scim/v2/Groups", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"payments-team","members":[{"value":"`+ana+`"}]}`, bearer)
	if st != 201 {
		t.Fatalf("SCIM group: %d %s", st, raw)
	}
	groupID := grp["id"].(string)
	tokenOf := func(login string) string {
		return "Bearer " + post("/api/user_tokens/generate", "name=web&login="+login, 200)["token"].(string)
	}
	anaTok, benTok := tokenOf("ana"), tokenOf("ben")

	// Who can browse: from the answer endpoint, from projects/search as
	// each user, and from the CLI at the end.
	browsers := func() string {
		t.Helper()
		st, m, raw := g.req("GET", "/api/scimgate/access?project=payments", "", "", admin)
		if st != 200 {
			t.Fatalf("access: %d %s", st, raw)
		}
		var out []string
		for _, u := range m["users"].([]any) {
			u := u.(map[string]any)
			var via []string
			for _, v := range u["via"].([]any) {
				v := v.(map[string]any)
				via = append(via, strings.TrimSpace(fmt.Sprint(v["via"], " ", orBlank(v["group"]))))
			}
			out = append(out, u["login"].(string)+"("+strings.Join(via, ",")+")")
		}
		return strings.Join(out, " ")
	}
	sees := func(auth string) bool {
		t.Helper()
		st, _, raw := g.req("GET", "/api/projects/search", "", "", auth)
		if st != 200 {
			t.Fatalf("projects/search: %d %s", st, raw)
		}
		return strings.Contains(raw, `"key":"payments"`)
	}

	post("/api/projects/create", "project=payments&name=Payments", 200)
	if got := browsers(); got != "admin(public) ana(public) ben(public)" {
		t.Fatalf("public project: %s", got)
	}
	post("/api/projects/update_visibility", "project=payments&visibility=private", 204)
	post("/api/permissions/remove_group", "groupName=sonar-users&permission=user&projectKey=payments", 204)
	post("/api/permissions/add_group", "groupName=payments-team&permission=user&projectKey=payments", 204)
	if got := browsers(); got != "admin(group sonar-administrators) ana(group payments-team)" {
		t.Fatalf("private project for the team: %s", got)
	}
	if !sees(anaTok) || sees(benTok) {
		t.Fatalf("projects/search: ana sees %v, ben sees %v", sees(anaTok), sees(benTok))
	}

	// The IdP adds ben to the team: he can browse; membership stays the IdP's.
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + ben + `"}]}]}`
	if st, _, raw := g.req("PATCH", "/api/scim/v2/Groups/"+groupID, "application/scim+json", patch, bearer); st != 204 && st != 200 {
		t.Fatalf("SCIM add member: %d %s", st, raw)
	}
	if got := browsers(); got != "admin(group sonar-administrators) ana(group payments-team) ben(group payments-team)" {
		t.Fatalf("after the IdP added ben: %s", got)
	}
	if st, _, raw := g.req("POST", "/api/user_groups/remove_user", form, "name=payments-team&login=ben", admin); st != 400 ||
		raw != `{"errors":[{"msg":"Operation not allowed when the instance is externally managed."}]}` {
		t.Fatalf("Web API edit of the IdP's membership: %d %s", st, raw)
	}

	// Deprovisioning ana removes her access.
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
	if st, _, raw := g.req("PATCH", "/api/scim/v2/Users/"+ana, "application/scim+json", deactivate, bearer); st != 200 {
		t.Fatalf("SCIM deactivate: %d %s", st, raw)
	}
	if got := browsers(); got != "admin(group sonar-administrators) ben(group payments-team)" {
		t.Fatalf("after deprovisioning ana: %s", got)
	}

	// The CLI gives the same answer from the store file.
	dbPath := g.bolt.DB().Path()
	g.srv.Close()
	if err := g.bolt.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "access", "-db", dbPath, "payments")
	if code != 0 {
		t.Fatalf("access CLI: %d %s", code, errOut)
	}
	for _, want := range []string{"project payments (private): user", "admin", "group sonar-administrators", "ben", "group payments-team"} {
		if !strings.Contains(out, want) {
			t.Errorf("CLI output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ana ") {
		t.Errorf("CLI lists a deprovisioned user:\n%s", out)
	}
	if code, _, errOut := cli(t, "access", "-db", filepath.Join(t.TempDir(), "none.db"), "payments"); code == 0 {
		t.Errorf("access on an empty store succeeded: %s", errOut)
	}
}

func orBlank(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
