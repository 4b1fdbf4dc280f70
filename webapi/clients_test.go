package webapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Tests of what the most used SonarQube clients (the Terraform provider,
// python-sonarqube-api, admin scripts) call beyond the first round.

func TestPlatform(t *testing.T) {
	run(t, []tcase{
		{name: "system/info", method: "GET", path: "api/system/info", status: 200, body: "golden:system_info"},
		{name: "system/info needs admin", method: "GET", path: "api/system/info", auth: "alice", status: 403, body: errs("Insufficient privileges")},
		{name: "system/info anonymous", method: "GET", path: "api/system/info", auth: "none", status: 401, body: errs("Authentication is required")},
		{name: "server/version", method: "GET", path: "api/server/version", auth: "none", status: 200, body: "10.7.0.96327"},
		{name: "system/status anonymous", method: "GET", path: "api/system/status", auth: "none", status: 200, body: `{"status":"UP"}`},
		{name: "system/status logged in", method: "GET", path: "api/system/status", auth: "alice", status: 200, body: "golden:system_status"},
		{name: "system/health", method: "GET", path: "api/system/health", status: 200, body: `{"causes":[],"health":"GREEN"}`},
		{name: "system/health needs admin", method: "GET", path: "api/system/health", auth: "alice", status: 403, body: errs("Insufficient privileges")},
		{name: "system/ping", method: "GET", path: "api/system/ping", auth: "none", status: 200, body: "pong"},
		{name: "validate: bad token", method: "GET", path: "api/authentication/validate", auth: "Bearer squ_nope", status: 200, body: `{"valid":false}`},
		{name: "validate: bad password", method: "GET", path: "api/authentication/validate", auth: basic("admin", "wrong"), status: 200, body: `{"valid":false}`},
		{name: "validate: POST", path: "api/authentication/validate", auth: "alice", status: 200, body: `{"valid":true}`},
	})
}

// defaultTemplateID is the id of the first start's default template.
func (e *env) templateID(name string) string {
	e.t.Helper()
	var id string
	err := e.store.View(context.Background(), func(tx store.Tx) error {
		tpl, err := tx.TemplateByName(name)
		id = tpl.ID
		return err
	})
	if err != nil {
		e.t.Fatalf("template %s: %v", name, err)
	}
	return id
}

func TestTemplateActions(t *testing.T) {
	tpl := "api/permissions/create_template?name=team&projectKeyPattern=team-.*"
	withEntries := steps(tpl, "api/permissions/add_user_to_template?templateName=team&login=alice&permission=admin",
		"api/permissions/add_user_to_template?templateName=team&login=alice&permission=user",
		"api/permissions/add_group_to_template?templateName=team&groupName=devs&permission=codeviewer",
		"api/permissions/add_group_to_template?templateName=team&groupName=anyone&permission=user")
	run(t, []tcase{
		{name: "update_template", setup: steps(tpl), path: "api/permissions/update_template", status: 200, body: "golden:permissions_update_template",
			formf: func(e *env) string { return "id=" + e.templateID("team") + "&name=team2&description=For+teams" }},
		{name: "update_template keeps what is left out", setup: steps(tpl), path: "api/permissions/update_template", status: 200,
			formf: func(e *env) string { return "id=" + e.templateID("team") + "&description=x" },
			check: func(t *testing.T, e *env) {
				if e.templateID("team") == "" {
					t.Error("renamed")
				}
			}, body: "golden:permissions_update_template_partial"},
		{name: "update_template: name taken", setup: steps(tpl), path: "api/permissions/update_template", status: 400, unchanged: true,
			formf: func(e *env) string { return "id=" + e.templateID("team") + "&name=DEFAULT+template" },
			body:  errs("A template with the name 'DEFAULT template' already exists (case insensitive).")},
		{name: "update_template: unknown", path: "api/permissions/update_template", form: "id=nope&name=x", status: 404, unchanged: true,
			body: errs("Permission template with id 'nope' is not found")},
		{name: "template_users", setup: withEntries, method: "GET", path: "api/permissions/template_users", form: "templateName=team", status: 200, body: "golden:permissions_template_users"},
		{name: "template_users with q lists everyone matching", setup: withEntries, method: "GET", path: "api/permissions/template_users", form: "templateName=team&q=adm", status: 200,
			body: `{"paging":{"pageIndex":1,"pageSize":20,"total":1},"users":[{"login":"admin","name":"Administrator","permissions":[]}]}`},
		{name: "template_groups", setup: withEntries, method: "GET", path: "api/permissions/template_groups", form: "templateName=team", status: 200, body: "golden:permissions_template_groups"},
		{name: "template_groups by permission", setup: withEntries, method: "GET", path: "api/permissions/template_groups", form: "templateName=team&permission=codeviewer", status: 200,
			body: "golden:permissions_template_groups_codeviewer"},
		{name: "template_users needs admin", setup: withEntries, auth: "alice", method: "GET", path: "api/permissions/template_users", form: "templateName=team", status: 403,
			body: errs("Insufficient privileges")},
		{name: "project creator", setup: steps(tpl, "api/permissions/add_project_creator_to_template?templateName=team&permission=admin",
			"api/permissions/remove_group?groupName=sonar-users&permission=provisioning", "api/permissions/add_user?login=alice&permission=provisioning"),
			auth: "alice", path: "api/projects/create", form: "project=team-a&name=A&visibility=private", status: 200,
			body: `{"project":{"key":"team-a","name":"A","qualifier":"TRK","visibility":"private"}}`,
			check: func(t *testing.T, e *env) {
				if !e.holds("alice", "admin", "team-a") {
					t.Error("the project creator did not get admin")
				}
				body := e.mustDo("GET", "api/permissions/search_templates", "q=team", 200)
				if !strings.Contains(body, `{"key":"admin","usersCount":0,"groupsCount":0,"withProjectCreator":true}`) {
					t.Errorf("search_templates: %s", body)
				}
				// Applying the template later gives the creator nothing.
				e.mustDo("POST", "api/permissions/apply_template", "templateName=team&projectKey=team-a", 204)
				if e.holds("alice", "admin", "team-a") {
					t.Error("apply_template gave the project creator's permission")
				}
			}},
		{name: "remove project creator", setup: steps(tpl, "api/permissions/add_project_creator_to_template?templateName=team&permission=admin"),
			path: "api/permissions/remove_project_creator_from_template", form: "templateName=team&permission=admin", status: 204,
			check: func(t *testing.T, e *env) {
				if body := e.mustDo("GET", "api/permissions/search_templates", "q=team", 200); strings.Contains(body, `"withProjectCreator":true`) {
					t.Errorf("still with the project creator: %s", body)
				}
			}},
		{name: "project creator: bad permission", setup: steps(tpl), path: "api/permissions/add_project_creator_to_template", form: "templateName=team&permission=root", status: 400,
			unchanged: true, body: errs("Value of parameter 'permission' (root) must be one of: [admin, codeviewer, issueadmin, securityhotspotadmin, scan, user]")},
		{name: "bulk_apply_template", setup: func(e *env) { withEntries(e); steps(privateWeb, publicAPI)(e) },
			path: "api/permissions/bulk_apply_template", form: "templateName=team&projects=web", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.holds("alice", "admin", "web") || e.holds("alice", "admin", "api") {
					t.Error("template not applied to exactly web")
				}
			}},
		{name: "search_templates paged", setup: steps(tpl), method: "GET", path: "api/permissions/search_templates", form: "ps=1", status: 200,
			check: func(t *testing.T, e *env) {}, body: "golden:permissions_search_templates_paged"},
		{name: "search_templates page size too large", method: "GET", path: "api/permissions/search_templates", form: "ps=501", status: 400, body: errs("Page size must not exceed 500")},
	})
}

func TestProjectClients(t *testing.T) {
	run(t, []tcase{
		{name: "components/show", setup: steps(privateWeb, "api/project_tags/set?project=web&tags=Finance,+offshore"), method: "GET", path: "api/components/show",
			form: "component=web", status: 200, body: `{"ancestors":[],"component":{"key":"web","name":"Web","qualifier":"TRK","visibility":"private","tags":["finance","offshore"]}}`},
		{name: "components/show unknown", method: "GET", path: "api/components/show", form: "component=nope", status: 404, body: errs("Component key 'nope' not found")},
		{name: "components/show without Browse", auth: "alice", setup: steps(privateWeb, "api/permissions/remove_group?groupName=sonar-users&permission=user&projectKey=web"),
			method: "GET", path: "api/components/show", form: "component=web", status: 403, body: errs("Insufficient privileges")},
		{name: "project_tags/set clears with an empty value", setup: steps(privateWeb, "api/project_tags/set?project=web&tags=a"), path: "api/project_tags/set",
			form: "project=web&tags=", status: 204,
			check: func(t *testing.T, e *env) {
				if body := e.mustDo("GET", "api/components/show", "component=web", 200); !strings.Contains(body, `"tags":[]`) {
					t.Errorf("tags not cleared: %s", body)
				}
			}},
		{name: "project_tags/set invalid tag", setup: steps(privateWeb), path: "api/project_tags/set", form: "project=web&tags=ok,not+ok!", status: 400, unchanged: true,
			body: errs("Tag 'not ok!' is invalid. Tags accept only the characters: a-z, 0-9, '+', '-', '#', '.'")},
		{name: "project_tags/set needs Administer", auth: "alice", setup: steps(privateWeb), path: "api/project_tags/set", form: "project=web&tags=x", status: 403, unchanged: true,
			body: errs("Insufficient privileges")},
		{name: "project_tags/search", setup: steps(privateWeb, publicAPI, "api/project_tags/set?project=web&tags=finance,ops", "api/project_tags/set?project=api&tags=ops,web"),
			method: "GET", path: "api/project_tags/search", form: "q=o", status: 200, body: `{"tags":["ops"]}`},
		{name: "project_tags/search shows only browsable projects", auth: "alice",
			setup:  steps(privateWeb, "api/project_tags/set?project=web&tags=secret", "api/permissions/remove_group?groupName=sonar-users&permission=user&projectKey=web"),
			method: "GET", path: "api/project_tags/search", status: 200, body: `{"tags":[]}`},
		{name: "project_badges/token", setup: steps(privateWeb), method: "GET", path: "api/project_badges/token", form: "project=web", status: 200, body: "golden:project_badges_token",
			check: func(t *testing.T, e *env) {
				first := e.mustDo("GET", "api/project_badges/token", "project=web", 200)
				e.mustDo("POST", "api/project_badges/renew_token", "project=web", 204)
				if again := e.mustDo("GET", "api/project_badges/token", "project=web", 200); again == first || !strings.HasPrefix(again, `{"token":"sqb_`) {
					t.Errorf("renewed token %s, first %s", again, first)
				}
			}},
		{name: "project_badges/token unknown", method: "GET", path: "api/project_badges/token", form: "project=nope", status: 400, body: errs("Project or Application not found")},
		{name: "update_key", setup: steps(privateWeb, "api/project_tags/set?project=web&tags=kept"), path: "api/projects/update_key", form: "from=web&to=web2", status: 204,
			check: func(t *testing.T, e *env) {
				if st, _ := e.do("GET", "api/components/show", "component=web", adminAuth); st != 404 {
					t.Errorf("old key still answers: %d", st)
				}
				if body := e.mustDo("GET", "api/components/show", "component=web2", 200); !strings.Contains(body, `"tags":["kept"]`) {
					t.Errorf("new key: %s", body)
				}
			}},
		{name: "update_key to a taken key", setup: steps(privateWeb, publicAPI), path: "api/projects/update_key", form: "from=web&to=api", status: 400, unchanged: true,
			body: errs(`Impossible to update key: a component with key "api" already exists.`)},
		{name: "update_key malformed", setup: steps(privateWeb), path: "api/projects/update_key", form: "from=web&to=no+spaces", status: 400, unchanged: true,
			body: errs("Malformed key for Project: 'no spaces'. Allowed characters are alphanumeric, '-', '_', '.' and ':', with at least one non-digit.")},
		{name: "bulk_delete needs a filter", path: "api/projects/bulk_delete", status: 400, body: errs("At least one parameter among analyzedBefore, projects and q must be provided")},
		{name: "bulk_delete", setup: steps(privateWeb, publicAPI, "api/projects/create?project=web-2&name=Web2"), path: "api/projects/bulk_delete", form: "q=web", status: 204,
			check: func(t *testing.T, e *env) {
				if body := e.mustDo("GET", "api/projects/search", "", 200); !strings.Contains(body, `"total":1`) || !strings.Contains(body, `"key":"api"`) {
					t.Errorf("after bulk_delete: %s", body)
				}
			}},
		{name: "bulk_delete analyzedBefore in the future", setup: steps(privateWeb), path: "api/projects/bulk_delete", form: "analyzedBefore=2999-01-01", status: 400, unchanged: true,
			body: errs("Provided value for parameter analyzedBefore must not be a future date")},
		{name: "create is safe to retry", setup: steps(privateWeb), path: "api/projects/create", form: "project=web&name=Web&visibility=private", status: 200,
			body: `{"project":{"key":"web","name":"Web","qualifier":"TRK","visibility":"private"}}`},
		{name: "create over another project", setup: steps(privateWeb), path: "api/projects/create", form: "project=web&name=Other", status: 400, unchanged: true,
			body: errs(`Could not create Project with key: "web". A similar key already exists: "web"`)},
	})
}

func TestUserClients(t *testing.T) {
	run(t, []tcase{
		{name: "lastConnectedAfter needs admin", auth: "alice", method: "GET", path: "api/users/search", form: "lastConnectedAfter=2020-01-01T00:00:00%2B0000", status: 403,
			body: errs("parameter lastConnectedAfter requires Administer System permission.")},
		{name: "lastConnectedBefore malformed", method: "GET", path: "api/users/search", form: "lastConnectedBefore=yesterday", status: 400,
			body: errs("'yesterday' cannot be parsed as either a date or date+time")},
		{name: "update_identity_provider", path: "api/users/update_identity_provider", form: "login=alice&newExternalProvider=saml&newExternalIdentity=alice@corp", status: 204,
			check: func(t *testing.T, e *env) {
				if u := e.user("alice"); u.ExternalProvider != "saml" || u.ExternalLogin != "alice@corp" {
					t.Errorf("stored %s %s", u.ExternalProvider, u.ExternalLogin)
				}
			}},
		{name: "update_identity_provider bad provider", path: "api/users/update_identity_provider", form: "login=alice&newExternalProvider=myspace", status: 400, unchanged: true,
			body: errs("Value of parameter 'newExternalProvider' (myspace) must be one of: [github, gitlab, saml] or [LDAP, LDAP_{serverKey}]")},
		{name: "update_identity_provider of a managed user", path: "api/users/update_identity_provider", form: "login=scim.user&newExternalProvider=saml", status: 400, unchanged: true,
			body: errs("Operation not allowed when the instance is externally managed.")},
		{name: "anonymize an active user", path: "api/users/anonymize", form: "login=alice", status: 400, unchanged: true, body: errs("User 'alice' is not deactivated")},
		{name: "anonymize", setup: func(e *env) { e.mustDo("POST", "api/users/deactivate", "login=alice", 200) }, path: "api/users/anonymize", form: "login=alice", status: 204,
			check: func(t *testing.T, e *env) {
				body := e.mustDo("GET", "api/users/search", "deactivated=true", 200)
				if strings.Contains(body, `"alice"`) || !strings.Contains(body, "sq-removed-") {
					t.Errorf("not anonymised: %s", body)
				}
			}},
		{name: "anonymize unknown", path: "api/users/anonymize", form: "login=nobody", status: 404, body: errs("User 'nobody' doesn't exist")},
		{name: "project analysis token", setup: steps(privateWeb, "api/permissions/add_user?login=alice&permission=scan&projectKey=web"), auth: "alice",
			path: "api/user_tokens/generate", form: "name=ci&type=PROJECT_ANALYSIS_TOKEN&projectKey=web", status: 200, body: "golden:user_tokens_generate_project",
			check: func(t *testing.T, e *env) {
				body := e.mustDo("GET", "api/user_tokens/search", "login=alice", 200)
				if !strings.Contains(body, `"project":{"key":"web","name":"Web"}`) {
					t.Errorf("search: %s", body)
				}
			}},
		{name: "project analysis token without scan", setup: steps(privateWeb, "api/permissions/remove_group?groupName=sonar-users&permission=scan"), auth: "alice",
			path: "api/user_tokens/generate", form: "name=ci&type=PROJECT_ANALYSIS_TOKEN&projectKey=web", status: 403, unchanged: true, body: errs("Insufficient privileges")},
		{name: "project analysis token of an unknown project", auth: "alice", path: "api/user_tokens/generate", form: "name=ci&type=PROJECT_ANALYSIS_TOKEN&projectKey=nope",
			status: 404, unchanged: true, body: errs("Project key 'nope' not found")},
		{name: "global analysis token on a fresh instance", path: "api/user_tokens/generate", form: "name=ci&type=GLOBAL_ANALYSIS_TOKEN", status: 200, body: "golden:user_tokens_generate_global"},
	})
}

// Analysis tokens analyse; they administer nothing, and SCIM refuses them.
func TestAnalysisTokensOnlyAnalyse(t *testing.T) {
	e := newEnv(t)
	body := e.mustDo("POST", "api/user_tokens/generate", "name=ci&type=GLOBAL_ANALYSIS_TOKEN", 200)
	token := between(body, `"token":"`, `"`)
	if st, body := e.do("GET", "api/users/search", "", "Bearer "+token); st != 403 {
		t.Errorf("users/search with an analysis token: %d %s", st, body)
	}
	if _, body := e.do("GET", "api/authentication/validate", "", "Bearer "+token); body != `{"valid":true}` {
		t.Errorf("validate with an analysis token: %s", body)
	}
}

// Sign-ins record the user's and the token's last connection, at most once
// an hour, and users/search filters on it.
func TestLastConnection(t *testing.T) {
	e := newEnv(t)
	if st, _ := e.do("GET", "api/users/current", "", "Bearer "+e.aliceToken); st != 200 {
		t.Fatal(st)
	}
	e.flush()
	last := e.user("alice").LastConnection
	if last == nil {
		t.Fatal("last connection not recorded")
	}
	gen := e.store.Generation()
	for i := 0; i < 5; i++ {
		e.do("GET", "api/users/current", "", "Bearer "+e.aliceToken)
	}
	e.flush()
	if e.store.Generation() != gen {
		t.Error("the last connection was written again within the hour")
	}
	tokens := e.mustDo("GET", "api/user_tokens/search", "login=alice", 200)
	if !strings.Contains(tokens, `"lastConnectionDate"`) {
		t.Errorf("token last connection not shown: %s", tokens)
	}
	after := last.Add(-time.Minute).Format("2006-01-02T15:04:05-0700")
	body := e.mustDo("GET", "api/users/search", "lastConnectedAfter="+strings.ReplaceAll(after, "+", "%2B"), 200)
	if !strings.Contains(body, `"login":"alice"`) || strings.Contains(body, `"login":"scim.user"`) {
		t.Errorf("lastConnectedAfter: %s", body)
	}
	body = e.mustDo("GET", "api/users/search", "lastConnectedBefore="+strings.ReplaceAll(after, "+", "%2B"), 200)
	if strings.Contains(body, `"login":"alice"`) || !strings.Contains(body, `"login":"scim.user"`) {
		t.Errorf("lastConnectedBefore (never connected included): %s", body)
	}
}

func between(s, start, end string) string {
	_, rest, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, end)
	return v
}
