package v2

import (
	"net/http"
	"strings"

	"github.com/scimgate/scimgate/store"
)

const groupsPath = "/api/v2/authorizations/groups"

var groupRoutes = []route{
	{Method: http.MethodGet, Path: groupsPath, Summary: "Search groups, sorted by name", Access: admin, Status: http.StatusOK,
		Result: `{"groups":[group],"page":page}`, Handle: searchGroups,
		Params: append([]param{
			{Name: "q", Desc: "Part of the name, case-insensitive"},
			{Name: "managed", Desc: "Groups provisioned by the identity provider (true) or not (false)", Type: "boolean"},
			{Name: "userId", Desc: "Groups this user belongs to"},
			{Name: "userId!", Desc: "Groups this user does not belong to"},
		}, pageParams...)},
	{Method: http.MethodGet, Path: groupsPath + "/:id", Summary: "A group by id (the id SCIM shows)", Access: admin, Status: http.StatusOK, Result: "group", Handle: getGroup},
	{Method: http.MethodPost, Path: groupsPath, Summary: "Create a local group", Access: admin, Body: groupBody{}, Status: http.StatusCreated, Result: "group", Handle: createGroup},
	{Method: http.MethodPatch, Path: groupsPath + "/:id", Summary: "Rename a local group or change its description (merge patch)", Access: admin,
		Body: groupPatchBody{}, MergePatch: true, Status: http.StatusOK, Result: "group", Handle: patchGroup},
	{Method: http.MethodDelete, Path: groupsPath + "/:id", Summary: "Delete a local group (not the default one)", Access: admin, Status: http.StatusNoContent, Handle: deleteGroup},
}

// groupJSON is a group as v2 shows it.
type groupJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Managed     bool    `json:"managed"`
	Default     bool    `json:"default"`
}

func newGroupJSON(g store.Group) groupJSON {
	var d *string
	if g.Description != "" {
		d = ptr(g.Description)
	}
	return groupJSON{g.ID, g.Name, d, g.Managed, g.Name == store.DefaultGroup}
}

func searchGroups(cl *call) error {
	q := strings.ToLower(cl.query("q"))
	pg := cl.pager()
	groups := []groupJSON{}
	err := cl.api.store.View(cl.c.Request().Context(), func(tx store.Tx) error {
		// userId and userId! filter on membership: each names an existing
		// user whose membership must be as wanted.
		type filter struct {
			uid  string
			want bool
		}
		var filters []filter
		for param, want := range map[string]bool{"userId": true, "userId!": false} {
			if !cl.has(param) {
				continue
			}
			uid := cl.query(param)
			if _, err := tx.User(uid); err != nil {
				return store.Errorf(store.ENotFound, "User '%s' not found", uid)
			}
			filters = append(filters, filter{uid, want})
		}
		keep := func(g store.Group) (bool, error) {
			if q != "" && !strings.Contains(strings.ToLower(g.Name), q) || cl.has("managed") && g.Managed != (cl.query("managed") == "true") {
				return false, nil
			}
			for _, f := range filters {
				if in, err := store.IsMember(tx, g.ID, f.uid); err != nil || in != f.want {
					return false, err
				}
			}
			return true, nil
		}
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			ok, err := keep(g)
			if err != nil {
				return err
			}
			if ok && pg.take() {
				groups = append(groups, newGroupJSON(g))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, map[string]any{"groups": groups, "page": pg.page()})
}

func getGroup(cl *call) error {
	var g store.Group
	err := cl.api.store.View(cl.c.Request().Context(), func(tx store.Tx) error {
		var err error
		if g, err = tx.Group(cl.c.Param("id")); err != nil {
			return store.Errorf(store.ENotFound, "Group '%s' not found", cl.c.Param("id"))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, newGroupJSON(g))
}

// groupBody is POST /groups.
type groupBody struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

func createGroup(cl *call) error {
	var b groupBody
	if err := cl.decode(&b); err != nil {
		return err
	}
	if len([]rune(b.Description)) > 200 {
		return &httpError{http.StatusBadRequest, "Value for field 'description' must be at most 200 characters long"}
	}
	if len([]rune(b.Name)) > store.MaxNameLength {
		return &httpError{http.StatusBadRequest, "Value for field 'name' must be at most 255 characters long"}
	}
	g, err := store.CreateGroup(cl.c.Request().Context(), cl.api.store, b.Name, b.Description, "")
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusCreated, newGroupJSON(g))
}

// groupPatchBody is PATCH /groups/{id}.
type groupPatchBody struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
}

func patchGroup(cl *call) error {
	var b groupPatchBody
	if err := cl.decode(&b); err != nil {
		return err
	}
	g, _, err := store.UpdateGroup(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByID(cl.c.Param("id")), b.Name, b.Description)
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, newGroupJSON(g))
}

func deleteGroup(cl *call) error {
	if err := store.RemoveGroup(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByID(cl.c.Param("id"))); err != nil {
		return err
	}
	return cl.c.NoContent(http.StatusNoContent)
}
