// Package storetest is the conformance suite every store.Store backend must
// pass: write the contract once, run it against each backend.
package storetest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// Run runs the suite; open returns a fresh, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"UserRoundTrip", testUserRoundTrip},
		{"LoginUniqueCaseInsensitive", testLoginUnique},
		{"LoginRename", testLoginRename},
		{"ExternalIDIndex", testExternalIDIndex},
		{"UsersOrder", testUsersOrder},
		{"GroupsAndMembers", testGroupsAndMembers},
		{"DeleteGroupCascades", testDeleteGroupCascades},
		{"Permissions", testPermissions},
		{"Tokens", testTokens},
		{"RollbackOnError", testRollback},
		{"Bootstrap", testBootstrap},
		{"DeactivateRules", testDeactivateRules},
		{"LastAdminGroup", testLastAdminGroup},
		{"Authenticate", testAuthenticate},
		{"ConcurrentWriters", testConcurrentWriters},
		{"AuditLog", testAuditLog},
		{"AuditedChanges", testAuditedChanges},
		{"Backup", testBackup},
		{"PruneAudit", testPruneAudit},
		{"ProjectsTemplatesOrgs", testProjectsTemplatesOrgs},
		{"ProjectPermissionRules", testProjectPermissionRules},
		{"OrganizationMembership", testOrganizationMembership},
		{"DefaultGroupIsActiveUsers", testDefaultGroupIsActiveUsers},
		{"Generation", testGeneration},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

// all yields an iterator's values, failing the test on an error.
func all[T any](t *testing.T, seq iter.Seq2[T, error]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for v, err := range seq {
			if err != nil {
				t.Fatalf("iterating: %v", err)
			}
			if !yield(v) {
				return
			}
		}
	}
}

// view runs fn in a read transaction and fails the test on any error.
func view(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func mkUser(t *testing.T, s store.Store, login string) store.User {
	t.Helper()
	var u store.User
	update(t, s, func(tx store.Tx) error {
		var err error
		u, err = store.NewUser(tx, store.User{Login: login, Name: login, Active: true, Local: true})
		return err
	})
	return u
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	u := mkUser(t, s, "alice")
	if !store.ValidID(u.ID) || u.Version != 1 || u.Created.IsZero() {
		t.Fatalf("new user not filled in: %+v", u)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.User(u.ID)
		if err != nil || got.Login != "alice" || !got.Active {
			t.Errorf("User(%s) = %+v, %v", u.ID, got, err)
		}
		got, err = tx.UserByLogin("ALICE")
		if err != nil || got.ID != u.ID {
			t.Errorf("UserByLogin(ALICE) = %+v, %v", got, err)
		}
		if _, err := tx.User("nope"); !store.IsNotFound(err) {
			t.Errorf("User(nope) err = %v, want not found", err)
		}
		if n, _ := tx.CountUsers(); n != 1 {
			t.Errorf("CountUsers = %d, want 1", n)
		}
		return nil
	})
	// Every field survives storage, the account policy ones included.
	days, changed := 30, store.Now().Add(-time.Hour)
	full := u
	full.Email, full.SCMAccounts, full.PasswordHash, full.Locale, full.PasswordChanged = "a@example.com", []string{"al"}, "hash", "fr", changed
	full.Policy = store.UserPolicy{PasswordExpirationDays: &days, SessionTimeout: time.Hour, TrustedHosts: []string{"10.0.0.0/8"}, LockoutThreshold: &days}
	update(t, s, func(tx store.Tx) error { return tx.PutUser(full) })
	view(t, s, func(tx store.Tx) error {
		if got, err := tx.User(u.ID); err != nil || !reflect.DeepEqual(got, full) {
			t.Errorf("User after PutUser = %+v, %v; want %+v", got, err, full)
		}
		return nil
	})
}

func testLoginUnique(t *testing.T, s store.Store) {
	mkUser(t, s, "Bob")
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := store.NewUser(tx, store.User{Login: "bob", Active: true})
		return err
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Fatalf("duplicate login err = %v, want conflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		if n, _ := tx.CountUsers(); n != 1 {
			t.Errorf("CountUsers = %d after refused insert, want 1", n)
		}
		return nil
	})
}

func testLoginRename(t *testing.T, s store.Store) {
	u := mkUser(t, s, "carol")
	update(t, s, func(tx store.Tx) error {
		u.Login = "carol2"
		_, err := store.SaveUser(tx, u)
		return err
	})
	mkUser(t, s, "carol") // old login is free again
	view(t, s, func(tx store.Tx) error {
		got, err := tx.UserByLogin("carol2")
		if err != nil || got.ID != u.ID || got.Version != 2 {
			t.Errorf("renamed user = %+v, %v", got, err)
		}
		return nil
	})
}

func testExternalIDIndex(t *testing.T, s store.Store) {
	u := mkUser(t, s, "dave")
	update(t, s, func(tx store.Tx) error {
		u.ExternalID = "ext-1"
		_, err := store.SaveUser(tx, u)
		return err
	})
	update(t, s, func(tx store.Tx) error {
		u, _ = tx.User(u.ID)
		u.ExternalID = "ext-2"
		_, err := store.SaveUser(tx, u)
		return err
	})
	view(t, s, func(tx store.Tx) error {
		if us, _ := tx.UsersByExternalID("ext-1"); len(us) != 0 {
			t.Errorf("stale externalId index: %v", us)
		}
		if us, _ := tx.UsersByExternalID("ext-2"); len(us) != 1 || us[0].ID != u.ID {
			t.Errorf("UsersByExternalID(ext-2) = %v", us)
		}
		if us, _ := tx.UsersByExternalID("EXT-2"); len(us) != 0 {
			t.Errorf("externalId must match exactly, got %v", us)
		}
		return nil
	})
}

func testUsersOrder(t *testing.T, s store.Store) {
	var ids []string
	for _, l := range []string{"zed", "amy", "Mia"} {
		ids = append(ids, mkUser(t, s, l).ID)
	}
	view(t, s, func(tx store.Tx) error {
		var got []string
		for u := range all(t, tx.Users("")) {
			got = append(got, u.ID)
		}
		if len(got) != 3 || got[0] != ids[0] || got[2] != ids[2] {
			t.Errorf("Users order = %v, want creation order %v", got, ids)
		}
		got = nil
		for u := range all(t, tx.Users(ids[0])) {
			got = append(got, u.ID)
		}
		if len(got) != 2 || got[0] != ids[1] {
			t.Errorf("Users after %s = %v", ids[0], got)
		}
		var logins []string
		for u := range all(t, tx.UsersByLogin()) {
			logins = append(logins, u.Login)
		}
		if len(logins) != 3 || logins[0] != "amy" || logins[1] != "Mia" || logins[2] != "zed" {
			t.Errorf("UsersByLogin = %v", logins)
		}
		return nil
	})
	// Display names order users case-insensitively, and follow renames.
	update(t, s, func(tx store.Tx) error {
		for i, name := range []string{"Carol", "alice", "Bob"} {
			u, err := tx.User(ids[i])
			if err != nil {
				return err
			}
			u.Name = name
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		var names []string
		for u := range all(t, tx.UsersByName()) {
			names = append(names, u.Name)
		}
		if strings.Join(names, ",") != "alice,Bob,Carol" {
			return fmt.Errorf("UsersByName = %v", names)
		}
		return nil
	})
	// The managed count follows creation and changes of the flag.
	update(t, s, func(tx store.Tx) error {
		before, err := tx.CountManagedUsers()
		if err != nil {
			return err
		}
		if _, err := store.NewUser(tx, store.User{Login: "idp-user", Name: "I", Active: true, Managed: true}); err != nil {
			return err
		}
		u, err := tx.User(ids[0])
		if err != nil {
			return err
		}
		u.Managed = true
		if err := tx.PutUser(u); err != nil {
			return err
		}
		u.Managed = false
		if err := tx.PutUser(u); err != nil {
			return err
		}
		if after, err := tx.CountManagedUsers(); err != nil || after != before+1 {
			return fmt.Errorf("CountManagedUsers %d -> %d (%v), want +1", before, after, err)
		}
		return nil
	})
}

func testGroupsAndMembers(t *testing.T, s store.Store) {
	u1, u2 := mkUser(t, s, "u1"), mkUser(t, s, "u2")
	var g store.Group
	update(t, s, func(tx store.Tx) error {
		var err error
		g, err = store.NewGroup(tx, store.Group{Name: "Devs", ExternalID: "x"})
		if err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, u1.ID); err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, u1.ID); err != nil { // idempotent
			return err
		}
		return tx.AddMember(g.ID, u2.ID)
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := store.NewGroup(tx, store.Group{Name: "devs"})
		return err
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Errorf("duplicate group name err = %v, want conflict", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.RemoveMember(g.ID, u2.ID) })
	view(t, s, func(tx store.Tx) error {
		if n, _ := store.CountMembers(tx, g.ID); n != 1 {
			t.Errorf("CountMembers = %d, want 1", n)
		}
		if ok, _ := store.IsMember(tx, g.ID, u2.ID); ok {
			t.Error("u2 still a member")
		}
		of := slices.Collect(store.GroupsOf(tx, u1.ID))
		if len(of) != 1 || of[0] != g.ID {
			t.Errorf("GroupsOf(u1) = %v", of)
		}
		if got, err := tx.GroupByName("DEVS"); err != nil || got.ID != g.ID {
			t.Errorf("GroupByName = %v, %v", got, err)
		}
		if gs, _ := tx.GroupsByExternalID("x"); len(gs) != 1 {
			t.Errorf("GroupsByExternalID = %v", gs)
		}
		if n, _ := tx.CountGroups(); n != 1 {
			t.Errorf("CountGroups = %d", n)
		}
		return nil
	})
}

func testDeleteGroupCascades(t *testing.T, s store.Store) {
	u := mkUser(t, s, "eve")
	var g store.Group
	update(t, s, func(tx store.Tx) error {
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "ops"}); err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, u.ID); err != nil {
			return err
		}
		return tx.Grant(store.GroupSubject(g.ID), store.PermScan)
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteGroup(g.ID) })
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.Group(g.ID); !store.IsNotFound(err) {
			t.Errorf("group still there: %v", err)
		}
		if _, err := tx.GroupByName("ops"); !store.IsNotFound(err) {
			t.Errorf("name index still there: %v", err)
		}
		n := 0
		n += len(slices.Collect(store.GroupsOf(tx, u.ID))) + len(slices.Collect(tx.Holders(store.PermScan)))
		if n != 0 {
			t.Errorf("%d memberships or grants survived the delete", n)
		}
		if c, _ := tx.CountGroups(); c != 0 {
			t.Errorf("CountGroups = %d", c)
		}
		return nil
	})
}

func testPermissions(t *testing.T, s store.Store) {
	u := mkUser(t, s, "fay")
	var g store.Group
	update(t, s, func(tx store.Tx) error {
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "scanners"}); err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, u.ID); err != nil {
			return err
		}
		if err := tx.Grant(store.GroupSubject(g.ID), store.PermScan); err != nil {
			return err
		}
		return tx.Grant(store.UserSubject(u.ID), store.PermGateAdmin)
	})
	view(t, s, func(tx store.Tx) error {
		perms, _ := store.UserPermissions(tx, u.ID)
		if len(perms) != 2 || perms[0] != store.PermGateAdmin || perms[1] != store.PermScan {
			t.Errorf("UserPermissions = %v", perms)
		}
		if ok, _ := store.HasPermission(tx, u.ID, store.PermAdmin); ok {
			t.Error("user has admin it was never given")
		}
		return nil
	})
}

func testTokens(t *testing.T, s store.Store) {
	u := mkUser(t, s, "gus")
	secret := store.NewTokenSecret()
	update(t, s, func(tx store.Tx) error {
		return tx.PutToken(store.Token{Hash: store.HashToken(secret), UserID: u.ID, Name: "ci", Type: store.TokenUser, Created: store.Now()})
	})
	got, err := authenticate(s, secret, "", false)
	if err != nil || got.ID != u.ID {
		t.Fatalf("Authenticate(token) = %v, %v", got, err)
	}
	view(t, s, func(tx store.Tx) error {
		toks, _ := tx.Tokens(u.ID)
		if len(toks) != 1 || toks[0].Name != "ci" || toks[0].Hash == secret {
			t.Errorf("Tokens = %+v", toks)
		}
		return nil
	})
	// A second token of the same user and name is refused: revoking by name
	// would otherwise leave the first secret working.
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(store.Token{Hash: store.HashToken(store.NewTokenSecret()), UserID: u.ID, Name: "ci", Type: store.TokenUser, Created: store.Now()})
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Fatalf("second token named ci: %v, want a conflict", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.DeleteToken(store.HashToken(secret)) })
	if _, err := authenticate(s, secret, "", false); store.ErrorCode(err) != store.EUnauthenticated {
		t.Fatalf("revoked token still authenticates: %v", err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := store.NewUser(tx, store.User{Login: "ghost", Active: true}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update err = %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.UserByLogin("ghost"); !store.IsNotFound(err) {
			t.Error("write of a failed transaction is visible")
		}
		return nil
	})
}

func testBootstrap(t *testing.T, s store.Store) {
	pw, created, err := store.Bootstrap(ctx, s, "")
	if err != nil || !created || len(pw) < 12 {
		t.Fatalf("Bootstrap = %q, %v, %v", pw, created, err)
	}
	if _, again, _ := store.Bootstrap(ctx, s, "x"); again {
		t.Fatal("Bootstrap ran twice")
	}
	u, err := authenticate(s, "admin", pw, true)
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	if _, err := authenticate(s, "admin", pw+"x", true); err == nil {
		t.Fatal("wrong password accepted")
	}
	view(t, s, func(tx store.Tx) error {
		if ok, _ := store.HasPermission(tx, u.ID, store.PermAdmin); !ok {
			t.Error("admin lacks admin")
		}
		g, err := tx.GroupByName(store.DefaultGroup)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := store.IsMember(tx, g.ID, u.ID); !ok {
			t.Error("admin not in sonar-users")
		}
		return nil
	})
}

func testDeactivateRules(t *testing.T, s store.Store) {
	if _, _, err := store.Bootstrap(ctx, s, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	var admin store.User
	view(t, s, func(tx store.Tx) error { admin, _ = tx.UserByLogin("admin"); return nil })
	u := mkUser(t, s, "hal")
	secret := store.NewTokenSecret()
	update(t, s, func(tx store.Tx) error {
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
	update(t, s, func(tx store.Tx) error {
		_, err := store.Deactivate(tx, admin.ID, u, false)
		return err
	})
	view(t, s, func(tx store.Tx) error {
		got, _ := tx.User(u.ID)
		toks, _ := tx.Tokens(u.ID)
		perms, _ := tx.Permissions(store.UserSubject(u.ID))
		n := 0
		n += len(slices.Collect(store.GroupsOf(tx, u.ID)))
		if got.Active || len(toks) != 0 || len(perms) != 0 || n != 0 {
			t.Errorf("after deactivate: active=%v tokens=%d perms=%v groups=%d", got.Active, len(toks), perms, n)
		}
		return nil
	})
	// Another admin deactivating the only admin is refused.
	other := mkUser(t, s, "ivy")
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := store.Deactivate(tx, other.ID, admin, false)
		return err
	})
	if store.ErrorMessage(err) != "User is last administrator, and cannot be deactivated" {
		t.Errorf("last admin err = %v", err)
	}
	view(t, s, func(tx store.Tx) error {
		if got, _ := tx.User(admin.ID); !got.Active {
			t.Error("refused deactivation left the admin inactive")
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		u, _ = tx.User(u.ID)
		_, err := store.Reactivate(tx, u)
		return err
	})
	view(t, s, func(tx store.Tx) error {
		g, _ := tx.GroupByName(store.DefaultGroup)
		if ok, _ := store.IsMember(tx, g.ID, u.ID); !ok {
			t.Error("reactivated user not back in sonar-users")
		}
		return nil
	})
}

func testLastAdminGroup(t *testing.T, s store.Store) {
	if _, _, err := store.Bootstrap(ctx, s, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		admin, _ := tx.UserByLogin("admin")
		if err := tx.Revoke(store.UserSubject(admin.ID), store.PermAdmin); err != nil {
			return err
		}
		g, _ := tx.GroupByName("sonar-administrators")
		if err := tx.DeleteGroup(g.ID); err != nil {
			return err
		}
		return store.EnsureAdmin(tx, "The last system admin group cannot be deleted")
	})
	if store.ErrorCode(err) != store.EInvalid {
		t.Fatalf("EnsureAdmin err = %v", err)
	}
	view(t, s, func(tx store.Tx) error {
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

func testAuthenticate(t *testing.T, s store.Store) {
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

// Concurrent writers (batched or not) each get their own outcome: every
// success is stored, every refusal is reported to its caller only.
func testConcurrentWriters(t *testing.T, s store.Store) {
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			login := fmt.Sprintf("user%d", i%40) // 10 duplicates
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				_, err := store.NewUser(tx, store.User{Login: login, Active: true})
				return err
			})
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch store.ErrorCode(err) {
		case "":
			ok++
		case store.EConflict:
			conflicts++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 40 || conflicts != 10 {
		t.Errorf("%d created, %d conflicts; want 40 and 10", ok, conflicts)
	}
	view(t, s, func(tx store.Tx) error {
		if c, _ := tx.CountUsers(); c != 40 {
			t.Errorf("CountUsers = %d, want 40", c)
		}
		return nil
	})
}

func testAuditLog(t *testing.T, s store.Store) {
	for i := 0; i < 3; i++ {
		update(t, s, func(tx store.Tx) error {
			return tx.AppendAudit(&store.AuditEntry{Time: store.Now(), API: "cli", Op: fmt.Sprint(i)})
		})
	}
	var ops []string
	var seqs []uint64
	view(t, s, func(tx store.Tx) error {
		for e := range all(t, tx.Audit()) {
			ops = append(ops, e.Op)
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	if fmt.Sprint(ops) != "[2 1 0]" || seqs[0] <= seqs[1] || seqs[1] <= seqs[2] {
		t.Errorf("audit newest first: ops %v seqs %v", ops, seqs)
	}
}

// Every change made through store.Audited is recorded with its actor, in
// the same transaction: a rolled-back change leaves no entry.
func testAuditedChanges(t *testing.T, s store.Store) {
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
	view(t, s, func(tx store.Tx) error {
		for e := range all(t, tx.Audit()) {
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
	view(t, s, func(tx store.Tx) error {
		for e := range all(t, tx.Audit()) {
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
	view(t, s, func(tx store.Tx) error {
		for e := range all(t, tx.Audit()) {
			if e.Action != "refused" || e.Detail != "nope" || e.Actor != "okta" {
				t.Errorf("refusal entry = %+v", e)
			}
			break
		}
		return nil
	})
}

// A backup taken while writers run is a complete store on its own.
func testBackup(t *testing.T, s store.Store) {
	mkUser(t, s, "before")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			if err := s.Update(ctx, func(tx store.Tx) error {
				_, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("during%d", i), Active: true})
				return err
			}); err != nil {
				t.Errorf("write during the backup: %v", err)
				return
			}
		}
	}()
	var buf bytes.Buffer
	n, err := s.Backup(ctx, &buf)
	<-done
	if err != nil || n == 0 || int64(buf.Len()) != n {
		t.Fatalf("Backup = %d, %v (buffer %d)", n, err, buf.Len())
	}
}

func testPruneAudit(t *testing.T, s store.Store) {
	now := store.Now()
	update(t, s, func(tx store.Tx) error {
		for i, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, time.Hour, 0} {
			if err := tx.AppendAudit(&store.AuditEntry{Time: now.Add(-age), API: "cli", Op: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := store.PruneAudit(ctx, s, 24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("PruneAudit = %d, %v; want 2", n, err)
	}
	var ops []string
	view(t, s, func(tx store.Tx) error {
		for e := range all(t, tx.Audit()) {
			ops = append(ops, e.Op)
		}
		return nil
	})
	if fmt.Sprint(ops) != "[3 2]" {
		t.Errorf("after pruning: %v, want the two recent entries", ops)
	}
}
