package webapi

import (
	"regexp"
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
		Desc:   "List permission templates, their entries' counts and the default template. Requires Administer System permission.",
		Params: []param{{Key: "q", Desc: "Limit search to template names that contain the supplied string."}}},
	{Key: "add_user_to_template", Post: true, Since: "5.2", Access: admin, Handle: addUserToTemplate, Params: templateEntryParams("login"),
		Desc: "Add a user to a permission template. Requires Administer System permission."},
	{Key: "remove_user_from_template", Post: true, Since: "5.2", Access: admin, Handle: removeUserFromTemplate, Params: templateEntryParams("login"),
		Desc: "Remove a user from a permission template. Requires Administer System permission."},
	{Key: "add_group_to_template", Post: true, Since: "5.2", Access: admin, Handle: addGroupToTemplate, Params: templateEntryParams("groupName"),
		Desc: "Add a group (SCIM-provisioned ones included) to a permission template. Requires Administer System permission."},
	{Key: "remove_group_from_template", Post: true, Since: "5.2", Access: admin, Handle: removeGroupFromTemplate, Params: templateEntryParams("groupName"),
		Desc: "Remove a group from a permission template. Requires Administer System permission."},
	{Key: "set_default_template", Post: true, Since: "5.2", Access: admin, Handle: setDefaultTemplate,
		Desc:   "Set a permission template as the default one, applied to new projects that no template's key pattern matches. Requires Administer System permission.",
		Params: append(templateRef[:2:2], param{Key: "qualifier", Desc: "Project qualifier", Values: []string{"TRK"}, Default: "TRK"})},
	{Key: "apply_template", Post: true, Since: "5.2", Access: loggedIn, Handle: applyTemplate,
		Desc:   "Apply a permission template to a project: the project's permissions are replaced by the template's entries. Requires Administer System permission or Administer on the project.",
		Params: append(append([]param{}, templateRef...), projectParams...)},
}

// findTemplate resolves templateId or templateName.
func (cl *call) findTemplate(tx store.Tx) (store.Template, error) {
	id, name := cl.str("templateId"), cl.str("templateName")
	if (id == "") == (name == "") {
		return store.Template{}, invalid("Template name or template id must be provided, not both.")
	}
	if id != "" {
		t, err := tx.Template(id)
		if err != nil {
			return t, notFound("Permission template with id '%s' is not found", id)
		}
		return t, nil
	}
	t, err := tx.TemplateByName(name)
	if err != nil {
		return t, notFound("Permission template with name '%s' is not found (case insensitive)", name)
	}
	return t, nil
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
	name, pattern, org := cl.str("name"), cl.str("projectKeyPattern"), cl.str("organization")
	if name == "" {
		return invalid("The template name must not be blank")
	}
	if _, err := regexp.Compile(pattern); pattern != "" && err != nil {
		return invalid("The 'projectKeyPattern' parameter must be a valid Java regex. '%s' was passed", pattern)
	}
	var out store.Template
	err := cl.update(func(tx store.Tx) error {
		if err := findOrg(tx, org); err != nil {
			return err
		}
		now := store.Now()
		out = store.Template{ID: store.NewID(), Name: name, Description: cl.str("description"), KeyPattern: pattern,
			Organization: org, Created: now, Updated: now}
		return tx.PutTemplate(out)
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"permissionTemplate": newTemplateJSON(out)})
}

func deleteTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, err := cl.findTemplate(tx)
		if err != nil {
			return err
		}
		if t.Default {
			return invalid("It is not possible to delete the default permission template for projects")
		}
		return store.RemoveTemplate(tx, t)
	}))
}

func searchTemplates(cl *call) error {
	type permJSON struct {
		Key         string `json:"key"`
		UsersCount  int    `json:"usersCount"`
		GroupsCount int    `json:"groupsCount"`
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
	q := strings.ToLower(cl.str("q"))
	templates, defaults := []entry{}, []defaultJSON{}
	err := cl.view(func(tx store.Tx) error {
		for t, err := range tx.Templates() {
			if err != nil {
				return err
			}
			if t.Default {
				defaults = append(defaults, defaultJSON{t.ID, "TRK", t.Organization})
			}
			if q != "" && !strings.Contains(strings.ToLower(t.Name), q) {
				continue
			}
			e := entry{templateJSON: newTemplateJSON(t), Permissions: []permJSON{}}
			for _, perm := range store.ProjectPermissions {
				pj := permJSON{Key: perm}
				for s := range tx.Holders(store.InTemplate(t.ID, perm)) {
					if s.Kind == 'u' {
						pj.UsersCount++
					} else {
						pj.GroupsCount++
					}
				}
				if pj.UsersCount+pj.GroupsCount > 0 {
					e.Permissions = append(e.Permissions, pj)
				}
			}
			templates = append(templates, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"permissionTemplates": templates, "defaultTemplates": defaults})
}

// templateChange resolves the template and checks the permission.
func templateChange(cl *call, tx store.Tx) (store.Template, string, error) {
	t, err := cl.findTemplate(tx)
	if err != nil {
		return t, "", err
	}
	perm := cl.str("permission")
	return t, perm, target{project: &store.Project{}}.check(perm)
}

func templateUser(cl *call, tx store.Tx) (store.Template, store.User, string, error) {
	t, perm, err := templateChange(cl, tx)
	if err != nil {
		return t, store.User{}, "", err
	}
	login := cl.str("login")
	u, ok := userByLogin(tx, login)
	if !ok || !u.Active {
		return t, u, "", notFound("User with login '%s' is not found'", login)
	}
	return t, u, perm, nil
}

func addUserToTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, u, perm, err := templateUser(cl, tx)
		if err != nil {
			return err
		}
		if err := store.CheckOrgMember(tx, t.Organization, u); err != nil {
			return err
		}
		return tx.Grant(store.Subject{Kind: 'u', ID: u.ID}, store.InTemplate(t.ID, perm))
	}))
}

func removeUserFromTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, u, perm, err := templateUser(cl, tx)
		if err != nil {
			return err
		}
		return tx.Revoke(store.Subject{Kind: 'u', ID: u.ID}, store.InTemplate(t.ID, perm))
	}))
}

func templateGroup(cl *call, tx store.Tx) (store.Template, store.Subject, string, error) {
	t, perm, err := templateChange(cl, tx)
	if err != nil {
		return t, store.Subject{}, "", err
	}
	s := store.Subject{Kind: 'g', ID: store.AnyoneGroup}
	if name := cl.str("groupName"); !strings.EqualFold(name, store.AnyoneGroup) {
		g, err := groupByName(tx, name)
		if err != nil {
			return t, s, "", err
		}
		s.ID = g.ID
	}
	return t, s, perm, nil
}

func addGroupToTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, s, perm, err := templateGroup(cl, tx)
		if err != nil {
			return err
		}
		if s.ID == store.AnyoneGroup && perm == store.PermAdmin {
			return invalid("It is not possible to add the 'admin' permission to the group 'Anyone'.")
		}
		return tx.Grant(s, store.InTemplate(t.ID, perm))
	}))
}

func removeGroupFromTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, s, perm, err := templateGroup(cl, tx)
		if err != nil {
			return err
		}
		return tx.Revoke(s, store.InTemplate(t.ID, perm))
	}))
}

func setDefaultTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, err := cl.findTemplate(tx)
		if err != nil {
			return err
		}
		return store.SetDefaultTemplate(tx, t)
	}))
}

func applyTemplate(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		t, err := cl.findTemplate(tx)
		if err != nil {
			return err
		}
		if cl.str("projectId") == "" && cl.str("projectKey") == "" {
			return invalid("Project id or project key must be provided")
		}
		tg, err := cl.target(tx)
		if err != nil {
			return err
		}
		if t.Organization != tg.project.Organization {
			return invalid("Template '%s' belongs to another organization than project '%s'", t.Name, tg.project.Key)
		}
		_, err = store.ApplyTemplate(tx, *tg.project, t)
		return err
	}))
}
