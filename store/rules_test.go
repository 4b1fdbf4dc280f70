package store_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
	"github.com/scimgate/scimgate/store/storetest"
)

// Tests of the rules the use cases share (bootstrap, deactivation, last
// administrators, authentication, the audit trail, project permissions,
// organisations), on a real bbolt file. The contract every backend keeps is
// tested by store/storetest.

func TestBootstrap(t *testing.T) {
	s := bolttest.MustOpen(t)
	pw, created, err := store.Bootstrap(ctx, s, "")
	if err != nil || !created || len(pw) < 12 {
		t.Fatalf("Bootstrap = %q, %v, %v", pw, created, err)
	}
	if _, again, err := store.Bootstrap(ctx, s, "x"); err != nil || again {
		t.Fatalf("Bootstrap ran twice (err %v)", err)
	}
	u, err := authenticate(s, "admin", pw, true)
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	if _, err := authenticate(s, "admin", pw+"x", true); err == nil {
		t.Fatal("wrong password accepted")
	}
	storetest.View(t, s, func(tx store.Tx) error {
		if ok, err := store.HasPermission(tx, u.ID, store.PermAdmin); err != nil || !ok {
			t.Errorf("admin lacks admin (err %v)", err)
		}
		g, err := tx.GroupByName(store.DefaultGroup)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := store.IsMember(tx, g.ID, u.ID); err != nil || !ok {
			t.Errorf("admin not in sonar-users (err %v)", err)
		}
		return nil
	})
}

func TestDeactivateRules(t *testing.T) {
	s := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(ctx, s, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	var admin store.User
	storetest.View(t, s, func(tx store.Tx) (err error) { admin, err = tx.UserByLogin("admin"); return err })
	u := storetest.MkUser(t, s, "hal")
	secret := store.NewTokenSecret()
	storetest.Update(t, s, func(tx store.Tx) error {
		if err := tx.Grant(store.UserSubject(u.ID), store.PermScan); err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(secret), UserID: u.ID, Name: "t"})
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := store.Deactivate(tx, admin.ID, admin, false)
		return err
	})
	if store.ErrorMessage(err) != "Self-deactivation is not possible" {
		t.Errorf("self-deactivation err = %v", err)
	}
	storetest.Update(t, s, func(tx store.Tx) error {
		_, err := store.Deactivate(tx, admin.ID, u, false)
		return err
	})
	storetest.View(t, s, func(tx store.Tx) error {
		got, err := tx.User(u.ID)
		if err != nil {
			return err
		}
		toks, err := tx.Tokens(u.ID)
		if err != nil {
			return err
		}
		perms, err := tx.Permissions(store.UserSubject(u.ID))
		if err != nil {
			return err
		}
		n := 0
		n += len(slices.Collect(store.GroupsOf(tx, u.ID)))
		if got.Active || len(toks) != 0 || len(perms) != 0 || n != 0 {
			t.Errorf("after deactivate: active=%v tokens=%d perms=%v groups=%d", got.Active, len(toks), perms, n)
		}
		return nil
	})
	// Another admin deactivating the only admin is refused.
	other := storetest.MkUser(t, s, "ivy")
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := store.Deactivate(tx, other.ID, admin, false)
		return err
	})
	if store.ErrorMessage(err) != "User is last administrator, and cannot be deactivated" {
		t.Errorf("last admin err = %v", err)
	}
	storetest.View(t, s, func(tx store.Tx) error {
		if got, err := tx.User(admin.ID); err != nil || !got.Active {
			t.Errorf("refused deactivation left the admin inactive (err %v)", err)
		}
		return nil
	})
	storetest.Update(t, s, func(tx store.Tx) error {
		var err error
		if u, err = tx.User(u.ID); err != nil {
			return err
		}
		_, err = store.Reactivate(tx, u)
		return err
	})
	storetest.View(t, s, func(tx store.Tx) error {
		g, err := tx.GroupByName(store.DefaultGroup)
		if err != nil {
			return err
		}
		if ok, err := store.IsMember(tx, g.ID, u.ID); err != nil || !ok {
			t.Errorf("reactivated user not back in sonar-users (err %v)", err)
		}
		return nil
	})
}

func TestLastAdminGroup(t *testing.T) {
	s := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(ctx, s, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		if err := tx.Revoke(store.UserSubject(admin.ID), store.PermAdmin); err != nil {
			return err
		}
		g, err := tx.GroupByName("sonar-administrators")
		if err != nil {
			return err
		}
		if err := tx.DeleteGroup(g.ID); err != nil {
			return err
		}
		return store.EnsureAdmin(tx, "The last system admin group cannot be deleted")
	})
	if store.ErrorCode(err) != store.EInvalid {
		t.Fatalf("EnsureAdmin err = %v", err)
	}
	storetest.View(t, s, func(tx store.Tx) error {
		if _, err := tx.GroupByName("sonar-administrators"); err != nil {
			t.Error("refused change was not rolled back")
		}
		return nil
	})
}

// authenticate checks credentials as a request would present them: a token
// (basic false, or an empty password) or a login and password.
func authenticate(s store.Store, login, password string, basic bool) (store.User, error) {
	header := "Bearer " + login
	if basic && password != "" {
		header = "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+password))
	}
	c, err := auth.New(s, store.DefaultPolicy(), nil).Authenticate(ctx, auth.Credentials{Header: header})
	return c.User, err
}

func TestAuthenticate(t *testing.T) {
	s := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(ctx, s, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ login, pw string }{
		{"ADMIN", "Admin-pass-123"}, // logins are case-sensitive for passwords
		{"nobody", "Admin-pass-123"},
		{"admin", ""},
	} {
		if _, err := authenticate(s, tc.login, tc.pw, true); store.ErrorCode(err) != store.EUnauthenticated {
			t.Errorf("Authenticate(%q,%q) err = %v", tc.login, tc.pw, err)
		}
	}
	if _, err := authenticate(s, "squ_0000", "", false); err == nil {
		t.Error("unknown token accepted")
	}
}

// Every change made through store.Audited is recorded with its actor, in
// the same transaction: a rolled-back change leaves no entry.
func TestAuditedChanges(t *testing.T) {
	s := bolttest.MustOpen(t)
	var committed []store.AuditEntry
	a := store.Audited(s, func(es []store.AuditEntry) { committed = append(committed, es...) })
	actx := store.WithActor(ctx, store.Actor{Login: "okta", API: "scim", Op: "PATCH /Users"})
	var u store.User
	err := a.Update(actx, func(tx store.Tx) error {
		var err error
		if u, err = store.NewUser(tx, store.User{Login: "kim", Active: true, Managed: true}); err != nil {
			return err
		}
		g, err := store.NewGroup(tx, store.Group{Name: "g"})
		if err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, u.ID); err != nil {
			return err
		}
		return tx.Grant(store.UserSubject(u.ID), store.PermScan)
	})
	if err != nil {
		t.Fatal(err)
	}
	rollback := errors.New("rolled back")
	err = a.Update(actx, func(tx store.Tx) error {
		u.Active = false
		if _, err := store.SaveUser(tx, u); err != nil {
			return err
		}
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatalf("rolled-back Update returned %v", err)
	}
	err = a.Update(actx, func(tx store.Tx) error {
		u.Active = false
		_, err := store.SaveUser(tx, u)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	storetest.View(t, s, func(tx store.Tx) error {
		for e := range storetest.All(t, tx.Audit()) {
			if e.Actor != "okta" || e.API != "scim" || e.Op != "PATCH /Users" {
				t.Errorf("entry without its actor: %+v", e)
			}
			got = append(got, e.Kind+" "+e.Action)
		}
		return nil
	})
	want := "[user updated permission granted membership added group created user created]"
	if fmt.Sprint(got) != want {
		t.Errorf("audit = %v, want %v", got, want)
	}
	var last store.AuditEntry
	storetest.View(t, s, func(tx store.Tx) error {
		for e := range storetest.All(t, tx.Audit()) {
			last = e
			break
		}
		return nil
	})
	if last.Before == nil || !last.Before.Active || last.After == nil || last.After.Active || !last.After.Managed {
		t.Errorf("deactivation entry before/after = %+v / %+v", last.Before, last.After)
	}
	if len(committed) != 5 {
		t.Errorf("onCommit saw %d entries, want 5", len(committed))
	}
	if err := store.RecordRefusal(actx, s, "user", "kim", "nope"); err != nil {
		t.Fatal(err)
	}
	storetest.View(t, s, func(tx store.Tx) error {
		for e := range storetest.All(t, tx.Audit()) {
			if e.Action != "refused" || e.Detail != "nope" || e.Actor != "okta" {
				t.Errorf("refusal entry = %+v", e)
			}
			break
		}
		return nil
	})
}

func TestProjectPermissionRules(t *testing.T) {
	s := bolttest.MustOpen(t)
	ann, bob, cid := storetest.MkUser(t, s, "ann"), storetest.MkUser(t, s, "bob"), storetest.MkUser(t, s, "cid")
	var devs store.Group
	var def, svc store.Template
	storetest.Update(t, s, func(tx store.Tx) error {
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
			perm store.PermKey
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
	storetest.Update(t, s, func(tx store.Tx) error {
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
	storetest.View(t, s, func(tx store.Tx) error {
		cases := []struct {
			name string
			key  store.PermKey
			want []string
		}{
			{"default template: private, Anyone skipped", store.OnProject(private.ID, store.PermBrowse), []string{"devs"}},
			{"default template: admin", store.OnProject(private.ID, store.PermAdmin), []string{"ann"}},
			{"default template: public, Browse implied, not stored", store.OnProject(public.ID, store.PermBrowse), nil},
			{"default template: Anyone scan on public", store.OnProject(public.ID, store.PermScan), []string{store.AnyoneGroup}},
			{"key pattern wins over the default", store.OnProject(service.ID, store.PermBrowse), []string{"cid"}},
		}
		for _, tc := range cases {
			if got := storetest.Holders(t, tx, tc.key); !reflect.DeepEqual(got, tc.want) {
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
			if ok, err := store.HasProjectPermission(tx, b.who.ID, b.p, store.PermBrowse); err != nil || ok != b.want {
				t.Errorf("%s browses %s: %v, want %v (err %v)", b.who.Login, b.p.Key, ok, b.want, err)
			}
		}
		g, err := store.Grantees(tx, private, store.PermBrowse)
		if err != nil {
			return err
		}
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
	storetest.Update(t, s, func(tx store.Tx) error {
		var err error
		if public, err = store.SetVisibility(tx, public, true); err != nil {
			return err
		}
		if got := storetest.Holders(t, tx, store.OnProject(public.ID, store.PermScan)); len(got) != 0 {
			t.Errorf("Anyone keeps scan on a private project: %v", got)
		}
		if private, err = store.SetVisibility(tx, private, false); err != nil {
			return err
		}
		for _, perm := range store.PublicPermissions {
			if got := storetest.Holders(t, tx, store.OnProject(private.ID, perm)); len(got) != 0 {
				t.Errorf("public project stores %s: %v", perm, got)
			}
		}
		if got := storetest.Holders(t, tx, store.OnProject(private.ID, store.PermAdmin)); !reflect.DeepEqual(got, []string{"ann"}) {
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

func TestOrganizationMembership(t *testing.T) {
	s := bolttest.MustOpen(t)
	dan := storetest.MkUser(t, s, "dan")
	var p store.Project
	var g store.Group
	storetest.Update(t, s, func(tx store.Tx) error {
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
	storetest.View(t, s, func(tx store.Tx) error {
		if ok, err := store.HasProjectPermission(tx, dan.ID, p, store.PermBrowse); err != nil || !ok {
			t.Errorf("member with Browse cannot browse (err %v)", err)
		}
		return nil
	})
	storetest.Update(t, s, func(tx store.Tx) error { return store.RemoveOrgMember(tx, "acme", dan) })
	storetest.View(t, s, func(tx store.Tx) error {
		if ok, err := store.IsOrgMember(tx, "acme", dan.ID); err != nil || ok {
			t.Errorf("still a member (err %v)", err)
		}
		if ok, err := store.IsMember(tx, g.ID, dan.ID); err != nil || ok {
			t.Errorf("still in the organization's group (err %v)", err)
		}
		if got := storetest.Holders(t, tx, store.OnProject(p.ID, store.PermBrowse)); len(got) != 0 {
			t.Errorf("keeps Browse on the organization's project: %v", got)
		}
		return nil
	})
}

// GroupMembers lists a group's members in the order UsersByLogin reads
// users; the default group's members are the active users.
func TestGroupMembers(t *testing.T) {
	s := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(ctx, s, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, login := range []string{"zed", "Bob", "alice", "carl"} {
		ids = append(ids, storetest.MkUser(t, s, login).ID)
	}
	var gid string
	storetest.Update(t, s, func(tx store.Tx) error {
		g, err := store.NewGroup(tx, store.Group{Name: "team"})
		if err != nil {
			return err
		}
		gid = g.ID
		for _, id := range ids[:3] { // zed, Bob, alice
			if err := tx.AddMember(gid, id); err != nil {
				return err
			}
		}
		carl, err := tx.User(ids[3])
		if err != nil {
			return err
		}
		_, err = store.Deactivate(tx, "", carl, false)
		return err
	})
	logins := func(groupID string) string {
		var out []string
		storetest.View(t, s, func(tx store.Tx) error {
			for u, err := range store.GroupMembers(tx, groupID).All() {
				if err != nil {
					return err
				}
				out = append(out, u.Login)
			}
			return nil
		})
		return strings.Join(out, " ")
	}
	if got := logins(gid); got != "alice Bob zed" {
		t.Errorf("team members %q, want alice Bob zed", got)
	}
	var def string
	storetest.View(t, s, func(tx store.Tx) error {
		g, err := tx.GroupByName(store.DefaultGroup)
		def = g.ID
		return err
	})
	if got := logins(def); got != "admin alice Bob zed" {
		t.Errorf("default group members %q, want the active users admin alice Bob zed", got)
	}
}
