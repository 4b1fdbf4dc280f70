package webapi

import (
	"github.com/scimgate/scimgate/store"
)

var accessAction = action{Key: "access", Since: "1.1", Access: loggedIn, Handle: projectAccess,
	Desc: "Who can browse a project (or hold another project permission), and how: as everyone on a public project, directly, through Anyone or a group, and whether the grant came from a permission template. Requires Administer System permission or Administer on the project.",
	Params: append([]param{
		{Key: "project", Desc: "Project key", Required: true},
		{Key: "permission", Desc: "Project permission", Default: store.PermBrowse, Values: store.ProjectPermissions},
	}, pagingParams(100, 500)...)}

// pathJSON is one way a user holds a project permission.
type pathJSON struct {
	Via      string `json:"via"`                // "public", "user", "group" or "anyone"
	Group    string `json:"group,omitempty"`    // for "group"
	Template string `json:"template,omitempty"` // the template the grant came from, if it did
}

func newPathsJSON(paths []store.AccessPath) []pathJSON {
	out := make([]pathJSON, len(paths))
	for i, p := range paths {
		out[i] = pathJSON(p)
	}
	return out
}

func projectAccess(cl *call) error {
	p, ps, err := cl.page()
	if err != nil {
		return err
	}
	type userJSON struct {
		Login   string     `json:"login"`
		Name    string     `json:"name"`
		Managed bool       `json:"managed"`
		Via     []pathJSON `json:"via"`
	}
	perm := cl.str("permission")
	var pr store.Project
	anyone, users := []pathJSON{}, []userJSON{}
	w := newWindow(p, ps)
	err = cl.view(func(tx store.Tx) error {
		key := cl.str("project")
		if pr, err = store.ProjectFor(tx, cl.callerOf(), key, store.PermAdmin, notFound("Project '%s' not found", key)); err != nil {
			return err
		}
		viaAnyone, all, err := store.ProjectAccess(tx, pr, perm)
		if err != nil {
			return err
		}
		anyone = append(anyone, newPathsJSON(viaAnyone)...)
		for a, err := range all {
			if err != nil {
				return err
			}
			if w.take() {
				users = append(users, userJSON{a.User.Login, a.User.Name, a.User.Managed, newPathsJSON(a.Via)})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"project": newProjectJSON(pr), "permission": perm, "anyone": anyone,
		"paging": w.paging(p), "users": users})
}
