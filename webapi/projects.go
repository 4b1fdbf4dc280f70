package webapi

import (
	"regexp"
	"strings"

	"github.com/scimgate/scimgate/store"
)

var projectsController = controller{Path: "api/projects", Since: "2.10", Desc: "Manage projects: creation, visibility, deletion. Their permissions are managed with api/permissions.", Action: []action{
	{Key: "create", Post: true, Since: "4.0", Access: loggedIn, Handle: createProject,
		Desc: "Create a project; the permission template whose key pattern matches its key, or else the default template, is applied to it. Requires Administer System or Create Projects (provisioning) permission; in an organization, membership too.",
		Params: []param{
			{Key: "project", Desc: "Key of the project", Required: true, MaxLen: 400, Example: "my_project"},
			{Key: "name", Desc: "Name of the project", Required: true, MaxLen: 500, Example: "My Project"},
			{Key: "visibility", Desc: "Whether the project is visible to everyone (public) or only to those granted Browse (private)", Values: []string{"private", "public"}, Default: "public", Since: "6.4"},
			{Key: "organization", Desc: "Key of the organization the project belongs to", Since: "scimgate 1.1"},
		}},
	{Key: "search", Since: "6.3", Access: loggedIn, Handle: searchProjects,
		Desc: "Search projects. Administrators see every project; other users see the projects they may browse: public ones, and private ones on which they hold Browse (in an organization, as members).",
		Params: append(pagingParams(100, 500),
			param{Key: "q", Desc: "Limit search to project keys or names that contain the supplied string."},
			param{Key: "visibility", Desc: "Filter on visibility", Values: []string{"private", "public"}},
			param{Key: "organization", Desc: "Only projects of this organization", Since: "scimgate 1.1"},
			param{Key: "projects", Desc: "Comma-separated list of project keys"},
		)},
	{Key: "delete", Post: true, Since: "5.2", Access: loggedIn, Handle: deleteProject,
		Desc:   "Delete a project and its permissions. Requires Administer System permission or Administer on the project.",
		Params: []param{{Key: "project", Desc: "Project key", Required: true}}},
	{Key: "update_visibility", Post: true, Since: "6.4", Access: loggedIn, Handle: updateVisibility,
		Desc: "Make a project public or private. Going private removes Anyone's permissions and gives Browse and See Source Code to every user and group holding a permission on it; going public drops those two, which everyone then holds. Requires Administer System permission or Administer on the project.",
		Params: []param{
			{Key: "project", Desc: "Project key", Required: true},
			{Key: "visibility", Desc: "New visibility", Required: true, Values: []string{"private", "public"}},
		}},
}}

var projectKeyRe = regexp.MustCompile(`^[a-zA-Z0-9:\-_.]*[a-zA-Z:\-_.][a-zA-Z0-9:\-_.]*$`)

type projectJSON struct {
	Key          string `json:"key"`
	Name         string `json:"name"`
	Qualifier    string `json:"qualifier"`
	Visibility   string `json:"visibility"`
	Organization string `json:"organization,omitempty"`
}

func newProjectJSON(p store.Project) projectJSON {
	return projectJSON{p.Key, p.Name, "TRK", p.Visibility(), p.Organization}
}

func createProject(cl *call) error {
	key, name, org := cl.str("project"), cl.str("name"), cl.str("organization")
	if !projectKeyRe.MatchString(key) {
		return invalid("Malformed key for Project: '%s'. Allowed characters are alphanumeric, '-', '_', '.' and ':', with at least one non-digit.", key)
	}
	if name == "" {
		return invalid("The 'name' parameter is missing")
	}
	var out store.Project
	err := cl.update(func(tx store.Tx) error {
		if err := findOrg(tx, org); err != nil {
			return err
		}
		if !cl.admin {
			ok, err := store.HasPermission(tx, cl.caller.ID, store.PermProvisioning)
			if err != nil {
				return err
			}
			if !ok {
				return forbidden()
			}
			if err := store.CheckOrgMember(tx, org, *cl.caller); err != nil {
				return err
			}
		}
		if other, err := tx.ProjectByKey(key); err == nil {
			return invalid("Could not create Project with key: \"%s\". A similar key already exists: \"%s\"", key, other.Key)
		}
		var err error
		out, err = store.CreateProject(tx, store.Project{Key: key, Name: name, Private: cl.str("visibility") == "private", Organization: org})
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"project": newProjectJSON(out)})
}

// projectByKey finds the project the "project" parameter names and checks
// that the caller administers it.
func (cl *call) administeredProject(tx store.Tx) (store.Project, error) {
	key := cl.str("project")
	p, err := tx.ProjectByKey(key)
	if err != nil || p.Key != key {
		return p, notFound("Project '%s' not found", key)
	}
	if cl.admin {
		return p, nil
	}
	ok, err := store.HasProjectPermission(tx, cl.caller.ID, p, store.PermAdmin)
	if err == nil && !ok {
		err = forbidden()
	}
	return p, err
}

func deleteProject(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		p, err := cl.administeredProject(tx)
		if err != nil {
			return err
		}
		return store.RemoveProject(tx, p)
	}))
}

func updateVisibility(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		p, err := cl.administeredProject(tx)
		if err != nil {
			return err
		}
		_, err = store.SetVisibility(tx, p, cl.str("visibility") == "private")
		return err
	}))
}

func searchProjects(cl *call) error {
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	q, vis, org := strings.ToLower(cl.str("q")), cl.str("visibility"), cl.str("organization")
	var keys []string
	if s := cl.str("projects"); s != "" {
		keys = strings.Split(s, ",")
	}
	w := newWindow(p, ps)
	out := []projectJSON{}
	err = cl.view(func(tx store.Tx) error {
		for pr, err := range tx.Projects() {
			if err != nil {
				return err
			}
			if q != "" && !strings.Contains(strings.ToLower(pr.Key), q) && !strings.Contains(strings.ToLower(pr.Name), q) ||
				vis != "" && pr.Visibility() != vis || cl.has("organization") && pr.Organization != org ||
				keys != nil && !contains(keys, pr.Key) {
				continue
			}
			if !cl.admin {
				ok, err := store.HasProjectPermission(tx, cl.caller.ID, pr, store.PermBrowse)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
			}
			if w.take() {
				out = append(out, newProjectJSON(pr))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"paging": w.paging(p), "components": out})
}
