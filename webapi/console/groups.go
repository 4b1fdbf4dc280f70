package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/scimgate/scimgate/store"
)

type groupRow struct {
	store.Group
	Members int
	Default bool // the default group: every active user, derived
}

type groupsView struct {
	Q      string
	Groups []groupRow
	Pager  pager
}

func groupsPage(r *request) error {
	v := groupsView{Q: r.QueryParam("q")}
	q := strings.ToLower(v.Q)
	w := window{page: r.pageNumber()}
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		for g, err := range tx.GroupsByName() {
			if err != nil {
				return err
			}
			if q != "" && !strings.Contains(strings.ToLower(g.Name), q) || !w.take() {
				continue
			}
			n, err := store.CountMembers(tx, g.ID)
			if err != nil {
				return err
			}
			v.Groups = append(v.Groups, groupRow{g, n, g.Name == store.DefaultGroup})
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	v.Pager = w.pager(url.Values{"q": {v.Q}}, -1)
	return r.render(http.StatusOK, "groups", "Groups", "groups", v)
}

// memberLimit bounds the members a group page lists.
const memberLimit = 200

type groupView struct {
	Group       store.Group
	Default     bool
	Members     []store.User
	MemberCount int
	Permissions []grant
}

func groupPage(r *request) error {
	var v groupView
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		g, err := tx.Group(r.Param("id"))
		if err != nil {
			return notFound(err)
		}
		v.Group, v.Default = g, g.Name == store.DefaultGroup
		if v.MemberCount, err = store.CountMembers(tx, g.ID); err != nil {
			return err
		}
		if v.Members, _, err = store.GroupMembers(tx, g.ID).Page(nil, 0, memberLimit); err != nil {
			return err
		}
		keys, err := tx.Permissions(store.GroupSubject(g.ID))
		if err != nil {
			return err
		}
		for _, k := range keys {
			scope, pid, perm := store.ParsePerm(k)
			switch scope {
			case "":
				v.Permissions = append(v.Permissions, grant{Permission: perm})
			case "project":
				if p, err := tx.Project(pid); err == nil {
					v.Permissions = append(v.Permissions, grant{Permission: perm, Project: p.Key, ProjectID: p.ID})
				}
			}
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	return r.render(http.StatusOK, "group", v.Group.Name, "groups", v)
}

func editGroup(r *request) error {
	name, description := r.form("name"), r.form("description")
	if _, _, err := store.UpdateGroup(r.ctx(), r.con.store, r.caller, store.ByID(r.Param("id")), &name, &description); err != nil {
		return r.fail(err)
	}
	return r.done("/groups/"+r.Param("id"), "saved")
}

// changeMember adds (op=add) or removes (op=remove) the user of login.
func changeMember(r *request) error {
	group, user := store.ByID(r.Param("id")), store.ByName(r.form("login"))
	var err error
	notice := "added"
	if r.FormValue("op") == "remove" {
		err, notice = store.RemoveGroupMember(r.ctx(), r.con.store, r.caller, group, user), "removed"
	} else {
		err = store.AddGroupMember(r.ctx(), r.con.store, r.caller, group, user)
	}
	if err != nil {
		return r.fail(err)
	}
	return r.done("/groups/"+r.Param("id"), notice)
}
