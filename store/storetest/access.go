package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// The contract and rules of per-project access: projects, templates and
// organisations, their indexes, and scoped permissions.

func testProjectsTemplatesOrgs(t *testing.T, s store.Store) {
	var p store.Project
	Update(t, s, func(tx store.Tx) error {
		var err error
		p, err = store.CreateProject(tx, store.Project{Key: "Web-App", Name: "Web", Private: true})
		if err != nil {
			return err
		}
		if _, err := store.CreateProject(tx, store.Project{Key: "api", Name: "API"}); err != nil {
			return err
		}
		if err := tx.PutTemplate(store.Template{ID: store.NewID(), Name: "Default", Default: true}); err != nil {
			return err
		}
		return tx.PutOrganization(store.Organization{Key: "acme", Name: "Acme"})
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutProject(store.Project{ID: store.NewID(), Key: "web-app", Name: "dup"})
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Errorf("duplicate project key (other case): %v, want conflict", err)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.PutTemplate(store.Template{ID: store.NewID(), Name: "DEFAULT"})
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Errorf("duplicate template name: %v, want conflict", err)
	}
	View(t, s, func(tx store.Tx) error {
		got, err := tx.ProjectByKey("WEB-APP")
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("ProjectByKey = %+v, %v; want %+v", got, err, p)
		}
		var keys []string
		for pr, err := range tx.Projects() {
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, pr.Key)
		}
		if strings.Join(keys, ",") != "api,Web-App" {
			t.Errorf("Projects order: %v", keys)
		}
		if tpl, err := tx.TemplateByName("default"); err != nil || !tpl.Default {
			t.Errorf("TemplateByName = %+v, %v", tpl, err)
		}
		if o, err := tx.Organization("acme"); err != nil || o.Name != "Acme" {
			t.Errorf("Organization = %+v, %v", o, err)
		}
		return nil
	})
	// Renaming frees the old key; deleting frees the new one.
	Update(t, s, func(tx store.Tx) error {
		p.Key = "web"
		return tx.PutProject(p)
	})
	Update(t, s, func(tx store.Tx) error {
		if _, err := tx.ProjectByKey("Web-App"); !store.IsNotFound(err) {
			t.Errorf("old key still found: %v", err)
		}
		return store.RemoveProject(tx, p)
	})
	View(t, s, func(tx store.Tx) error {
		if _, err := tx.ProjectByKey("web"); !store.IsNotFound(err) {
			t.Errorf("deleted project found: %v", err)
		}
		return nil
	})
}

// holders lists the logins or group names holding key.
func Holders(t *testing.T, tx store.Tx, key store.PermKey) []string {
	var out []string
	for s := range tx.Holders(key) {
		if s.IsUser() {
			u, err := tx.User(s.ID)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, u.Login)
		} else if g, err := tx.Group(s.ID); err == nil {
			out = append(out, g.Name)
		} else {
			out = append(out, s.ID)
		}
	}
	slices.Sort(out)
	return out
}

// The default group's members are exactly the active users, whatever adds
// or removes them.
func testDefaultGroupIsActiveUsers(t *testing.T, s store.Store) {
	if _, _, err := store.Bootstrap(ctx, s, "Gate-keeper-123!"); err != nil {
		t.Fatal(err)
	}
	eve, fox := MkUser(t, s, "eve"), MkUser(t, s, "fox")
	check := func(when string, want ...string) {
		t.Helper()
		View(t, s, func(tx store.Tx) error {
			def, err := tx.GroupByName(store.DefaultGroup)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for id := range store.Members(tx, def.ID) {
				u, err := tx.User(id)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, u.Login)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: members %v, want %v", when, got, want)
			}
			if n, err := store.CountMembers(tx, def.ID); err != nil || n != len(want) {
				t.Errorf("%s: CountMembers = %d, want %d (err %v)", when, n, len(want), err)
			}
			// The contract: ActiveUsers and CountActiveUsers are the derived
			// membership, and no membership row of the default group is stored.
			if n, err := tx.CountActiveUsers(); err != nil || n != len(want) || len(slices.Collect(tx.ActiveUsers())) != n {
				t.Errorf("%s: CountActiveUsers = %d (%v), ActiveUsers %d, want %d", when, n, err, len(slices.Collect(tx.ActiveUsers())), len(want))
			}
			if rows, err := tx.CountMembers(def.ID); err != nil || rows != 0 {
				t.Errorf("%s: %d stored rows for the default group (err %v)", when, rows, err)
			}
			for _, u := range []store.User{eve, fox} {
				in, err := store.IsMember(tx, def.ID, u.ID)
				if err != nil {
					t.Fatal(err)
				}
				listed := slices.Contains(slices.Collect(store.GroupsOf(tx, u.ID)), def.ID)
				if in != slices.Contains(want, u.Login) || listed != in {
					t.Errorf("%s: %s IsMember %v, in GroupsOf %v", when, u.Login, in, listed)
				}
			}
			return nil
		})
	}
	check("created", "admin", "eve", "fox")
	Update(t, s, func(tx store.Tx) error {
		def, err := tx.GroupByName(store.DefaultGroup)
		if err != nil {
			return err
		}
		if err := tx.RemoveMember(def.ID, eve.ID); err != nil { // no effect: membership follows activity
			return err
		}
		u, err := tx.User(fox.ID)
		if err != nil {
			return err
		}
		_, err = store.Deactivate(tx, "", u, false)
		return err
	})
	check("fox deactivated", "admin", "eve")
	Update(t, s, func(tx store.Tx) error {
		u, err := tx.User(fox.ID)
		if err != nil {
			return err
		}
		_, err = store.Reactivate(tx, u)
		return err
	})
	check("fox reactivated", "admin", "eve", "fox")
}

// Generation moves with committed writes that change what resolving a
// token reads, and with nothing else: the authenticator's token cache
// relies on the first, and an IdP pushing users and memberships of users
// without tokens relies on the second to keep the cache.
func testGeneration(t *testing.T, s store.Store) {
	holder, plain := MkUser(t, s, "holder"), MkUser(t, s, "plain")
	hash := store.HashToken(store.NewTokenSecret())
	var g store.Group
	Update(t, s, func(tx store.Tx) error {
		var err error
		g, err = store.NewGroup(tx, store.Group{Name: "gen"})
		return err
	})
	user := func(id string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			u, err := tx.User(id)
			if err != nil {
				return err
			}
			u.Name += "!"
			return tx.PutUser(u)
		}
	}
	admin := store.Global(store.PermAdmin)
	for _, c := range []struct {
		name  string
		fn    func(tx store.Tx) error
		moves bool
	}{
		{"a refused write", func(tx store.Tx) error { return store.Errorf(store.EInvalid, "no") }, false},
		{"a user without tokens", user(plain.ID), false},
		{"a membership of a user without tokens", func(tx store.Tx) error { return tx.AddMember(g.ID, plain.ID) }, false},
		{"a new token", func(tx store.Tx) error {
			return tx.PutToken(store.Token{Hash: hash, UserID: holder.ID, Name: "t", Type: store.TokenUser, Created: store.Now()})
		}, true},
		{"a user holding a token", user(holder.ID), true},
		{"a membership of a user holding a token", func(tx store.Tx) error { return tx.AddMember(g.ID, holder.ID) }, true},
		{"a membership ended of a user holding a token", func(tx store.Tx) error { return tx.RemoveMember(g.ID, holder.ID) }, true},
		{"a permission granted", func(tx store.Tx) error { return tx.Grant(store.GroupSubject(g.ID), admin) }, true},
		{"a permission revoked", func(tx store.Tx) error { return tx.Revoke(store.GroupSubject(g.ID), admin) }, true},
		{"a group changed", func(tx store.Tx) error { g.Description = "x"; return tx.PutGroup(g) }, true},
		{"a token deleted", func(tx store.Tx) error { return tx.DeleteToken(hash) }, true},
		{"a user whose token was deleted", user(holder.ID), false},
		{"a group deleted", func(tx store.Tx) error { return tx.DeleteGroup(g.ID) }, true},
	} {
		g0 := s.Generation()
		View(t, s, func(tx store.Tx) error { _, err := tx.CountUsers(); return err })
		if err := s.Update(ctx, c.fn); err != nil && c.name != "a refused write" {
			t.Fatalf("%s: %v", c.name, err)
		}
		if g := s.Generation(); (g != g0) != c.moves {
			t.Errorf("%s: generation %d -> %d, want moved = %v", c.name, g0, g, c.moves)
		}
	}
}
