package webapi

import (
	"sort"
	"strings"
	"time"

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
	{Key: "update_key", Post: true, Since: "6.1", Access: loggedIn, Handle: updateProjectKey,
		Desc: "Change the key of a project; its permissions, tags and badge token stay. Requires Administer System permission or Administer on the project.",
		Params: []param{
			{Key: "from", Desc: "Project key", Required: true},
			{Key: "to", Desc: "New project key", Required: true, MaxLen: 400},
		}},
	{Key: "bulk_delete", Post: true, Since: "5.2", Access: admin, Handle: bulkDeleteProjects,
		Desc: "Delete the projects matching the filters, with their permissions. At least one of analyzedBefore, projects and q is needed. Requires Administer System permission.",
		Params: []param{
			{Key: "projects", Desc: "Comma-separated list of project keys (the first 1000 are used)"},
			{Key: "q", Desc: "Limit to projects whose name or key contains the supplied string"},
			{Key: "qualifiers", Desc: "Comma-separated list of component qualifiers", Default: "TRK"},
			{Key: "visibility", Desc: "Filter on visibility", Values: []string{"private", "public"}, Internal: true},
			{Key: "analyzedBefore", Desc: "Only projects analyzed before this date (scimgate records no analyses: matches none)"},
			{Key: "onProvisionedOnly", Desc: "Only projects never analyzed (every project, in scimgate)", Values: boolValues, Default: "false"},
		}},
	{Key: "update_visibility", Post: true, Since: "6.4", Access: loggedIn, Handle: updateVisibility,
		Desc: "Make a project public or private. Going private removes Anyone's permissions and gives Browse and See Source Code to every user and group holding a permission on it; going public drops those two, which everyone then holds. Requires Administer System permission or Administer on the project.",
		Params: []param{
			{Key: "project", Desc: "Project key", Required: true},
			{Key: "visibility", Desc: "New visibility", Required: true, Values: []string{"private", "public"}},
		}},
}}

var componentsController = controller{Path: "api/components", Since: "4.2", Desc: "Get information about a component (project).", Action: []action{
	{Key: "show", Since: "5.4", Access: loggedIn, Handle: showComponent,
		Desc:   "Returns a project: key, name, qualifier, visibility and tags. Requires Browse on the project.",
		Params: []param{{Key: "component", Desc: "Project key", Required: true}}},
}}

var projectTagsController = controller{Path: "api/project_tags", Since: "6.4", Desc: "Manage project tags.", Action: []action{
	{Key: "set", Post: true, Since: "6.4", Access: loggedIn, Handle: setProjectTags,
		Desc: "Set the tags of a project (an empty value clears them). Tags are lower-cased; allowed characters are a-z, 0-9, '+', '-', '#' and '.'. Requires Administer System permission or Administer on the project.",
		Params: []param{
			{Key: "project", Desc: "Project key", Required: true},
			{Key: "tags", Desc: "Comma-separated list of tags", Required: true},
		}},
	{Key: "search", Since: "6.4", Access: loggedIn, Handle: searchProjectTags,
		Desc: "Search the tags of the projects the caller may browse, sorted.",
		Params: []param{
			{Key: "q", Desc: "Limit search to tags that contain the supplied string."},
			{Key: "ps", Desc: "Page size, at most 100", Default: "10", Int: true, MaxValue: 100},
			{Key: "p", Desc: "1-based page number", Default: "1", Int: true, Since: "9.2"},
		}},
}}

var projectBadgesController = controller{Path: "api/project_badges", Since: "7.1", Desc: "Tokens that let badges of a project be shown.", Action: []action{
	{Key: "token", Since: "9.2", Access: loggedIn, Handle: badgeToken,
		Desc:   "Return the badge token of a project, creating it when there is none. Requires Browse on the project.",
		Params: []param{{Key: "project", Desc: "Project key", Required: true}}},
	{Key: "renew_token", Post: true, Since: "9.2", Access: loggedIn, Handle: renewBadgeToken,
		Desc:   "Replace the badge token of a project. Requires Administer System permission or Administer on the project.",
		Params: []param{{Key: "project", Desc: "Project key", Required: true}}},
}}

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
	req := store.NewProjectRequest{Key: cl.str("project"), Name: cl.str("name"), Organization: cl.str("organization"), Private: cl.str("visibility") == "private"}
	p, err := store.CreateProjectAs(cl.c.Request().Context(), cl.api.store, cl.callerOf(), req)
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"project": newProjectJSON(p)})
}

func deleteProject(cl *call) error {
	return cl.changed(store.DeleteProjectAs(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("project")))
}

func updateVisibility(cl *call) error {
	return cl.changed(store.SetProjectVisibility(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("project"), cl.str("visibility") == "private"))
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

// componentJSON is a project as api/components/show answers it.
type componentJSON struct {
	Key        string   `json:"key"`
	Name       string   `json:"name"`
	Qualifier  string   `json:"qualifier"`
	Visibility string   `json:"visibility"`
	Tags       []string `json:"tags"`
}

func showComponent(cl *call) error {
	key := cl.str("component")
	var out componentJSON
	err := cl.view(func(tx store.Tx) error {
		p, err := store.ProjectFor(tx, cl.callerOf(), key, store.PermBrowse, notFound("Component key '%s' not found", key))
		out = componentJSON{p.Key, p.Name, "TRK", p.Visibility(), orEmpty(p.Tags)}
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"component": out, "ancestors": []any{}})
}

func setProjectTags(cl *call) error {
	return cl.changed(store.SetProjectTags(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("project"), strings.Split(cl.str("tags"), ",")))
}

func searchProjectTags(cl *call) error {
	q := strings.ToLower(cl.str("q"))
	p, ps := cl.int("p"), cl.int("ps")
	if p < 1 {
		return invalid("Page index must be strictly positive. Got %d", p)
	}
	seen := map[string]bool{}
	err := cl.view(func(tx store.Tx) error {
		for pr, err := range tx.Projects() {
			if err != nil {
				return err
			}
			if len(pr.Tags) == 0 {
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
			for _, t := range pr.Tags {
				if q == "" || strings.Contains(t, q) {
					seen[t] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	all := make([]string, 0, len(seen))
	for t := range seen {
		all = append(all, t)
	}
	sort.Strings(all)
	w, tags := newWindow(p, ps), []string{}
	for _, t := range all {
		if w.take() {
			tags = append(tags, t)
		}
	}
	return cl.json(map[string]any{"tags": tags})
}

func badgeToken(cl *call) error {
	token, err := store.BadgeToken(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("project"))
	if err != nil {
		return err
	}
	return cl.json(map[string]string{"token": token})
}

func renewBadgeToken(cl *call) error {
	return cl.changed(store.RenewBadgeToken(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("project")))
}

func updateProjectKey(cl *call) error {
	return cl.changed(store.RenameProjectKey(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("from"), cl.str("to")))
}

func bulkDeleteProjects(cl *call) error {
	f, err := cl.projectFilter()
	if err != nil {
		return err
	}
	return cl.changed(store.BulkDeleteProjects(cl.c.Request().Context(), cl.api.store, cl.callerOf(), f))
}

// projectFilter reads the bulk actions' project filters.
func (cl *call) projectFilter() (store.ProjectFilter, error) {
	f := store.ProjectFilter{Query: cl.str("q"), Visibility: cl.str("visibility"), Qualifiers: strings.Split(cl.str("qualifiers"), ",")}
	if s := cl.str("projects"); s != "" {
		f.Keys = strings.Split(s, ",")
	}
	if s := cl.str("analyzedBefore"); s != "" {
		d, err := parseDateOrTime(s)
		if err != nil {
			return f, invalid("'%s' cannot be parsed as either a date or date+time", s)
		}
		f.AnalyzedBefore = &d
	}
	return f, nil
}

// parseDateOrTime reads SonarQube's date (2006-01-02) or date-time
// (2006-01-02T15:04:05-0700) parameters.
func parseDateOrTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04:05-0700", s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02", s, time.UTC)
}
