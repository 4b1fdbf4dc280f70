package webapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// steps returns a setup that runs admin requests in order, each expected to
// succeed.
func steps(reqs ...string) func(e *env) {
	return func(e *env) {
		for _, r := range reqs {
			path, form, _ := strings.Cut(r, "?")
			status := 204
			for _, p := range []string{"projects/create", "organizations/", "create_template", "user_groups/create", "users/create", "users/deactivate"} {
				if strings.Contains(path, p) {
					status = 200
				}
			}
			e.mustDo("POST", path, form, status)
		}
	}
}

var (
	privateWeb = "api/projects/create?project=web&name=Web&visibility=private"
	publicAPI  = "api/projects/create?project=api&name=API"
	acme       = "api/organizations/create?key=acme&name=Acme"
	aliceAdmin = "api/permissions/add_user?login=alice&permission=admin&projectKey=web"
)

// holds reports whether login holds perm on the project with key.
func (e *env) holds(login, perm, key string) bool {
	e.t.Helper()
	var ok bool
	e.view(func(tx store.Tx) error {
		u, err := userIn(tx, login)
		if err != nil {
			return err
		}
		p, err := tx.ProjectByKey(key)
		if err != nil {
			return fmt.Errorf("project %q: %w", key, err)
		}
		ok, err = store.HasProjectPermission(tx, u.ID, p, perm)
		return err
	})
	return ok
}

func TestProjects(t *testing.T) {
	const malformed = "Allowed characters are alphanumeric, '-', '_', '.' and ':', with at least one non-digit."
	run(t, []tcase{
		{name: "create public", path: "api/projects/create", form: "project=my_project&name=My+Project", status: 200, body: "golden:projects_create"},
		{name: "create private", path: "api/projects/create", form: "project=web&name=Web&visibility=private", status: 200,
			body: `{"project":{"key":"web","name":"Web","qualifier":"TRK","visibility":"private"}}`},
		{name: "malformed key", path: "api/projects/create", form: "project=my+project&name=x", status: 400, unchanged: true,
			body: errs("Malformed key for Project: 'my project'. " + malformed)},
		{name: "digits only", path: "api/projects/create", form: "project=123&name=x", status: 400, unchanged: true,
			body: errs("Malformed key for Project: '123'. " + malformed)},
		{name: "similar key", setup: steps(privateWeb), path: "api/projects/create", form: "project=WEB&name=x", status: 400, unchanged: true,
			body: errs(`Could not create Project with key: "WEB". A similar key already exists: "web"`)},
		{name: "empty name", path: "api/projects/create", form: "project=k&name=", status: 400, unchanged: true, body: errs("The 'name' parameter is missing")},
		{name: "bad visibility", path: "api/projects/create", form: "project=k&name=k&visibility=secret", status: 400, unchanged: true,
			body: errs("Value of parameter 'visibility' (secret) must be one of: [private, public]")},
		{name: "without provisioning", auth: "alice", setup: steps("api/permissions/remove_group?groupName=sonar-users&permission=provisioning"), path: "api/projects/create", form: "project=k&name=k", status: 403, unchanged: true, body: errs("Insufficient privileges")},
		{name: "with provisioning", auth: "alice", setup: steps("api/permissions/add_user?login=alice&permission=provisioning"),
			path: "api/projects/create", form: "project=k&name=k", status: 200, body: `{"project":{"key":"k","name":"k","qualifier":"TRK","visibility":"public"}}`},
		{name: "unknown organization", path: "api/projects/create", form: "project=k&name=k&organization=nope", status: 404, unchanged: true,
			body: errs("No organization found with key: nope")},
		{name: "organization: creator must be a member", auth: "alice", setup: steps(acme, "api/permissions/add_user?login=alice&permission=provisioning"),
			path: "api/projects/create", form: "project=k&name=k&organization=acme", status: 400, unchanged: true,
			body: errs("User 'alice' is not member of organization 'acme'")},
		{name: "delete unknown", path: "api/projects/delete", form: "project=nope", status: 404, body: errs("Project 'nope' not found")},
		{name: "delete without admin", auth: "alice", setup: steps(privateWeb), path: "api/projects/delete", form: "project=web", status: 403, unchanged: true,
			body: errs("Insufficient privileges")},
		{name: "delete as project admin", auth: "alice", setup: steps(privateWeb, aliceAdmin), path: "api/projects/delete", form: "project=web", status: 204,
			check: func(t *testing.T, e *env) {
				if st, _ := e.do("GET", "api/scimgate/access", "project=web", adminAuth); st != 404 {
					t.Errorf("deleted project still answers: %d", st)
				}
			}},
		{name: "make private", setup: steps(publicAPI, "api/permissions/remove_group?groupName=sonar-users&permission=issueadmin&projectKey=api",
			"api/permissions/remove_group?groupName=sonar-users&permission=securityhotspotadmin&projectKey=api"), path: "api/projects/update_visibility", form: "project=api&visibility=private", status: 204,
			check: func(t *testing.T, e *env) {
				if e.holds("alice", "user", "api") {
					t.Error("alice still browses a private project")
				}
			}},
		{name: "search as admin", setup: steps(privateWeb, publicAPI), method: "GET", path: "api/projects/search", status: 200, body: "golden:projects_search"},
		{name: "search as a user: public and granted only", auth: "alice", setup: steps(privateWeb, publicAPI, "api/projects/create?project=mine&name=Mine&visibility=private",
			"api/permissions/remove_group?groupName=sonar-users&permission=user&projectKey=web",
			"api/permissions/remove_group?groupName=sonar-users&permission=user&projectKey=mine",
			"api/permissions/add_user?login=alice&permission=user&projectKey=mine"), method: "GET", path: "api/projects/search", status: 200,
			body: `{"components":[{"key":"api","name":"API","qualifier":"TRK","visibility":"public"},{"key":"mine","name":"Mine","qualifier":"TRK","visibility":"private"}],"paging":{"pageIndex":1,"pageSize":100,"total":2}}`},
	})
}

func TestProjectPermissions(t *testing.T) {
	run(t, []tcase{
		{name: "id and key", path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=web&projectId=x", status: 400, unchanged: true,
			body: errs("Project id or project key can be provided, not both.")},
		{name: "unknown project", path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=nope", status: 404, unchanged: true,
			body: errs("Entity not found")},
		{name: "global permission on a project", setup: steps(privateWeb), path: "api/permissions/add_user", form: "login=alice&permission=gateadmin&projectKey=web", status: 400, unchanged: true,
			body: errs("Invalid project permission 'gateadmin'. Valid values are [admin, codeviewer, issueadmin, securityhotspotadmin, scan, user]")},
		{name: "browse on a private project", setup: steps(privateWeb), path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=web", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.holds("alice", "user", "web") {
					t.Error("not granted")
				}
			}},
		{name: "browse on a public project is implied", setup: steps(publicAPI), path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=api", status: 204, unchanged: true},
		{name: "remove browse from a public project", setup: steps(publicAPI), path: "api/permissions/remove_user", form: "login=alice&permission=user&projectKey=api", status: 400, unchanged: true,
			body: errs("Permission user can't be removed from a public component")},
		{name: "remove codeviewer from Anyone on a public project", setup: steps(publicAPI), path: "api/permissions/remove_group", form: "groupName=anyone&permission=codeviewer&projectKey=api", status: 400, unchanged: true,
			body: errs("Permission codeviewer can't be removed from a public component")},
		{name: "Anyone on a private project", setup: steps(privateWeb), path: "api/permissions/add_group", form: "groupName=Anyone&permission=scan&projectKey=web", status: 400, unchanged: true,
			body: errs("No permission can be granted to Anyone on a private component")},
		{name: "admin to Anyone on a project", setup: steps(publicAPI), path: "api/permissions/add_group", form: "groupName=anyone&permission=admin&projectKey=api", status: 400, unchanged: true,
			body: errs("It is not possible to add the 'admin' permission to group 'Anyone'.")},
		{name: "last project admin", setup: steps(privateWeb, aliceAdmin, "api/permissions/remove_group?groupName=sonar-administrators&permission=admin&projectKey=web"), path: "api/permissions/remove_user", form: "login=alice&permission=admin&projectKey=web", status: 400, unchanged: true,
			body: errs("Last user with permission 'admin' on project 'web'. Permission cannot be removed.")},
		{name: "project admin keeps its own browse", auth: "alice", setup: steps(privateWeb, aliceAdmin, "api/permissions/add_user?login=alice&permission=user&projectKey=web"),
			path: "api/permissions/remove_user", form: "login=alice&permission=user&projectKey=web", status: 400, unchanged: true,
			body: errs("Permission 'Browse' cannot be removed from a private project for a project administrator.")},
		{name: "project admin grants on its project", auth: "alice", setup: steps(privateWeb, aliceAdmin), path: "api/permissions/add_group", form: "groupName=devs&permission=user&projectKey=web", status: 204},
		{name: "project admin cannot grant globally", auth: "alice", setup: steps(privateWeb, aliceAdmin), path: "api/permissions/add_group", form: "groupName=devs&permission=scan", status: 403, unchanged: true,
			body: errs("Insufficient privileges")},
		{name: "others cannot grant on a project", auth: "alice", setup: steps(privateWeb), path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=web", status: 403, unchanged: true,
			body: errs("Insufficient privileges")},
		{name: "managed group may hold project permissions", setup: steps(privateWeb), path: "api/permissions/add_group", form: "groupName=okta-group&permission=user&projectKey=web", status: 204,
			check: func(t *testing.T, e *env) {
				if !e.holds("scim.user", "user", "web") {
					t.Error("member of the managed group cannot browse")
				}
			}},
		{name: "organization project: members only", setup: steps(acme, "api/projects/create?project=acme-web&name=W&visibility=private&organization=acme"),
			path: "api/permissions/add_user", form: "login=alice&permission=user&projectKey=acme-web", status: 400, unchanged: true,
			body: errs("User 'alice' is not member of organization 'acme'")},
		{name: "users of a project", setup: steps(privateWeb, aliceAdmin, "api/permissions/add_group?groupName=okta-group&permission=user&projectKey=web"),
			method: "GET", path: "api/permissions/users", form: "projectKey=web", status: 200, body: "golden:permissions_users_project"},
		{name: "groups of a project", setup: steps(privateWeb, "api/permissions/add_group?groupName=okta-group&permission=user&projectKey=web"),
			method: "GET", path: "api/permissions/groups", form: "projectKey=web&permission=user", status: 200, body: "golden:permissions_groups_project"},
	})
}

func TestTemplates(t *testing.T) {
	const tpl = "api/permissions/create_template?name=restricted&projectKeyPattern=secret-.*"
	run(t, []tcase{
		{name: "create", path: "api/permissions/create_template", form: "name=restricted&description=Private+projects&projectKeyPattern=secret-.*", status: 200,
			body: "golden:permissions_create_template"},
		{name: "duplicate name", setup: steps(tpl), path: "api/permissions/create_template", form: "name=RESTRICTED", status: 400, unchanged: true,
			body: errs("A template with the name 'RESTRICTED' already exists (case insensitive).")},
		{name: "bad pattern", path: "api/permissions/create_template", form: "name=x&projectKeyPattern=(", status: 400, unchanged: true,
			body: errs("The 'projectKeyPattern' parameter must be a valid Java regex. '(' was passed")},
		{name: "blank name", path: "api/permissions/create_template", form: "name=+", status: 400, unchanged: true, body: errs("The template name must not be blank")},
		{name: "id and name", path: "api/permissions/add_user_to_template", form: "login=alice&permission=user&templateId=x&templateName=y", status: 400, unchanged: true,
			body: errs("Template name or template id must be provided, not both.")},
		{name: "neither id nor name", path: "api/permissions/set_default_template", status: 400, unchanged: true,
			body: errs("Template name or template id must be provided, not both.")},
		{name: "unknown id", path: "api/permissions/delete_template", form: "templateId=x", status: 404, unchanged: true,
			body: errs("Permission template with id 'x' is not found")},
		{name: "unknown name", path: "api/permissions/delete_template", form: "templateName=nope", status: 404, unchanged: true,
			body: errs("Permission template with name 'nope' is not found (case insensitive)")},
		{name: "invalid permission", setup: steps(tpl), path: "api/permissions/add_user_to_template", form: "templateName=restricted&login=alice&permission=gateadmin", status: 400, unchanged: true,
			body: errs("Invalid project permission 'gateadmin'. Valid values are [admin, codeviewer, issueadmin, securityhotspotadmin, scan, user]")},
		{name: "admin to Anyone", setup: steps(tpl), path: "api/permissions/add_group_to_template", form: "templateName=restricted&groupName=anyone&permission=admin", status: 400, unchanged: true,
			body: errs("It is not possible to add the 'admin' permission to the group 'Anyone'.")},
		{name: "delete the default", setup: steps(tpl, "api/permissions/set_default_template?templateName=restricted"), path: "api/permissions/delete_template", form: "templateName=restricted", status: 400, unchanged: true,
			body: errs("It is not possible to delete the default permission template for projects")},
		{name: "apply without project", setup: steps(tpl), path: "api/permissions/apply_template", form: "templateName=restricted", status: 400, unchanged: true,
			body: errs("Project id or project key must be provided")},
		{name: "non-admin", auth: "alice", path: "api/permissions/create_template", form: "name=x", status: 403, unchanged: true, body: errs("Insufficient privileges")},
		{name: "template of another organization", setup: steps(acme, privateWeb, "api/permissions/create_template?name=acme-only&organization=acme"),
			path: "api/permissions/apply_template", form: "templateName=acme-only&projectKey=web", status: 400, unchanged: true,
			body: errs("Template 'acme-only' belongs to another organization than project 'web'")},
		{name: "template of an unknown organization", path: "api/permissions/create_template", form: "name=x&organization=nope", status: 404, unchanged: true,
			body: errs("No organization found with key: nope")},
		{name: "search", setup: steps(tpl, "api/permissions/add_group_to_template?templateName=restricted&groupName=okta-group&permission=user",
			"api/permissions/add_user_to_template?templateName=restricted&login=alice&permission=admin", "api/permissions/set_default_template?templateName=restricted"),
			method: "GET", path: "api/permissions/search_templates", status: 200, body: "golden:permissions_search_templates"},
		{name: "the matching template applies to new projects", setup: steps(tpl, "api/permissions/add_group_to_template?templateName=restricted&groupName=okta-group&permission=user"),
			path: "api/projects/create", form: "project=secret-x&name=X&visibility=private", status: 200, body: `{"project":{"key":"secret-x","name":"X","qualifier":"TRK","visibility":"private"}}`,
			check: func(t *testing.T, e *env) {
				if !e.holds("scim.user", "user", "secret-x") || e.holds("alice", "user", "secret-x") {
					t.Error("template not applied")
				}
			}},
		{name: "apply replaces the project's permissions", setup: steps(privateWeb, "api/permissions/add_user?login=alice&permission=user&projectKey=web", tpl,
			"api/permissions/add_group_to_template?templateName=restricted&groupName=okta-group&permission=user"),
			path: "api/permissions/apply_template", form: "templateName=restricted&projectKey=web", status: 204,
			check: func(t *testing.T, e *env) {
				if e.holds("alice", "user", "web") || !e.holds("scim.user", "user", "web") {
					t.Error("permissions not replaced by the template's")
				}
			}},
	})
}

func TestOrganizations(t *testing.T) {
	acmeGroup := "api/user_groups/create?name=acme-devs&organization=acme"
	run(t, []tcase{
		{name: "create", path: "api/organizations/create", form: "key=acme&name=Acme&description=Rockets", status: 200,
			body: `{"organization":{"key":"acme","name":"Acme","description":"Rockets"}}`},
		{name: "duplicate key", setup: steps(acme), path: "api/organizations/create", form: "key=acme&name=Other", status: 400, unchanged: true,
			body: errs("Key 'acme' is already used. Specify another one.")},
		{name: "bad key", path: "api/organizations/create", form: "key=Acme+Corp&name=x", status: 400, unchanged: true,
			body: errs("Organization key 'Acme Corp' must contain only lowercase letters, digits and dashes, and start with a letter or digit")},
		{name: "add member", setup: steps(acme), path: "api/organizations/add_member", form: "organization=acme&login=alice", status: 200,
			body: `{"user":{"login":"alice","name":"Alice","avatar":"c160f8cc69a4f0bf2b0362752353d060","groupCount":0}}`},
		{name: "unknown organization", path: "api/organizations/add_member", form: "organization=nope&login=alice", status: 404, unchanged: true,
			body: errs("No organization found with key: nope")},
		{name: "unknown user", setup: steps(acme), path: "api/organizations/add_member", form: "organization=acme&login=nobody", status: 404, unchanged: true,
			body: errs("User with login 'nobody' is not found'")},
		{name: "group of an unknown organization", path: "api/user_groups/create", form: "name=x&organization=nope", status: 404, unchanged: true,
			body: errs("No organization found with key: nope")},
		{name: "membership before group", setup: steps(acme, acmeGroup), path: "api/user_groups/add_user", form: "name=acme-devs&login=alice", status: 400, unchanged: true,
			body: errs("User 'alice' is not member of organization 'acme'")},
		{name: "member joins the group", setup: steps(acme, acmeGroup, "api/organizations/add_member?organization=acme&login=alice"),
			path: "api/user_groups/add_user", form: "name=acme-devs&login=alice", status: 204},
		{name: "remove member cascades", setup: steps(acme, acmeGroup, "api/organizations/add_member?organization=acme&login=alice",
			"api/user_groups/add_user?name=acme-devs&login=alice", "api/projects/create?project=acme-web&name=W&visibility=private&organization=acme",
			"api/permissions/add_user?login=alice&permission=user&projectKey=acme-web"),
			path: "api/organizations/remove_member", form: "organization=acme&login=alice", status: 204,
			check: func(t *testing.T, e *env) {
				if e.member("acme-devs", "alice") || e.holds("alice", "user", "acme-web") {
					t.Error("membership removal left group membership or project access")
				}
			}},
		{name: "search members", setup: steps(acme, "api/organizations/add_member?organization=acme&login=alice"), method: "GET", path: "api/organizations/search_members",
			form: "organization=acme", status: 200,
			body: `{"paging":{"pageIndex":1,"pageSize":50,"total":1},"users":[{"login":"alice","name":"Alice","avatar":"c160f8cc69a4f0bf2b0362752353d060","groupCount":0}]}`},
		{name: "search members: non-member", auth: "alice", setup: steps(acme), method: "GET", path: "api/organizations/search_members", form: "organization=acme", status: 403,
			body: errs("Insufficient privileges")},
		{name: "search organizations as a member", auth: "alice", setup: steps(acme, "api/organizations/create?key=other&name=Other", "api/organizations/add_member?organization=acme&login=alice"),
			method: "GET", path: "api/organizations/search", status: 200, body: `{"organizations":[{"key":"acme","name":"Acme"}]}`},
		{name: "members see their organization's projects, private ones with Browse only", auth: "alice",
			setup: steps(acme, "api/organizations/add_member?organization=acme&login=alice",
				"api/projects/create?project=acme-open&name=O&organization=acme", "api/projects/create?project=acme-secret&name=S&visibility=private&organization=acme",
				"api/projects/create?project=acme-mine&name=M&visibility=private&organization=acme", "api/permissions/add_user?login=alice&permission=user&projectKey=acme-mine"),
			method: "GET", path: "api/projects/search", form: "organization=acme", status: 200,
			body: `{"components":[{"key":"acme-mine","name":"M","qualifier":"TRK","visibility":"private","organization":"acme"},{"key":"acme-open","name":"O","qualifier":"TRK","visibility":"public","organization":"acme"}],"paging":{"pageIndex":1,"pageSize":100,"total":2}}`},
	})
}

func TestAccessAnswer(t *testing.T) {
	tpl := steps("api/permissions/create_template?name=default", "api/permissions/add_group_to_template?templateName=default&groupName=okta-group&permission=user",
		"api/permissions/set_default_template?templateName=default")
	run(t, []tcase{
		{name: "private project", method: "GET", path: "api/scimgate/access", form: "project=web", status: 200, body: "golden:access_private",
			setup: func(e *env) {
				tpl(e)
				steps(privateWeb, "api/permissions/add_user?login=alice&permission=user&projectKey=web",
					"api/permissions/add_group?groupName=devs&permission=user&projectKey=web", "api/user_groups/add_user?name=devs&login=alice")(e)
			}},
		{name: "public project", method: "GET", path: "api/scimgate/access", form: "project=api&ps=2", status: 200, body: "golden:access_public", setup: steps(publicAPI)},
		{name: "unknown project", method: "GET", path: "api/scimgate/access", form: "project=nope", status: 404, body: errs("Project 'nope' not found")},
		{name: "not a project admin", auth: "alice", method: "GET", path: "api/scimgate/access", form: "project=web", status: 403, setup: steps(privateWeb),
			body: errs("Insufficient privileges")},
	})
}
