package webapi

import (
	"regexp"
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

var projectKeyRe = regexp.MustCompile(`^[a-zA-Z0-9:\-_.]*[a-zA-Z:\-_.][a-zA-Z0-9:\-_.]*$`)

// tagRe is what a project tag may contain.
var tagRe = regexp.MustCompile(`^[a-z0-9+\-#.]+$`)

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
		if err := store.CheckOrganization(tx, org); err != nil {
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
		want := store.Project{Key: key, Name: name, Private: cl.str("visibility") == "private", Organization: org, Creator: cl.caller.ID}
		if other, err := tx.ProjectByKey(key); err == nil {
			if sameCreation(other, want) {
				out = other // a retry of the same creation (its answer was lost): the same answer again
				return nil
			}
			return invalid("Could not create Project with key: \"%s\". A similar key already exists: \"%s\"", key, other.Key)
		}
		var err error
		out, err = store.CreateProject(tx, want)
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"project": newProjectJSON(out)})
}

// sameCreation reports whether p is what a creation of want by the same
// caller made: so projects/create is safe to retry when a client lost the
// answer or failed in a follow-up call (the Terraform provider sets tags
// right after creating, and creates again on the next run).
func sameCreation(p, want store.Project) bool {
	return p.Key == want.Key && p.Name == want.Name && p.Private == want.Private &&
		p.Organization == want.Organization && p.Creator != "" && p.Creator == want.Creator
}

// browsableProject finds the project key names and checks that the caller
// may browse it; unknown and hidden alike are msg (not found).
func (cl *call) browsableProject(tx store.Tx, key string, notFoundErr error) (store.Project, error) {
	p, err := tx.ProjectByKey(key)
	if err != nil || p.Key != key {
		return p, notFoundErr
	}
	if cl.admin {
		return p, nil
	}
	ok, err := store.HasProjectPermission(tx, cl.caller.ID, p, store.PermBrowse)
	if err == nil && !ok {
		err = forbidden()
	}
	return p, err
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
		p, err := cl.browsableProject(tx, key, notFound("Component key '%s' not found", key))
		out = componentJSON{p.Key, p.Name, "TRK", p.Visibility(), orEmpty(p.Tags)}
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"component": out, "ancestors": []any{}})
}

func setProjectTags(cl *call) error {
	var tags []string
	for _, t := range strings.Split(cl.str("tags"), ",") {
		if t = strings.ToLower(strings.TrimSpace(t)); t == "" {
			continue
		}
		if !tagRe.MatchString(t) {
			return invalid("Tag '%s' is invalid. Tags accept only the characters: a-z, 0-9, '+', '-', '#', '.'", t)
		}
		if !contains(tags, t) {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return cl.changed(cl.update(func(tx store.Tx) error {
		p, err := cl.administeredProject(tx)
		if err != nil {
			return err
		}
		p.Tags, p.Updated = tags, store.Now()
		return tx.PutProject(p)
	}))
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

// newBadgeToken returns a new badge token secret.
func newBadgeToken() string { return "sqb_" + strings.TrimPrefix(store.NewTokenSecret(), "squ_") }

func badgeToken(cl *call) error {
	key := cl.str("project")
	var token string
	err := cl.update(func(tx store.Tx) error {
		p, err := cl.browsableProject(tx, key, invalid("Project or Application not found"))
		if err != nil {
			return err
		}
		if token = p.BadgeToken; token != "" {
			return nil
		}
		token = newBadgeToken()
		p.BadgeToken = token
		return tx.PutProject(p)
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]string{"token": token})
}

func renewBadgeToken(cl *call) error {
	return cl.changed(cl.update(func(tx store.Tx) error {
		p, err := cl.administeredProject(tx)
		if store.IsNotFound(err) {
			return invalid("Project or Application not found")
		}
		if err != nil {
			return err
		}
		p.BadgeToken = newBadgeToken()
		return tx.PutProject(p)
	}))
}

func updateProjectKey(cl *call) error {
	from, to := cl.str("from"), cl.str("to")
	if !projectKeyRe.MatchString(to) {
		return invalid("Malformed key for Project: '%s'. Allowed characters are alphanumeric, '-', '_', '.' and ':', with at least one non-digit.", to)
	}
	return cl.changed(cl.update(func(tx store.Tx) error {
		p, err := tx.ProjectByKey(from)
		if err != nil || p.Key != from {
			return notFound("Project '%s' not found", from)
		}
		if !cl.admin {
			ok, err := store.HasProjectPermission(tx, cl.caller.ID, p, store.PermAdmin)
			if err != nil {
				return err
			}
			if !ok {
				return forbidden()
			}
		}
		if other, err := tx.ProjectByKey(to); err == nil && other.ID != p.ID {
			return invalid("Impossible to update key: a component with key \"%s\" already exists.", to)
		}
		p.Key, p.Updated = to, store.Now()
		return tx.PutProject(p)
	}))
}

func bulkDeleteProjects(cl *call) error {
	if cl.str("analyzedBefore") == "" && cl.str("projects") == "" && cl.str("q") == "" {
		return invalid("At least one parameter among analyzedBefore, projects and q must be provided")
	}
	return cl.changed(cl.update(func(tx store.Tx) error {
		projects, err := cl.matchingProjects(tx)
		if err != nil {
			return err
		}
		for _, p := range projects {
			if err := store.RemoveProject(tx, p); err != nil {
				return err
			}
		}
		return nil
	}))
}

// maxBulkProjects bounds the keys a bulk action reads from "projects".
const maxBulkProjects = 1000

// matchingProjects returns the projects the bulk filters (q, projects,
// qualifiers, visibility, analyzedBefore, onProvisionedOnly) select.
// scimgate records no analyses: every project is "provisioned only", and
// analyzedBefore selects none.
func (cl *call) matchingProjects(tx store.Tx) ([]store.Project, error) {
	if s := cl.str("analyzedBefore"); s != "" {
		d, err := parseDateOrTime(s)
		if err != nil {
			return nil, invalid("'%s' cannot be parsed as either a date or date+time", s)
		}
		if d.After(store.Now()) {
			return nil, invalid("Provided value for parameter analyzedBefore must not be a future date")
		}
		return nil, nil
	}
	qualifiers := strings.Split(cl.str("qualifiers"), ",")
	for _, q := range qualifiers {
		if !contains([]string{"TRK", "VW", "APP"}, strings.TrimSpace(q)) {
			return nil, invalid("Value of parameter 'qualifiers' (%s) must be one of: [TRK, VW, APP]", q)
		}
	}
	if !contains(qualifiers, "TRK") {
		return nil, nil // no portfolios or applications here
	}
	var keys []string
	if s := cl.str("projects"); s != "" {
		keys = strings.Split(s, ",")
		keys = keys[:min(len(keys), maxBulkProjects)]
	}
	q, vis := strings.ToLower(cl.str("q")), cl.str("visibility")
	var out []store.Project
	for p, err := range tx.Projects() {
		if err != nil {
			return nil, err
		}
		if q != "" && !strings.Contains(strings.ToLower(p.Key), q) && !strings.Contains(strings.ToLower(p.Name), q) ||
			vis != "" && p.Visibility() != vis || keys != nil && !contains(keys, p.Key) {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// parseDateOrTime reads SonarQube's date (2006-01-02) or date-time
// (2006-01-02T15:04:05-0700) parameters.
func parseDateOrTime(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02T15:04:05-0700", s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02", s, time.UTC)
}
