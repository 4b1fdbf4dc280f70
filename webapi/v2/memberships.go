package v2

import (
	"net/http"
	"strings"

	"github.com/scimgate/scimgate/store"
)

const membershipsPath = "/api/v2/authorizations/group-memberships"

var membershipRoutes = []route{
	{Method: http.MethodGet, Path: membershipsPath, Summary: "Search group memberships (the default group's included), by user and/or group", Access: admin,
		Status: http.StatusOK, Result: `{"groupMemberships":[membership],"page":page}`, Handle: searchMemberships,
		Params: append([]param{{Name: "userId", Desc: "Memberships of this user"}, {Name: "groupId", Desc: "Memberships of this group"}}, pageParams...)},
	{Method: http.MethodPost, Path: membershipsPath, Summary: "Add a user to a local group", Access: admin, Body: membershipBody{}, Status: http.StatusCreated,
		Result: "membership", Handle: addMembership},
	{Method: http.MethodDelete, Path: membershipsPath + "/:id", Summary: "Remove a user from a local group", Access: admin, Status: http.StatusNoContent, Handle: removeMembership},
}

// membershipJSON is a membership; its id joins the group's and the user's.
type membershipJSON struct {
	ID      string `json:"id"`
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
}

func newMembership(groupID, userID string) membershipJSON {
	return membershipJSON{groupID + ":" + userID, groupID, userID}
}

func searchMemberships(cl *call) error {
	pg := cl.pager()
	out := []membershipJSON{}
	userID, groupID := cl.query("userId"), cl.query("groupId")
	err := cl.api.store.View(cl.c.Request().Context(), func(tx store.Tx) error {
		emit := func(gid, uid string) {
			if pg.take() {
				out = append(out, newMembership(gid, uid))
			}
		}
		switch {
		case groupID != "":
			if _, err := tx.Group(groupID); err != nil {
				return store.Errorf(store.ENotFound, "Group '%s' not found", groupID)
			}
			for uid := range store.Members(tx, groupID) {
				if userID == "" || uid == userID {
					emit(groupID, uid)
				}
			}
		case userID != "":
			if _, err := tx.User(userID); err != nil {
				return store.Errorf(store.ENotFound, "User '%s' not found", userID)
			}
			for gid := range store.GroupsOf(tx, userID) {
				emit(gid, userID)
			}
		default:
			for g, err := range tx.GroupsByName() {
				if err != nil {
					return err
				}
				for uid := range store.Members(tx, g.ID) {
					emit(g.ID, uid)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.c.JSON(http.StatusOK, map[string]any{"groupMemberships": out, "page": pg.page()})
}

// membershipBody is POST /group-memberships.
type membershipBody struct {
	GroupID string `json:"groupId"`
	UserID  string `json:"userId"`
}

func addMembership(cl *call) error {
	var b membershipBody
	if err := cl.decode(&b); err != nil {
		return err
	}
	if b.GroupID == "" || b.UserID == "" {
		return &httpError{http.StatusBadRequest, "Values for fields 'groupId' and 'userId' are required"}
	}
	if err := store.AddGroupMember(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByID(b.GroupID), store.ByID(b.UserID)); err != nil {
		return err
	}
	return cl.c.JSON(http.StatusCreated, newMembership(b.GroupID, b.UserID))
}

func removeMembership(cl *call) error {
	groupID, userID, ok := strings.Cut(cl.c.Param("id"), ":")
	if !ok || groupID == "" || userID == "" {
		return store.Errorf(store.ENotFound, "Group membership '%s' not found", cl.c.Param("id"))
	}
	if err := store.RemoveGroupMember(cl.c.Request().Context(), cl.api.store, cl.callerOf(), store.ByID(groupID), store.ByID(userID)); err != nil {
		return err
	}
	return cl.c.NoContent(http.StatusNoContent)
}
