package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestTerraformProviderCalls drives the calls the Terraform SonarQube
// provider makes for each resource it manages (create, read back, update,
// read back, delete), shaped as it sends them: POST parameters in the query
// string with an empty body, reads with GET. The first call is the
// provider's start-up check of the version and edition.
func TestTerraformProviderCalls(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	admin := basicAuth("admin", adminPass)
	call := func(method, path string, params url.Values, want int) map[string]any {
		t.Helper()
		req, err := http.NewRequest(method, g.srv.URL+"/"+path+"?"+params.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", admin)
		res, err := g.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != want {
			t.Fatalf("%s %s?%s: %d %s, want %d", method, path, params.Encode(), res.StatusCode, raw, want)
		}
		var m map[string]any
		if len(raw) > 0 && json.Unmarshal(raw, &m) != nil {
			m = map[string]any{"text": string(raw)}
		}
		return m
	}
	v := func(kv ...string) url.Values {
		out := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	has := func(what string, m map[string]any, want ...string) {
		t.Helper()
		raw, _ := json.Marshal(m)
		for _, w := range want {
			if !strings.Contains(string(raw), w) {
				t.Errorf("%s: %s lacks %s", what, raw, w)
			}
		}
	}
	lacks := func(what string, m map[string]any, unwanted string) {
		t.Helper()
		if raw, _ := json.Marshal(m); strings.Contains(string(raw), unwanted) {
			t.Errorf("%s: %s still has %s", what, raw, unwanted)
		}
	}

	// Provider start-up.
	info := call("GET", "api/system/info", nil, 200)
	has("system/info", info, `"Version":"10.7.0.96327"`, `"Edition":"Community"`)
	if got := call("GET", "api/server/version", nil, 200)["text"]; got != "10.7.0.96327" {
		t.Errorf("server/version %v", got)
	}

	// sonarqube_user
	call("POST", "api/users/create", v("login", "tf-user", "name", "TF User", "email", "tf@example.com", "password", "Terraform-pass-1", "local", "true"), 200)
	has("user read", call("GET", "api/users/search", v("q", "tf-user"), 200), `"login":"tf-user"`, `"name":"TF User"`, `"email":"tf@example.com"`)
	call("POST", "api/users/update", v("login", "tf-user", "name", "TF User 2", "email", "tf2@example.com"), 200)
	has("user read after update", call("GET", "api/users/search", v("q", "tf-user"), 200), `"name":"TF User 2"`, `"email":"tf2@example.com"`)

	// sonarqube_group and sonarqube_group_member
	call("POST", "api/user_groups/create", v("name", "tf-group", "description", "made by terraform"), 200)
	has("group read", call("GET", "api/user_groups/search", v("q", "tf-group", "f", "name,description,membersCount"), 200), `"name":"tf-group"`, `"description":"made by terraform"`)
	call("POST", "api/user_groups/update", v("currentName", "tf-group", "name", "tf-team", "description", "renamed"), 200)
	has("group read after update", call("GET", "api/user_groups/search", v("q", "tf-team"), 200), `"name":"tf-team"`, `"description":"renamed"`)
	call("POST", "api/user_groups/add_user", v("name", "tf-team", "login", "tf-user"), 204)
	has("member read", call("GET", "api/user_groups/users", v("name", "tf-team", "q", "tf-user"), 200), `"login":"tf-user"`)

	// sonarqube_project, with tags
	call("POST", "api/projects/create", v("name", "TF Project", "project", "tf-project", "visibility", "public"), 200)
	call("POST", "api/project_tags/set", v("project", "tf-project", "tags", "finance,ops"), 204)
	has("project read", call("GET", "api/components/show", v("component", "tf-project"), 200), `"key":"tf-project"`, `"visibility":"public"`, `"tags":["finance","ops"]`)
	// A failed follow-up makes the provider create again on its next run.
	call("POST", "api/projects/create", v("name", "TF Project", "project", "tf-project", "visibility", "public"), 200)
	call("POST", "api/projects/update_visibility", v("project", "tf-project", "visibility", "private"), 204)
	call("POST", "api/project_tags/set", v("project", "tf-project", "tags", "ops"), 204)
	call("POST", "api/projects/update_key", v("from", "tf-project", "to", "tf-project2"), 204)
	has("project read after update", call("GET", "api/components/show", v("component", "tf-project2"), 200), `"visibility":"private"`, `"tags":["ops"]`)

	// sonarqube_permission_template
	tpl := call("POST", "api/permissions/create_template", v("name", "tf-template", "description", "d", "projectKeyPattern", "tf-.*"), 200)
	tplID := tpl["permissionTemplate"].(map[string]any)["id"].(string)
	has("template read", call("GET", "api/permissions/search_templates", v("q", "tf-template"), 200), `"name":"tf-template"`, `"projectKeyPattern":"tf-.*"`)
	call("POST", "api/permissions/update_template", v("id", tplID, "name", "tf-template2", "description", "d2", "projectKeyPattern", "tf2-.*"), 200)
	has("template read after update", call("GET", "api/permissions/search_templates", v("q", "tf-template2"), 200), `"description":"d2"`, `"projectKeyPattern":"tf2-.*"`)

	// sonarqube_permissions: global, project and template; user and group.
	for _, scope := range []struct {
		name        string
		where       []string
		perms       [2]string
		users, grps string
	}{
		{"global", nil, [2]string{"gateadmin", "profileadmin"}, "api/permissions/users", "api/permissions/groups"},
		{"project", []string{"projectKey", "tf-project2"}, [2]string{"issueadmin", "scan"}, "api/permissions/users", "api/permissions/groups"},
		{"template by id", []string{"templateId", tplID}, [2]string{"codeviewer", "user"}, "api/permissions/template_users", "api/permissions/template_groups"},
		{"template by name", []string{"templateName", "tf-template2"}, [2]string{"admin", "scan"}, "api/permissions/template_users", "api/permissions/template_groups"},
	} {
		suffix := ""
		if len(scope.where) > 0 && strings.HasPrefix(scope.where[0], "template") {
			suffix = "_to_template"
		}
		rmSuffix := strings.Replace(suffix, "_to_", "_from_", 1)
		for _, who := range []struct{ key, name, read string }{{"login", "tf-user", scope.users}, {"groupName", "tf-team", scope.grps}} {
			add, remove := "api/permissions/add_user"+suffix, "api/permissions/remove_user"+rmSuffix
			if who.key == "groupName" {
				add, remove = "api/permissions/add_group"+suffix, "api/permissions/remove_group"+rmSuffix
			}
			with := func(kv ...string) url.Values {
				return v(append(append([]string{who.key, who.name}, scope.where...), kv...)...)
			}
			read := func() map[string]any {
				q := v(append([]string{"ps", "100"}, scope.where...)...)
				if suffix == "" {
					q.Set("q", who.name)
				}
				return call("GET", who.read, q, 200)
			}
			call("POST", add, with("permission", scope.perms[0]), 204)
			has(scope.name+" "+who.key+" read", read(), `"`+scope.perms[0]+`"`)
			call("POST", remove, with("permission", scope.perms[0]), 204)
			call("POST", add, with("permission", scope.perms[1]), 204)
			after := read()
			has(scope.name+" "+who.key+" read after update", after, `"`+scope.perms[1]+`"`)
			lacks(scope.name+" "+who.key+" read after update", after, `"permissions":["`+scope.perms[0]+`"]`)
			call("POST", remove, with("permission", scope.perms[1]), 204)
		}
	}

	// sonarqube_user_token: the three types.
	call("POST", "api/permissions/add_user", v("login", "admin", "permission", "scan", "projectKey", "tf-project2"), 204)
	for _, tok := range []url.Values{
		v("name", "tf-user-token", "login", "admin", "type", "USER_TOKEN", "expirationDate", "2099-12-31"),
		v("name", "tf-global", "type", "GLOBAL_ANALYSIS_TOKEN"),
		v("name", "tf-project", "type", "PROJECT_ANALYSIS_TOKEN", "projectKey", "tf-project2"),
	} {
		created := call("POST", "api/user_tokens/generate", tok, 200)
		has("token "+tok.Get("name"), created, `"name":"`+tok.Get("name")+`"`, `"token":"sq`)
		has("token read", call("GET", "api/user_tokens/search", v("login", "admin"), 200), `"name":"`+tok.Get("name")+`"`)
		call("POST", "api/user_tokens/revoke", v("name", tok.Get("name"), "login", "admin"), 204)
		lacks("token read after revoke", call("GET", "api/user_tokens/search", v("login", "admin"), 200), `"name":"`+tok.Get("name")+`"`)
	}

	// Deletes, in the provider's order.
	call("POST", "api/user_groups/remove_user", v("name", "tf-team", "login", "tf-user"), 204)
	lacks("member read after delete", call("GET", "api/user_groups/users", v("name", "tf-team", "q", "tf-user"), 200), `"login":"tf-user"`)
	call("POST", "api/permissions/delete_template", v("templateId", tplID), 204)
	lacks("template read after delete", call("GET", "api/permissions/search_templates", v("q", "tf-template"), 200), "tf-template")
	call("POST", "api/projects/delete", v("project", "tf-project2"), 204)
	call("GET", "api/components/show", v("component", "tf-project2"), 404)
	call("POST", "api/user_groups/delete", v("name", "tf-team"), 204)
	lacks("group read after delete", call("GET", "api/user_groups/search", v("q", "tf-team"), 200), "tf-team")
	call("POST", "api/users/deactivate", v("login", "tf-user"), 200)
	lacks("user read after delete", call("GET", "api/users/search", v("q", "tf-user"), 200), `"login":"tf-user"`)
}
