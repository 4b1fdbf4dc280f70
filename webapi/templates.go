package webapi

import (
	"slices"
	"sort"
	"strings"

	"github.com/scimgate/scimgate/store"
)

var templateRef = []param{
	{Key: "templateId", Desc: "Template id"},
	{Key: "templateName", Desc: "Template name (case insensitive)"},
}

func templateEntryParams(subject string) []param {
	return append([]param{
		{Key: subject, Desc: map[string]string{"login": "User login", "groupName": "Group name or 'anyone' (case insensitive)"}[subject], Required: true},
		{Key: "permission", Desc: "Permission: one of admin, codeviewer, issueadmin, securityhotspotadmin, scan, user", Required: true},
	}, templateRef...)
}

var templateActions = []action{
	{Key: "create_template", Post: true, Since: "5.2", Access: admin, Handle: createTemplate,
		Desc: "Create a permission template. Requires Administer System permission.",
		Params: []param{
			{Key: "name", Desc: "Name", Required: true, MaxLen: 100},
			{Key: "description", Desc: "Description", MaxLen: 4000},
			{Key: "projectKeyPattern", Desc: "Project key pattern (a regular expression). New projects whose whole key matches get this template instead of the default one."},
			{Key: "organization", Desc: "Key of the organization the template belongs to", Since: "scimgate 1.1"},
		}},
	{Key: "delete_template", Post: true, Since: "5.2", Access: admin, Handle: deleteTemplate,
		Desc: "Delete a permission template. The default template cannot be deleted. Requires Administer System permission.", Params: templateRef},
	{Key: "search_templates", Since: "5.2", Access: admin, Handle: searchTemplates,
		Desc: "List permission templates with, for each of the six project permissions, the count of users and groups and whether the project creator gets it; and the default template. Without p and ps every template is listed and there is no paging. Requires Administer System permission.",
		Params: []param{
			{Key: "q", Desc: "Limit search to template names that contain the supplied string."},
			{Key: "p", Desc: "1-based page number", Int: true, Since: "2026.2"},
			{Key: "ps", Desc: "Page size, 0 to 500", Int: true, Since: "2026.2"},
		}},
	{Key: "update_template", Post: true, Since: "5.2", Access: admin, Handle: updateTemplate,
		Desc: "Update a permission template; a parameter left out keeps its value. Requires Administer System permission.",
		Params: []param{
			{Key: "id", Desc: "Template id", Required: true},
			{Key: "name", Desc: "New name", MaxLen: 100},
			{Key: "description", Desc: "New description", MaxLen: 4000},
			{Key: "projectKeyPattern", Desc: "New project key pattern (a regular expression)"},
		}},
	{Key: "template_users", Since: "5.2", Internal: true, Access: admin, Handle: templateUsers,
		Desc: "Lists the users with their permissions in a template: without q only those holding one, with q every matching active user. Requires Administer System permission.",
		Params: append(append(append([]param{}, templateRef...),
			param{Key: "q", Desc: "Limit search to user names, logins or emails that contain the supplied string.", MinLen: 3},
			param{Key: "permission", Desc: "Project permission", Values: store.ProjectPermissions}), pagingParams(20, 100)...)},
	{Key: "template_groups", Since: "5.2", Internal: true, Access: admin, Handle: templateGroups,
		Desc: "Lists the groups with their permissions in a template (Anyone first, without id): without q only those holding one, with q every matching group. Requires Administer System permission.",
		Params: append(append(append([]param{}, templateRef...),
			param{Key: "q", Desc: "Limit search to group names that contain the supplied string.", MinLen: 3},
			param{Key: "permission", Desc: "Project permission", Values: store.ProjectPermissions}), pagingParams(20, 100)...)},
	{Key: "add_project_creator_to_template", Post: true, Since: "6.0", Access: admin, Handle: projectCreatorChange(true),
		Desc:   "Make the user who creates a project get this permission on it when the template is applied at creation. Requires Administer System permission.",
		Params: append(append([]param{}, templateRef...), param{Key: "permission", Desc: "Project permission", Required: true, Values: store.ProjectPermissions})},
	{Key: "remove_project_creator_from_template", Post: true, Since: "6.0", Access: admin, Handle: projectCreatorChange(false),
		Desc:   "Stop giving the project creator this permission. Requires Administer System permission.",
		Params: append(append([]param{}, templateRef...), param{Key: "permission", Desc: "Project permission", Required: true, Values: store.ProjectPermissions})},
	{Key: "bulk_apply_template", Post: true, Since: "5.5", Access: admin, Handle: bulkApplyTemplate,
		Desc: "Apply a permission template to every project matching the filters (projects of another organization than the template's are skipped). Requires Administer System permission.",
		Params: append(append([]param{}, templateRef...),
			param{Key: "q", Desc: "Limit to projects whose name or key contains the supplied string"},
			param{Key: "qualifiers", Desc: "Comma-separated list of component qualifiers", Default: "TRK"},
			param{Key: "projects", Desc: "Comma-separated list of project keys, at most 1000"},
			param{Key: "visibility", Desc: "Filter on visibility", Values: []string{"private", "public"}, Internal: true},
			param{Key: "analyzedBefore", Desc: "Only projects analyzed before this date (scimgate records no analyses: matches none)"},
			param{Key: "onProvisionedOnly", Desc: "Only projects never analyzed (every project, in scimgate)", Values: boolValues, Default: "false"})},
	{Key: "add_user_to_template", Post: true, Since: "5.2", Access: admin, Handle: templateEntry("login", true), Params: templateEntryParams("login"),
		Desc: "Add a user to a permission template. Requires Administer System permission."},
	{Key: "remove_user_from_template", Post: true, Since: "5.2", Access: admin, Handle: templateEntry("login", false), Params: templateEntryParams("login"),
		Desc: "Remove a user from a permission template. Requires Administer System permission."},
	{Key: "add_group_to_template", Post: true, Since: "5.2", Access: admin, Handle: templateEntry("groupName", true), Params: templateEntryParams("groupName"),
		Desc: "Add a group (SCIM-provisioned ones included) to a permission template. Requires Administer System permission."},
	{Key: "remove_group_from_template", Post: true, Since: "5.2", Access: admin, Handle: templateEntry("groupName", false), Params: templateEntryParams("groupName"),
		Desc: "Remove a group from a permission template. Requires Administer System permission."},
	{Key: "set_default_template", Post: true, Since: "5.2", Access: admin, Handle: setDefaultTemplate,
		Desc:   "Set a permission template as the default one, applied to new projects that no template's key pattern matches. Requires Administer System permission.",
		Params: append(templateRef[:2:2], param{Key: "qualifier", Desc: "Project qualifier", Values: []string{"TRK"}, Default: "TRK"})},
	{Key: "apply_template", Post: true, Since: "5.2", Access: loggedIn, Handle: applyTemplate,
		Desc:   "Apply a permission template to a project: the project's permissions are replaced by the template's entries. Requires Administer System permission or Administer on the project.",
		Params: append(append([]param{}, templateRef...), projectParams...)},
}

// templateRef is the template the request names.
func (cl *call) templateRef() store.TemplateRef {
	return store.TemplateRef{ID: cl.str("templateId"), Name: cl.str("templateName")}
}

// findTemplate resolves templateId or templateName.
func (cl *call) findTemplate(tx store.Tx) (store.Template, error) {
	return store.FindTemplate(tx, cl.templateRef())
}

type templateJSON struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Description       string `json:"description,omitempty"`
	ProjectKeyPattern string `json:"projectKeyPattern,omitempty"`
	Organization      string `json:"organization,omitempty"`
	CreatedAt         string `json:"createdAt"`
	UpdatedAt         string `json:"updatedAt"`
}

func newTemplateJSON(t store.Template) templateJSON {
	return templateJSON{t.ID, t.Name, t.Description, t.KeyPattern, t.Organization, formatDate(&t.Created), formatDate(&t.Updated)}
}

func createTemplate(cl *call) error {
	t, err := store.CreateTemplate(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("name"), cl.str("description"),
		cl.str("projectKeyPattern"), cl.str("organization"))
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"permissionTemplate": newTemplateJSON(t)})
}

func deleteTemplate(cl *call) error {
	return cl.changed(store.DeletePermissionTemplate(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.templateRef()))
}

func searchTemplates(cl *call) error {
	type permJSON struct {
		Key                string `json:"key"`
		UsersCount         int    `json:"usersCount"`
		GroupsCount        int    `json:"groupsCount"`
		WithProjectCreator bool   `json:"withProjectCreator"`
	}
	type entry struct {
		templateJSON
		Permissions []permJSON `json:"permissions"`
	}
	type defaultJSON struct {
		TemplateID   string `json:"templateId"`
		Qualifier    string `json:"qualifier"`
		Organization string `json:"organization,omitempty"`
	}
	type permDesc struct {
		Key         string `json:"key"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	paged := cl.has("p") || cl.has("ps")
	p, ps := 1, 100
	if paged {
		if cl.has("p") {
			p = cl.int("p")
		}
		if cl.has("ps") {
			ps = cl.int("ps")
		}
		switch {
		case p < 1:
			return invalid("Page index must be strictly positive. Got %d", p)
		case ps < 0:
			return invalid("Page size must be >= 0")
		case ps > 500:
			return invalid("Page size must not exceed 500")
		}
	}
	q := strings.ToLower(cl.str("q"))
	w := newWindow(p, ps)
	templates, defaults := []entry{}, []defaultJSON{}
	err := cl.view(func(tx store.Tx) error {
		for t, err := range tx.Templates() {
			if err != nil {
				return err
			}
			if t.Default {
				defaults = append(defaults, defaultJSON{t.ID, "TRK", t.Organization})
			}
			if q != "" && !strings.Contains(strings.ToLower(t.Name), q) || paged && !w.take() {
				continue
			}
			e := entry{templateJSON: newTemplateJSON(t), Permissions: []permJSON{}}
			for _, perm := range store.ProjectPermissions {
				pj := permJSON{Key: perm}
				for s := range tx.Holders(store.InTemplate(t.ID, perm)) {
					switch {
					case s == store.UserSubject(store.ProjectCreator):
						pj.WithProjectCreator = true
					case s.IsUser():
						pj.UsersCount++
					default:
						pj.GroupsCount++
					}
				}
				e.Permissions = append(e.Permissions, pj)
			}
			templates = append(templates, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	perms := make([]permDesc, len(store.ProjectPermissions))
	for i, k := range store.ProjectPermissions {
		perms[i] = permDesc{k, projectPermNames[k][0], projectPermNames[k][1]}
	}
	out := map[string]any{"permissionTemplates": templates, "defaultTemplates": defaults, "permissions": perms}
	if paged {
		out["paging"] = w.paging(p)
	}
	return cl.json(out)
}

// projectPermNames are the display name and description of each project
// permission, from SonarQube's English bundle.
var projectPermNames = map[string][2]string{
	store.PermAdmin:        {"Administer", "Access project settings and perform administration tasks. (Users will also need \"Browse\" permission)"},
	store.PermCodeViewer:   {"See Source Code", "View the project's source code. (Users will also need \"Browse\" permission)"},
	"issueadmin":           {"Administer Issues", "Grants the permission to perform advanced editing on issues: marking an issue False Positive / Won't Fix or changing an Issue's severity. (Users will also need \"Browse\" permission)"},
	"securityhotspotadmin": {"Administer Security Hotspots", "Detect a Vulnerability from a \"Security Hotspot\". Reject, clear, accept, reopen a \"Security Hotspot\" (users also need \"Browse\" permissions)."},
	store.PermScan:         {"Execute Analysis", "Ability to execute analyses, and to get all settings required to perform the analysis, even the secured ones like the scm account password, the jira account password, and so on."},
	store.PermBrowse:       {"Browse", "Access a project, browse its measures, and create/edit issues for it."},
}

func updateTemplate(cl *call) error {
	t, err := store.UpdateTemplate(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("id"),
		cl.optional("name"), cl.optional("description"), cl.optional("projectKeyPattern"))
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"permissionTemplate": newTemplateJSON(t)})
}

// templateHolders returns, for each subject holding something in template
// t, its permission names sorted alphabetically.
func templateHolders(tx store.Tx, t store.Template) map[store.Subject][]string {
	held := map[store.Subject][]string{}
	for _, perm := range store.ProjectPermissions {
		for s := range tx.Holders(store.InTemplate(t.ID, perm)) {
			held[s] = append(held[s], perm)
		}
	}
	for s := range held {
		sort.Strings(held[s])
	}
	return held
}

func templateUsers(cl *call) error {
	type entry struct {
		Login       string   `json:"login"`
		Name        string   `json:"name,omitempty"`
		Email       string   `json:"email,omitempty"`
		Avatar      string   `json:"avatar,omitempty"`
		Permissions []string `json:"permissions"`
	}
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	q, perm := strings.ToLower(cl.str("q")), cl.str("permission")
	w := newWindow(p, ps)
	users := []entry{}
	err = cl.view(func(tx store.Tx) error {
		t, err := cl.findTemplate(tx)
		if err != nil {
			return err
		}
		held := templateHolders(tx, t)
		candidates := store.UsersContaining(tx, q)
		if q == "" { // only the holders are listed: read them, not every user
			var ids []string
			for s := range held {
				if s.IsUser() {
					ids = append(ids, s.ID)
				}
			}
			candidates = store.UsersWithIDs(tx, slices.Values(ids))
		}
		page, err := w.list(candidates.Active(true), func(u store.User) (bool, error) {
			perms := held[store.UserSubject(u.ID)]
			return (q != "" || len(perms) > 0) && (perm == "" || contains(perms, perm)) && u.Matches(q, true), nil
		})
		for _, u := range page {
			users = append(users, entry{u.Login, u.Name, u.Email, avatar(u.Email), orEmpty(held[store.UserSubject(u.ID)])})
		}
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "users": users})
}

func templateGroups(cl *call) error {
	type entry struct {
		ID          string   `json:"id,omitempty"`
		Name        string   `json:"name"`
		Description string   `json:"description,omitempty"`
		Permissions []string `json:"permissions"`
	}
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	q, perm := strings.ToLower(cl.str("q")), cl.str("permission")
	w := newWindow(p, ps)
	groups := []entry{}
	err = cl.view(func(tx store.Tx) error {
		t, err := cl.findTemplate(tx)
		if err != nil {
			return err
		}
		held := templateHolders(tx, t)
		add := func(e entry) {
			if q == "" && len(e.Permissions) == 0 || perm != "" && !contains(e.Permissions, perm) ||
				q != "" && !strings.Contains(strings.ToLower(e.Name), q) {
				return
			}
			if w.take() {
				e.Permissions = orEmpty(e.Permissions)
				groups = append(groups, e)
			}
		}
		add(entry{Name: store.AnyoneGroup, Permissions: held[store.GroupSubject(store.AnyoneGroup)]})
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			add(entry{g.ID, g.Name, g.Description, held[store.GroupSubject(g.ID)]})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "groups": groups})
}

// projectCreatorChange adds or removes the project creator's entry.
func projectCreatorChange(add bool) func(*call) error {
	return func(cl *call) error {
		e := store.TemplateEntry{ProjectCreator: true, Permission: cl.str("permission")}
		return cl.changed(store.ChangeTemplateEntry(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.templateRef(), e, add))
	}
}

func bulkApplyTemplate(cl *call) error {
	f, err := cl.projectFilter()
	if err != nil {
		return err
	}
	return cl.changed(store.BulkApplyTemplate(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.templateRef(), f))
}

// templateEntry changes the entry the request names.
func templateEntry(subject string, add bool) func(*call) error {
	return func(cl *call) error {
		e := store.TemplateEntry{Permission: cl.str("permission")}
		if subject == "login" {
			e.Login = cl.str("login")
		} else {
			e.Group = cl.str("groupName")
		}
		return cl.changed(store.ChangeTemplateEntry(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.templateRef(), e, add))
	}
}

func setDefaultTemplate(cl *call) error {
	return cl.changed(store.MakeDefaultTemplate(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.templateRef()))
}

func applyTemplate(cl *call) error {
	return cl.changed(store.ApplyTemplateTo(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.templateRef(), cl.str("projectId"), cl.str("projectKey")))
}
