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
	update(t, s, func(tx store.Tx) error {
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
	view(t, s, func(tx store.Tx) error {
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
	update(t, s, func(tx store.Tx) error {
		p.Key = "web"
		return tx.PutProject(p)
	})
	update(t, s, func(tx store.Tx) error {
		if _, err := tx.ProjectByKey("Web-App"); !store.IsNotFound(err) {
			t.Errorf("old key still found: %v", err)
		}
		return store.RemoveProject(tx, p)
	})
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.ProjectByKey("web"); !store.IsNotFound(err) {
			t.Errorf("deleted project found: %v", err)
		}
		return nil
	})
}

// holders lists the logins or group names holding key.
func holders(t *testing.T, tx store.Tx, key string) []string {
	var out []string
	for s := range tx.Holders(key) {
		if s.IsUser() {
			u, _ := tx.User(s.ID)
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

func testProjectPermissionRules(t *testing.T, s store.Store) {
	ann, bob, cid := mkUser(t, s, "ann"), mkUser(t, s, "bob"), mkUser(t, s, "cid")
	var devs store.Group
	var def, svc store.Template
	update(t, s, func(tx store.Tx) error {
		var err error
		if devs, err = store.NewGroup(tx, store.Group{Name: "devs", Managed: true}); err != nil {
			return err
		}
		if err := tx.AddMember(devs.ID, bob.ID); err != nil {
			return err
		}
		def = store.Template{ID: store.NewID(), Name: "default"}
		svc = store.Template{ID: store.NewID(), Name: "services", KeyPattern: "svc-.*"}
		for _, tpl := range []store.Template{def, svc} {
			if err := tx.PutTemplate(tpl); err != nil {
				return err
			}
		}
		if err := store.SetDefaultTemplate(tx, def); err != nil {
			return err
		}
		grants := []struct {
			s    store.Subject
			perm string
		}{
			{store.UserSubject(ann.ID), store.InTemplate(def.ID, store.PermAdmin)},
			{store.GroupSubject(devs.ID), store.InTemplate(def.ID, store.PermBrowse)},
			{store.GroupSubject(store.AnyoneGroup), store.InTemplate(def.ID, store.PermBrowse)},
			{store.GroupSubject(store.AnyoneGroup), store.InTemplate(def.ID, store.PermScan)},
			{store.UserSubject(cid.ID), store.InTemplate(svc.ID, store.PermBrowse)},
		}
		for _, g := range grants {
			if err := tx.Grant(g.s, g.perm); err != nil {
				return err
			}
		}
		return nil
	})
	var private, public, service store.Project
	update(t, s, func(tx store.Tx) error {
		var err error
		if private, err = store.CreateProject(tx, store.Project{Key: "secret", Private: true}); err != nil {
			return err
		}
		if public, err = store.CreateProject(tx, store.Project{Key: "open"}); err != nil {
			return err
		}
		service, err = store.CreateProject(tx, store.Project{Key: "svc-billing", Private: true})
		return err
	})
	view(t, s, func(tx store.Tx) error {
		cases := []struct {
			name string
			key  string
			want []string
		}{
			{"default template: private, Anyone skipped", store.OnProject(private.ID, store.PermBrowse), []string{"devs"}},
			{"default template: admin", store.OnProject(private.ID, store.PermAdmin), []string{"ann"}},
			{"default template: public, Browse implied, not stored", store.OnProject(public.ID, store.PermBrowse), nil},
			{"default template: Anyone scan on public", store.OnProject(public.ID, store.PermScan), []string{store.AnyoneGroup}},
			{"key pattern wins over the default", store.OnProject(service.ID, store.PermBrowse), []string{"cid"}},
		}
		for _, tc := range cases {
			if got := holders(t, tx, tc.key); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s: holders %v, want %v", tc.name, got, tc.want)
			}
		}
		browse := []struct {
			who  store.User
			p    store.Project
			want bool
		}{
			{bob, private, true}, {ann, private, false}, {cid, private, false},
			{cid, public, true}, {cid, service, true}, {bob, service, false},
		}
		for _, b := range browse {
			if ok, _ := store.HasProjectPermission(tx, b.who.ID, b.p, store.PermBrowse); ok != b.want {
				t.Errorf("%s browses %s: %v, want %v", b.who.Login, b.p.Key, ok, b.want)
			}
		}
		g, _ := store.Grantees(tx, private, store.PermBrowse)
		if via := g[bob.ID]; len(via) != 1 || via[0] != (store.AccessPath{Via: "group", Group: "devs", Template: "default"}) {
			t.Errorf("bob's access path: %+v", via)
		}
		return nil
	})
	// A second matching pattern is refused when a project is created.
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutTemplate(store.Template{ID: store.NewID(), Name: "all", KeyPattern: ".*"}); err != nil {
			return err
		}
		_, err := store.CreateProject(tx, store.Project{Key: "svc-x"})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), `The "svc-x" key matches multiple permission templates: "all", "services".`) {
		t.Errorf("two matching templates: %v", err)
	}
	// Visibility changes as SonarQube makes them.
	update(t, s, func(tx store.Tx) error {
		var err error
		if public, err = store.SetVisibility(tx, public, true); err != nil {
			return err
		}
		if got := holders(t, tx, store.OnProject(public.ID, store.PermScan)); len(got) != 0 {
			t.Errorf("Anyone keeps scan on a private project: %v", got)
		}
		if private, err = store.SetVisibility(tx, private, false); err != nil {
			return err
		}
		for _, perm := range store.PublicPermissions {
			if got := holders(t, tx, store.OnProject(private.ID, perm)); len(got) != 0 {
				t.Errorf("public project stores %s: %v", perm, got)
			}
		}
		if got := holders(t, tx, store.OnProject(private.ID, store.PermAdmin)); !reflect.DeepEqual(got, []string{"ann"}) {
			t.Errorf("admin lost going public: %v", got)
		}
		return nil
	})
	// The last administrator of a project is kept.
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Revoke(store.UserSubject(ann.ID), store.OnProject(private.ID, store.PermAdmin)); err != nil {
			return err
		}
		return store.EnsureProjectAdmin(tx, private, "last admin")
	})
	if err == nil || err.Error() != "last admin" {
		t.Errorf("last project admin removed: %v", err)
	}
}

func testOrganizationMembership(t *testing.T, s store.Store) {
	dan := mkUser(t, s, "dan")
	var p store.Project
	var g store.Group
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutOrganization(store.Organization{Key: "acme", Name: "Acme"}); err != nil {
			return err
		}
		if err := store.CheckOrgMember(tx, "acme", dan); err == nil || err.Error() != "User 'dan' is not member of organization 'acme'" {
			t.Errorf("non-member: %v", err)
		}
		if err := store.AddOrgMember(tx, "acme", dan); err != nil {
			return err
		}
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "acme-devs", Organization: "acme"}); err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, dan.ID); err != nil {
			return err
		}
		if p, err = store.CreateProject(tx, store.Project{Key: "acme-web", Private: true, Organization: "acme"}); err != nil {
			return err
		}
		return tx.Grant(store.UserSubject(dan.ID), store.OnProject(p.ID, store.PermBrowse))
	})
	view(t, s, func(tx store.Tx) error {
		if ok, _ := store.HasProjectPermission(tx, dan.ID, p, store.PermBrowse); !ok {
			t.Error("member with Browse cannot browse")
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return store.RemoveOrgMember(tx, "acme", dan) })
	view(t, s, func(tx store.Tx) error {
		if ok, _ := store.IsOrgMember(tx, "acme", dan.ID); ok {
			t.Error("still a member")
		}
		if ok, _ := store.IsMember(tx, g.ID, dan.ID); ok {
			t.Error("still in the organization's group")
		}
		if got := holders(t, tx, store.OnProject(p.ID, store.PermBrowse)); len(got) != 0 {
			t.Errorf("keeps Browse on the organization's project: %v", got)
		}
		return nil
	})
}

// The default group's members are exactly the active users, whatever adds
// or removes them.
func testDefaultGroupIsActiveUsers(t *testing.T, s store.Store) {
	if _, _, err := store.Bootstrap(ctx, s, "Gate-keeper-123!"); err != nil {
		t.Fatal(err)
	}
	eve, fox := mkUser(t, s, "eve"), mkUser(t, s, "fox")
	check := func(when string, want ...string) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			def, err := tx.GroupByName(store.DefaultGroup)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for id := range store.Members(tx, def.ID) {
				u, _ := tx.User(id)
				got = append(got, u.Login)
			}
			slices.Sort(got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: members %v, want %v", when, got, want)
			}
			if n, _ := store.CountMembers(tx, def.ID); n != len(want) {
				t.Errorf("%s: CountMembers = %d, want %d", when, n, len(want))
			}
			// The contract: ActiveUsers and CountActiveUsers are the derived
			// membership, and no membership row of the default group is stored.
			if n, err := tx.CountActiveUsers(); err != nil || n != len(want) || len(slices.Collect(tx.ActiveUsers())) != n {
				t.Errorf("%s: CountActiveUsers = %d (%v), ActiveUsers %d, want %d", when, n, err, len(slices.Collect(tx.ActiveUsers())), len(want))
			}
			if rows, _ := tx.CountMembers(def.ID); rows != 0 {
				t.Errorf("%s: %d stored rows for the default group", when, rows)
			}
			for _, u := range []store.User{eve, fox} {
				in, _ := store.IsMember(tx, def.ID, u.ID)
				listed := slices.Contains(slices.Collect(store.GroupsOf(tx, u.ID)), def.ID)
				if in != slices.Contains(want, u.Login) || listed != in {
					t.Errorf("%s: %s IsMember %v, in GroupsOf %v", when, u.Login, in, listed)
				}
			}
			return nil
		})
	}
	check("created", "admin", "eve", "fox")
	update(t, s, func(tx store.Tx) error {
		def, _ := tx.GroupByName(store.DefaultGroup)
		if err := tx.RemoveMember(def.ID, eve.ID); err != nil { // no effect: membership follows activity
			return err
		}
		u, _ := tx.User(fox.ID)
		_, err := store.Deactivate(tx, "", u, false)
		return err
	})
	check("fox deactivated", "admin", "eve")
	update(t, s, func(tx store.Tx) error {
		u, _ := tx.User(fox.ID)
		_, err := store.Reactivate(tx, u)
		return err
	})
	check("fox reactivated", "admin", "eve", "fox")
}

// Generation moves with committed writes only: derived results (the
// authenticator's token cache) rely on it.
func testGeneration(t *testing.T, s store.Store) {
	g0 := s.Generation()
	view(t, s, func(tx store.Tx) error { _, err := tx.CountUsers(); return err })
	if err := s.Update(ctx, func(tx store.Tx) error { return store.Errorf(store.EInvalid, "no") }); store.ErrorCode(err) != store.EInvalid {
		t.Fatalf("a refused Update returned %v", err)
	}
	if g := s.Generation(); g != g0 {
		t.Fatalf("a read or a rolled-back write moved the generation: %d -> %d", g0, g)
	}
	mkUser(t, s, "gen")
	if g := s.Generation(); g <= g0 {
		t.Fatalf("a committed write left the generation at %d (was %d)", g, g0)
	}
}
