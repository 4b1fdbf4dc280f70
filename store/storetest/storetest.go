// Package storetest is the conformance suite every store.Store backend must
// pass: write the contract once, run it against each backend.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
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
		{"GroupRename", testGroupRename},
		{"ExternalIDIndex", testExternalIDIndex},
		{"UsersOrder", testUsersOrder},
		{"PrefixIndexes", testPrefixIndexes},
		{"GramIndex", testGramIndex},
		{"GramIndexLongLists", testGramIndexLongLists},
		{"UsersByID", testUsersByID},
		{"Listing", testListing},
		{"GroupsAndMembers", testGroupsAndMembers},
		{"DeleteGroupCascades", testDeleteGroupCascades},
		{"Permissions", testPermissions},
		{"Tokens", testTokens},
		{"RollbackOnError", testRollback},
		{"ConcurrentWriters", testConcurrentWriters},
		{"WriterIsolation", testWriterIsolation},
		{"AuditLog", testAuditLog},
		{"Backup", testBackup},
		{"PruneAudit", testPruneAudit},
		{"ProjectsTemplatesOrgs", testProjectsTemplatesOrgs},
		{"DefaultGroupIsActiveUsers", testDefaultGroupIsActiveUsers},
		{"Generation", testGeneration},
		{"SessionsAndFailures", testSessionsAndFailures},
		{"ReadAhead", testReadAhead},
		{"ReadAheadPage", testReadAheadPage},
		{"WriteStats", testWriteStats},
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
func All[T any](t *testing.T, seq iter.Seq2[T, error]) iter.Seq[T] {
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

// Logins joins, with spaces, the logins of the users whose ids the
// sequence ids opens in one read transaction yields, in its order.
func Logins(t *testing.T, s store.Store, ids func(store.Tx) iter.Seq[string]) string {
	t.Helper()
	var got []string
	View(t, s, func(tx store.Tx) error {
		for id := range ids(tx) {
			u, err := tx.User(id)
			if err != nil {
				return err
			}
			got = append(got, u.Login)
		}
		return nil
	})
	return strings.Join(got, " ")
}

// View runs fn in a read transaction and fails the test on any error.
func View(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// Update runs fn in a write transaction and fails the test on any error.
func Update(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

// MkUser creates an active local user and fails the test on any error.
func MkUser(t *testing.T, s store.Store, login string) store.User {
	t.Helper()
	var u store.User
	Update(t, s, func(tx store.Tx) error {
		var err error
		u, err = store.NewUser(tx, store.User{Login: login, Name: login, Active: true, Local: true})
		return err
	})
	return u
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	u := MkUser(t, s, "alice")
	if !store.ValidID(u.ID) || u.Version != 1 || u.Created.IsZero() {
		t.Fatalf("new user not filled in: %+v", u)
	}
	View(t, s, func(tx store.Tx) error {
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
		if n, err := tx.CountUsers(); err != nil || n != 1 {
			t.Errorf("CountUsers = %d, want 1 (err %v)", n, err)
		}
		return nil
	})
	// Every field survives storage, the account policy ones included.
	days, changed := 30, store.Now().Add(-time.Hour)
	full := u
	full.Email, full.SCMAccounts, full.PasswordHash, full.Locale, full.PasswordChanged = "a@example.com", []string{"al"}, "hash", "fr", changed
	full.Policy = store.UserPolicy{PasswordExpirationDays: &days, SessionTimeout: time.Hour, TrustedHosts: []string{"10.0.0.0/8"}, LockoutThreshold: &days}
	Update(t, s, func(tx store.Tx) error { return tx.PutUser(full) })
	View(t, s, func(tx store.Tx) error {
		if got, err := tx.User(u.ID); err != nil || !reflect.DeepEqual(got, full) {
			t.Errorf("User after PutUser = %+v, %v; want %+v", got, err, full)
		}
		return nil
	})
}

// testGroupRename: a group renamed in a transaction is found by its new
// name there, not by its old one, which a new group can take at once.
func testGroupRename(t *testing.T, s store.Store) {
	var ops store.Group
	Update(t, s, func(tx store.Tx) error {
		var err error
		ops, err = store.NewGroup(tx, store.Group{Name: "Ops"})
		return err
	})
	Update(t, s, func(tx store.Tx) error {
		g, err := tx.GroupByName("ops")
		if err != nil {
			return err
		}
		g.Name = "Platform"
		if err := tx.PutGroup(g); err != nil {
			return err
		}
		if _, err := tx.GroupByName("OPS"); !store.IsNotFound(err) {
			t.Errorf("old name after the rename: %v, want not found", err)
		}
		if got, err := tx.GroupByName("platform"); err != nil || got.ID != ops.ID {
			t.Errorf("new name = %+v, %v", got, err)
		}
		again, err := store.NewGroup(tx, store.Group{Name: "ops"})
		if err != nil {
			return err
		}
		if got, err := tx.GroupByName("Ops"); err != nil || got.ID != again.ID {
			t.Errorf("old name taken again = %+v, %v; want %s", got, err, again.ID)
		}
		return nil
	})
}

func testLoginUnique(t *testing.T, s store.Store) {
	MkUser(t, s, "Bob")
	err := s.Update(ctx, func(tx store.Tx) error {
		_, err := store.NewUser(tx, store.User{Login: "bob", Active: true})
		return err
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Fatalf("duplicate login err = %v, want conflict", err)
	}
	View(t, s, func(tx store.Tx) error {
		if n, err := tx.CountUsers(); err != nil || n != 1 {
			t.Errorf("CountUsers = %d after refused insert, want 1 (err %v)", n, err)
		}
		return nil
	})

	// Look-alikes: a new login, or a login changed, confusable with a
	// stored one is refused; ASCII pairs and a change of case are not.
	MkUser(t, s, "admin2")
	other := MkUser(t, s, "bobl") // ASCII beside "bob": allowed
	cyrillic := "\u0430dmin2"     // Cyrillic a
	for _, tc := range []struct {
		what string
		save func(tx store.Tx) (store.User, error)
		want string
	}{
		{"new look-alike", func(tx store.Tx) (store.User, error) {
			return store.NewUser(tx, store.User{Login: cyrillic, Active: true})
		}, "Login '" + cyrillic + "' is confusable with the existing login 'admin2'"},
		{"renamed to a look-alike", func(tx store.Tx) (store.User, error) {
			other.Login = cyrillic
			return store.SaveUser(tx, other)
		}, "Login '" + cyrillic + "' is confusable with the existing login 'admin2'"},
		{"renamed to a taken login", func(tx store.Tx) (store.User, error) {
			other.Login = "ADMIN2"
			return store.SaveUser(tx, other)
		}, "A user with login 'ADMIN2' already exists"},
		{"case changed", func(tx store.Tx) (store.User, error) {
			other.Login = "BOBL"
			return store.SaveUser(tx, other)
		}, ""},
	} {
		var saved store.User
		err := s.Update(ctx, func(tx store.Tx) error {
			var err error
			saved, err = tc.save(tx)
			return err
		})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.what, err)
		case tc.want == "":
			other = saved
		case store.ErrorCode(err) != store.EConflict || err.Error() != tc.want:
			t.Errorf("%s: %v, want a conflict %q", tc.what, err, tc.want)
		}
	}
	if got := Logins(t, s, func(tx store.Tx) iter.Seq[string] { return tx.ActiveUsers() }); got != "Bob admin2 BOBL" {
		t.Errorf("users after the look-alikes: %q", got)
	}
}

func testLoginRename(t *testing.T, s store.Store) {
	u := MkUser(t, s, "carol")
	Update(t, s, func(tx store.Tx) error {
		u.Login = "carol2"
		_, err := store.SaveUser(tx, u)
		return err
	})
	MkUser(t, s, "carol") // old login is free again
	View(t, s, func(tx store.Tx) error {
		got, err := tx.UserByLogin("carol2")
		if err != nil || got.ID != u.ID || got.Version != 2 {
			t.Errorf("renamed user = %+v, %v", got, err)
		}
		return nil
	})
	// Read first, then saved unchanged, then renamed to a taken login in
	// the same transaction: refused (a backend may remember what it read).
	err := s.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(u.ID)
		if err != nil {
			return err
		}
		if u, err = store.SaveUser(tx, u); err != nil {
			return fmt.Errorf("saved unchanged: %w", err)
		}
		u.Login = "CAROL"
		_, err = store.SaveUser(tx, u)
		return err
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Errorf("renamed to a taken login in the transaction that read it: %v, want a conflict", err)
	}
}

func testExternalIDIndex(t *testing.T, s store.Store) {
	u := MkUser(t, s, "dave")
	Update(t, s, func(tx store.Tx) error {
		u.ExternalID = "ext-1"
		_, err := store.SaveUser(tx, u)
		return err
	})
	Update(t, s, func(tx store.Tx) error {
		var err error
		if u, err = tx.User(u.ID); err != nil {
			return err
		}
		u.ExternalID = "ext-2"
		_, err = store.SaveUser(tx, u)
		return err
	})
	View(t, s, func(tx store.Tx) error {
		if us, err := tx.UsersByExternalID("ext-1"); err != nil || len(us) != 0 {
			t.Errorf("stale externalId index: %v (err %v)", us, err)
		}
		if us, err := tx.UsersByExternalID("ext-2"); err != nil || len(us) != 1 || us[0].ID != u.ID {
			t.Errorf("UsersByExternalID(ext-2) = %v (err %v)", us, err)
		}
		if us, err := tx.UsersByExternalID("EXT-2"); err != nil || len(us) != 0 {
			t.Errorf("externalId must match exactly, got %v (err %v)", us, err)
		}
		return nil
	})
}

// testPrefixIndexes: each ordered index answers prefixes (folded where it
// folds, exact for externalIds) in its order, and a changed record moves in
// it.
func testPrefixIndexes(t *testing.T, s store.Store) {
	ids := map[string]string{}
	for _, u := range []struct{ login, name, ext string }{
		{"alice", "Alice Liddell", "E-100"}, {"Alan", "alan turing", "e-100"}, {"bob", "Bob", ""},
		{"al", "Al", "E-1"}, {"ALX", "Alice Liddell", "E-2"},
	} {
		Update(t, s, func(tx store.Tx) error {
			created, err := store.NewUser(tx, store.User{Login: u.login, Name: u.name, ExternalID: u.ext, Active: true})
			ids[u.login] = created.ID
			return err
		})
	}
	for _, g := range []string{"Devs", "dev-ops", "QA"} {
		Update(t, s, func(tx store.Tx) error { _, err := store.NewGroup(tx, store.Group{Name: g}); return err })
	}
	prefix := func(index store.Index, p string) string {
		if index != store.IndexGroupName {
			return Logins(t, s, func(tx store.Tx) iter.Seq[string] { return tx.IDsByPrefix(index, p) })
		}
		var got []string
		View(t, s, func(tx store.Tx) error {
			for id := range tx.IDsByPrefix(index, p) {
				g, err := tx.Group(id)
				if err != nil {
					return err
				}
				got = append(got, g.Name)
			}
			return nil
		})
		return strings.Join(got, " ")
	}
	// Users of one name come in id (creation) order: alice before ALX.
	for _, tc := range []struct {
		index  store.Index
		prefix string
		want   string
	}{
		{store.IndexUserLogin, "AL", "al Alan alice ALX"},
		{store.IndexUserLogin, "ali", "alice"},
		{store.IndexUserLogin, "z", ""},
		{store.IndexUserLogin, "", "al Alan alice ALX bob"},
		{store.IndexUserName, "ALI", "alice ALX"},
		{store.IndexUserName, "al", "al Alan alice ALX"},
		{store.IndexUserName, "b", "bob"},
		{store.IndexUserExternalID, "E-1", "al alice"},
		{store.IndexUserExternalID, "e-", "Alan"},
		{store.IndexUserExternalID, "", "al alice ALX Alan"},
		{store.IndexGroupName, "DEV", "dev-ops Devs"},
		{store.IndexGroupName, "q", "QA"},
	} {
		if got := prefix(tc.index, tc.prefix); got != tc.want {
			t.Errorf("index %d, prefix %q: %q, want %q", tc.index, tc.prefix, got, tc.want)
		}
	}
	Update(t, s, func(tx store.Tx) error {
		u, err := tx.User(ids["bob"])
		if err != nil {
			return err
		}
		u.Login, u.Name, u.ExternalID = "alberto", "Zed", "X-9"
		return tx.PutUser(u)
	})
	for _, tc := range []struct {
		index        store.Index
		prefix, want string
	}{
		{store.IndexUserLogin, "alb", "alberto"}, {store.IndexUserLogin, "bo", ""},
		{store.IndexUserName, "z", "alberto"}, {store.IndexUserName, "bob", ""},
		{store.IndexUserExternalID, "X-", "alberto"},
	} {
		if got := prefix(tc.index, tc.prefix); got != tc.want {
			t.Errorf("after a change, index %d, prefix %q: %q, want %q", tc.index, tc.prefix, got, tc.want)
		}
	}
}

// testGramIndex: the n-gram index yields, in id order, exactly the users
// whose trigrams include every trigram of a text, so that every user whose
// login, name, e-mail or another SCIM e-mail address contains the text is
// among them; a changed user moves in it, a change of its SCIM addresses
// alone too.
func testGramIndex(t *testing.T, s store.Store) {
	users := []store.User{
		{Login: "alice", Name: "Alice Liddell", Email: "alice@wonder.land"},
		{Login: "alan.turing", Name: "Alan Turing", Email: "alan@bletchley.uk"},
		{Login: "ÄRGER", Name: "Jörg Ärger", Email: "joerg@example.de"},
		{Login: "bob", Name: "Bob", Email: ""},
		{Login: "İstanbul", Name: "Ünal Şahin", Email: "unal@example.tr"},
		{Login: "lid", Name: "Li", Email: "li@lid.dell"},
		{Login: "multi", Email: "m@primary.example", SCIM: json.RawMessage(`{"emails":[{"value":"m@primary.example","primary":true},{"value":"M@Secondary.Example","type":"home"}]}`)},
	}
	for i := range users {
		Update(t, s, func(tx store.Tx) error {
			created, err := store.NewUser(tx, users[i])
			users[i] = created
			return err
		})
	}
	check := func(when string) {
		t.Helper()
		for _, q := range []string{"ali", "lid", "LIDDELL", "äRG", "ärger", "örg", "istanbul", "i̇st", "ünal", "@example.", "xyz", "ali@", "dell", "bob", "bo", "", "şahin", "secondary", "m@sec", "tertiary"} {
			lq := strings.ToLower(q)
			gs := store.QueryGrams(lq)
			var got, want []string
			View(t, s, func(tx store.Tx) error {
				for id := range tx.IDsWithGrams(gs) {
					got = append(got, id)
				}
				return sameUsers(t, tx, gs, got)
			})
			for _, u := range users {
				has := store.UserGrams(u)
				if gs != nil && !slices.ContainsFunc(gs, func(g string) bool { return !slices.Contains(has, g) }) {
					want = append(want, u.ID)
				} else if gs != nil && u.Matches(lq, true) {
					t.Errorf("%s: %s contains %q but lacks one of its trigrams %q", when, u.Login, q, gs)
				}
			}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: IDsWithGrams(%q) = %v, want %v", when, gs, got, want)
			}
		}
	}
	check("created")
	indexGrams(t, s)
	check("indexed")
	for q, want := range map[string]string{"dell": "alice lid", "ärg": "ÄRGER", "ali": "alice", "@ex": "ÄRGER İstanbul", "uri": "alan.turing", "secondary": "multi"} {
		if got := Logins(t, s, func(tx store.Tx) iter.Seq[string] { return tx.IDsWithGrams(store.QueryGrams(q)) }); got != want {
			t.Errorf("users with the trigrams of %q: %q, want %q", q, got, want)
		}
	}
	Update(t, s, func(tx store.Tx) error {
		u, err := tx.User(users[0].ID)
		if err != nil {
			return err
		}
		u.Login, u.Name, u.Email = "carol", "Carol Liddell", "carol@example.de"
		users[0] = u
		return tx.PutUser(u)
	})
	Update(t, s, func(tx store.Tx) error {
		u, err := tx.User(users[len(users)-1].ID)
		if err != nil {
			return err
		}
		u.SCIM = json.RawMessage(`{"emails":[{"value":"m@primary.example","primary":true},{"value":"m@tertiary.example","type":"home"}]}`)
		users[len(users)-1] = u
		return tx.PutUser(u)
	})
	check("changed")
	indexGrams(t, s)
	check("changed, indexed")
	for q, want := range map[string]string{"secondary": "", "tertiary": "multi", "primary": "multi"} {
		if got := Logins(t, s, func(tx store.Tx) iter.Seq[string] { return tx.IDsWithGrams(store.QueryGrams(q)) }); got != want {
			t.Errorf("after a change of the SCIM addresses, users with the trigrams of %q: %q, want %q", q, got, want)
		}
	}
	View(t, s, func(tx store.Tx) error {
		if n := len(slices.Collect(tx.IDsWithGrams(store.QueryGrams("alice")))); n != 0 {
			t.Errorf("alice's trigrams still find %d users after the change", n)
		}
		if n := len(slices.Collect(tx.IDsWithGrams(nil))); n != 0 {
			t.Errorf("no trigram finds %d users, want none", n)
		}
		return nil
	})
}

// sameUsers checks that UsersWithGrams(gs) yields the users of ids, the
// ids IDsWithGrams(gs) yields, in their order and as stored.
func sameUsers(t *testing.T, tx store.Tx, gs, ids []string) error {
	t.Helper()
	var read []string
	for u, err := range tx.UsersWithGrams(gs) {
		if err != nil {
			return err
		}
		stored, err := tx.User(u.ID)
		if err != nil {
			return err
		}
		if stored.Login != u.Login || stored.Version != u.Version || !bytes.Equal(stored.SCIM, u.SCIM) {
			t.Errorf("UsersWithGrams(%q) yields %s as %+v, stored %+v", gs, u.ID, u, stored)
		}
		read = append(read, u.ID)
	}
	if !slices.Equal(read, ids) {
		t.Errorf("UsersWithGrams(%q) yields %v, IDsWithGrams %v", gs, read, ids)
	}
	return nil
}

// testGramIndexLongLists: intersections of trigram lists of hundreds of
// users, dense and sparse against one another, yield exactly the users
// holding every trigram, in id order, pending and indexed.
func testGramIndexLongLists(t *testing.T, s store.Store) {
	var users []store.User
	Update(t, s, func(tx store.Tx) error {
		for i := range 300 {
			u, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("user%03d", i), Name: fmt.Sprintf("N%d", i%7)})
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	})
	check := func(when string) {
		t.Helper()
		for _, q := range []string{"ser", "user", "er1", "er15", "r15", "ser0", "user29", "299", "er2", "r0", "9", "user1", "n3", "er10", "user300"} {
			gs := store.QueryGrams(q)
			var want []string
			for _, u := range users {
				has := store.UserGrams(u)
				if gs != nil && !slices.ContainsFunc(gs, func(g string) bool { return !slices.Contains(has, g) }) {
					want = append(want, u.ID)
				}
			}
			slices.Sort(want)
			var got []string
			View(t, s, func(tx store.Tx) error {
				got = slices.Collect(tx.IDsWithGrams(gs))
				return sameUsers(t, tx, gs, got)
			})
			if !slices.Equal(got, want) {
				t.Errorf("%s: IDsWithGrams(%q) found %d users, want %d:\n%v\nwant %v", when, gs, len(got), len(want), got, want)
			}
		}
	}
	check("created")
	indexGrams(t, s)
	check("indexed")
}

// testUsersByID: UsersByID and ReadUsers return users in the order of the
// ids asked, leave out ids that name none, and ReadUsers keeps that order
// across its chunks.
func testUsersByID(t *testing.T, s store.Store) {
	var ids []string
	Update(t, s, func(tx store.Tx) error {
		for i := range 600 {
			u, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("byid%03d", i)})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	})
	View(t, s, func(tx store.Tx) error {
		got, err := tx.UsersByID([]string{ids[2], "no-such-user", ids[0], ids[2]})
		if err != nil {
			return err
		}
		if len(got) != 3 || got[0].ID != ids[2] || got[1].ID != ids[0] || got[2].ID != ids[2] || got[1].Login != "byid000" {
			t.Errorf("UsersByID = %v, want byid002, byid000, byid002", got)
		}
		if got, err := tx.UsersByID(nil); err != nil || len(got) != 0 {
			t.Errorf("UsersByID(nil) = %v, %v", got, err)
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		asked := slices.Insert(slices.Clone(want), 300, "no-such-user")
		var read []string
		for u, err := range store.ReadUsers(tx, slices.Values(asked)) {
			if err != nil {
				return err
			}
			read = append(read, u.ID)
		}
		if !slices.Equal(read, want) {
			t.Errorf("ReadUsers read %d users, want the %d asked for in their order", len(read), len(want))
		}
		return nil
	})
}

// indexGrams brings a backend's n-gram index up to date, for backends that
// update it after the commit (bbolt): queries must be exact either way.
func indexGrams(t testing.TB, s store.Store) {
	if ix, ok := s.(interface{ IndexGrams() error }); ok {
		if err := ix.IndexGrams(); err != nil {
			t.Fatal(err)
		}
	}
}

func testUsersOrder(t *testing.T, s store.Store) {
	var ids []string
	for _, l := range []string{"zed", "amy", "Mia"} {
		ids = append(ids, MkUser(t, s, l).ID)
	}
	View(t, s, func(tx store.Tx) error {
		var got []string
		for u := range All(t, tx.Users("")) {
			got = append(got, u.ID)
		}
		if len(got) != 3 || got[0] != ids[0] || got[2] != ids[2] {
			t.Errorf("Users order = %v, want creation order %v", got, ids)
		}
		got = nil
		for u := range All(t, tx.Users(ids[0])) {
			got = append(got, u.ID)
		}
		if len(got) != 2 || got[0] != ids[1] {
			t.Errorf("Users after %s = %v", ids[0], got)
		}
		var logins []string
		for u := range All(t, tx.UsersByLogin()) {
			logins = append(logins, u.Login)
		}
		if len(logins) != 3 || logins[0] != "amy" || logins[1] != "Mia" || logins[2] != "zed" {
			t.Errorf("UsersByLogin = %v", logins)
		}
		return nil
	})
	// Display names order users case-insensitively, and follow renames.
	Update(t, s, func(tx store.Tx) error {
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
	Update(t, s, func(tx store.Tx) error {
		var names []string
		for u := range All(t, tx.UsersByName()) {
			names = append(names, u.Name)
		}
		if strings.Join(names, ",") != "alice,Bob,Carol" {
			return fmt.Errorf("UsersByName = %v", names)
		}
		return nil
	})
	// The managed count follows creation and changes of the flag.
	Update(t, s, func(tx store.Tx) error {
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
	u1, u2 := MkUser(t, s, "u1"), MkUser(t, s, "u2")
	var g store.Group
	Update(t, s, func(tx store.Tx) error {
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
	Update(t, s, func(tx store.Tx) error { return tx.RemoveMember(g.ID, u2.ID) })
	View(t, s, func(tx store.Tx) error {
		if n, err := store.CountMembers(tx, g.ID); err != nil || n != 1 {
			t.Errorf("CountMembers = %d, want 1 (err %v)", n, err)
		}
		if ok, err := store.IsMember(tx, g.ID, u2.ID); err != nil || ok {
			t.Errorf("u2 still a member (err %v)", err)
		}
		of := slices.Collect(store.GroupsOf(tx, u1.ID))
		if len(of) != 1 || of[0] != g.ID {
			t.Errorf("GroupsOf(u1) = %v", of)
		}
		if got, err := tx.GroupByName("DEVS"); err != nil || got.ID != g.ID {
			t.Errorf("GroupByName = %v, %v", got, err)
		}
		if gs, err := tx.GroupsByExternalID("x"); err != nil || len(gs) != 1 {
			t.Errorf("GroupsByExternalID = %v (err %v)", gs, err)
		}
		if n, err := tx.CountGroups(); err != nil || n != 1 {
			t.Errorf("CountGroups = %d (err %v)", n, err)
		}
		return nil
	})

	// A user's groups read after the user (a backend may fetch them with
	// it), looked up each way, and in a write after a change of them.
	var g2 store.Group
	Update(t, s, func(tx store.Tx) error {
		u, err := tx.User(u1.ID)
		if err != nil {
			return err
		}
		if of := slices.Collect(store.GroupsOf(tx, u.ID)); !slices.Equal(of, []string{g.ID}) {
			t.Errorf("in a write, GroupsOf(u1) = %v, want [%s]", of, g.ID)
		}
		u.ExternalID = "ext-u1"
		if err := tx.PutUser(u); err != nil {
			return err
		}
		if g2, err = store.NewGroup(tx, store.Group{Name: "Ops"}); err != nil {
			return err
		}
		if err := tx.AddMember(g2.ID, u1.ID); err != nil {
			return err
		}
		if of := slices.Collect(store.GroupsOf(tx, u1.ID)); len(of) != 2 {
			t.Errorf("after AddMember in the same write, GroupsOf(u1) = %v, want 2 groups", of)
		}
		return nil
	})
	want := []string{g.ID, g2.ID}
	slices.Sort(want)
	lookups := map[string]func(tx store.Tx) (store.User, error){
		"User":        func(tx store.Tx) (store.User, error) { return tx.User(u1.ID) },
		"UserByLogin": func(tx store.Tx) (store.User, error) { return tx.UserByLogin("U1") },
		"UsersByExternalID": func(tx store.Tx) (store.User, error) {
			us, err := tx.UsersByExternalID("ext-u1")
			if err != nil || len(us) != 1 {
				return store.User{}, fmt.Errorf("UsersByExternalID = %v, %v; want one user", us, err)
			}
			return us[0], nil
		},
	}
	for name, lookup := range lookups {
		View(t, s, func(tx store.Tx) error {
			u, err := lookup(tx)
			if err != nil || u.ID != u1.ID {
				t.Fatalf("%s = %+v, %v", name, u, err)
			}
			of := slices.Collect(store.GroupsOf(tx, u.ID))
			slices.Sort(of)
			if !slices.Equal(of, want) {
				t.Errorf("after %s, GroupsOf(u1) = %v, want %v", name, of, want)
			}
			if of := slices.Collect(store.GroupsOf(tx, u2.ID)); len(of) != 0 {
				t.Errorf("after %s, GroupsOf(u2) = %v, want none", name, of)
			}
			return nil
		})
	}
}

func testDeleteGroupCascades(t *testing.T, s store.Store) {
	u := MkUser(t, s, "eve")
	var g store.Group
	Update(t, s, func(tx store.Tx) error {
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "ops"}); err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, u.ID); err != nil {
			return err
		}
		return tx.Grant(store.GroupSubject(g.ID), store.PermScan)
	})
	Update(t, s, func(tx store.Tx) error { return tx.DeleteGroup(g.ID) })
	View(t, s, func(tx store.Tx) error {
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
		if c, err := tx.CountGroups(); err != nil || c != 0 {
			t.Errorf("CountGroups = %d (err %v)", c, err)
		}
		return nil
	})
}

func testPermissions(t *testing.T, s store.Store) {
	u := MkUser(t, s, "fay")
	var g store.Group
	Update(t, s, func(tx store.Tx) error {
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
	View(t, s, func(tx store.Tx) error {
		perms, err := store.UserPermissions(tx, u.ID)
		if err != nil {
			return err
		}
		if len(perms) != 2 || perms[0] != store.PermGateAdmin || perms[1] != store.PermScan {
			t.Errorf("UserPermissions = %v", perms)
		}
		if ok, err := store.HasPermission(tx, u.ID, store.PermAdmin); err != nil || ok {
			t.Errorf("user has admin it was never given (err %v)", err)
		}
		return nil
	})
	// Several subjects at once: their keys merged, sorted, each once; what
	// the transaction grants or revokes afterwards is read back.
	us, gs := store.UserSubject(u.ID), store.GroupSubject(g.ID)
	want := func(tx store.Tx, what string, subjects []store.Subject, keys ...store.PermKey) {
		t.Helper()
		got, err := tx.Permissions(subjects...)
		if err != nil || !slices.Equal(got, keys) {
			t.Errorf("%s: Permissions = %v, %v; want %v", what, got, err, keys)
		}
	}
	Update(t, s, func(tx store.Tx) error {
		both := []store.Subject{gs, us, gs}
		want(tx, "user and group", both, store.PermGateAdmin, store.PermScan)
		want(tx, "no subject", nil)
		if err := tx.Grant(us, store.PermScan); err != nil {
			return err
		}
		want(tx, "after a grant held twice", both, store.PermGateAdmin, store.PermScan)
		if err := tx.Revoke(gs, store.PermScan); err != nil {
			return err
		}
		want(tx, "after a revoke", []store.Subject{gs}, []store.PermKey(nil)...)
		if err := tx.Grant(gs, store.PermProvisioning); err != nil {
			return err
		}
		want(tx, "after a grant", both, store.PermGateAdmin, store.PermProvisioning, store.PermScan)
		return nil
	})
	View(t, s, func(tx store.Tx) error {
		want(tx, "committed", []store.Subject{us, gs}, store.PermGateAdmin, store.PermProvisioning, store.PermScan)
		want(tx, "user alone", []store.Subject{us}, store.PermGateAdmin, store.PermScan)
		return nil
	})
}

func testTokens(t *testing.T, s store.Store) {
	u := MkUser(t, s, "gus")
	secret := store.NewTokenSecret()
	Update(t, s, func(tx store.Tx) error {
		return tx.PutToken(store.Token{Hash: store.HashToken(secret), UserID: u.ID, Name: "ci", Type: store.TokenUser, Created: store.Now()})
	})
	View(t, s, func(tx store.Tx) error {
		if got, err := tx.Token(store.HashToken(secret)); err != nil || got.UserID != u.ID {
			t.Errorf("Token(hash) = %+v, %v", got, err)
		}
		if got, err := tx.TokenByName(u.ID, "ci"); err != nil || got.Hash != store.HashToken(secret) {
			t.Errorf("TokenByName = %+v, %v", got, err)
		}
		toks, err := tx.Tokens(u.ID)
		if err != nil {
			return err
		}
		if len(toks) != 1 || toks[0].Name != "ci" || toks[0].Hash == secret {
			t.Errorf("Tokens = %+v", toks)
		}
		return nil
	})
	// A second token of the same user and name is refused: revoking by name
	// would otherwise leave the first secret working.
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutToken(store.Token{Hash: store.HashToken(store.NewTokenSecret()), UserID: u.ID, Name: "ci", Type: store.TokenUser, Created: store.Now()})
	})
	if store.ErrorCode(err) != store.EConflict {
		t.Fatalf("second token named ci: %v, want a conflict", err)
	}
	Update(t, s, func(tx store.Tx) error { return tx.DeleteToken(store.HashToken(secret)) })
	View(t, s, func(tx store.Tx) error {
		if _, err := tx.Token(store.HashToken(secret)); !store.IsNotFound(err) {
			t.Errorf("deleted token still found: %v", err)
		}
		if _, err := tx.TokenByName(u.ID, "ci"); !store.IsNotFound(err) {
			t.Errorf("deleted token's name still found: %v", err)
		}
		return nil
	})
}

func testSessionsAndFailures(t *testing.T, s store.Store) {
	u, v := MkUser(t, s, "sam"), MkUser(t, s, "val")
	now := store.Now()
	sess := []store.Session{
		{Hash: store.HashToken("b"), UserID: u.ID, Password: "h1", Created: now, LastSeen: now},
		{Hash: store.HashToken("a"), UserID: u.ID, Password: "h1", Created: now, LastSeen: now.Add(time.Minute)},
		{Hash: store.HashToken("c"), UserID: v.ID, Password: "h2", Created: now, LastSeen: now},
	}
	Update(t, s, func(tx store.Tx) error {
		for _, x := range sess {
			if err := tx.PutSession(x); err != nil {
				return err
			}
		}
		return tx.PutFailures("sam", store.Failures{Count: 3, Last: now})
	})
	View(t, s, func(tx store.Tx) error {
		got, err := tx.Session(sess[1].Hash)
		if err != nil || !reflect.DeepEqual(got, sess[1]) {
			t.Errorf("Session = %+v, %v; want %+v", got, err, sess[1])
		}
		list, err := tx.SessionsOf(u.ID)
		want := []store.Session{sess[0], sess[1]}
		slices.SortFunc(want, func(a, b store.Session) int { return strings.Compare(a.Hash, b.Hash) })
		if err != nil || !reflect.DeepEqual(list, want) {
			t.Errorf("SessionsOf = %+v, %v; want %+v", list, err, want)
		}
		if f, err := tx.Failures("sam"); err != nil || f.Count != 3 || !f.Last.Equal(now) {
			t.Errorf("Failures(sam) = %+v, %v", f, err)
		}
		if f, err := tx.Failures("val"); err != nil || f.Count != 0 {
			t.Errorf("Failures(val) = %+v, %v; want none", f, err)
		}
		return nil
	})
	Update(t, s, func(tx store.Tx) error {
		if err := tx.DeleteSession(sess[0].Hash); err != nil {
			return err
		}
		if err := tx.DeleteSession(store.HashToken("unknown")); err != nil {
			return err
		}
		return tx.PutFailures("sam", store.Failures{})
	})
	View(t, s, func(tx store.Tx) error {
		if _, err := tx.Session(sess[0].Hash); !store.IsNotFound(err) {
			t.Errorf("deleted session: %v", err)
		}
		if list, err := tx.SessionsOf(u.ID); err != nil || len(list) != 1 || list[0].Hash != sess[1].Hash {
			t.Errorf("SessionsOf after delete = %+v, %v", list, err)
		}
		if f, err := tx.Failures("sam"); err != nil || f.Count != 0 {
			t.Errorf("cleared failures = %+v, %v", f, err)
		}
		return nil
	})
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
	View(t, s, func(tx store.Tx) error {
		if _, err := tx.UserByLogin("ghost"); !store.IsNotFound(err) {
			t.Error("write of a failed transaction is visible")
		}
		return nil
	})
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
	View(t, s, func(tx store.Tx) error {
		if c, err := tx.CountUsers(); err != nil || c != 40 {
			t.Errorf("CountUsers = %d, want 40 (err %v)", c, err)
		}
		return nil
	})
}

// Writers that share a transaction (a backend's group commit) each get
// their own outcome: a function that fails or panics, before or after
// writing, and before or after reading again, leaves nothing stored and
// gets its own error or panic; the functions beside it commit theirs.
func testWriterIsolation(t *testing.T, s store.Store) {
	const n = 60
	refused := store.Errorf(store.EInvalid, "refused")
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	panicker := func(i int) bool { return i%10 == 4 || i%10 == 5 }
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			<-start
			errs[i] = s.Update(ctx, func(tx store.Tx) error {
				if i%5 == 1 {
					return refused // before writing
				}
				if _, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("w%d", i), Active: true}); err != nil {
					return err
				}
				if i%5 == 3 || i%5 == 4 { // what it wrote may reach the database
					if _, err := tx.CountUsers(); err != nil {
						return err
					}
				}
				if panicker(i) {
					panic(fmt.Sprintf("writer %d", i))
				}
				if i%5 == 2 || i%5 == 3 {
					return refused // after writing
				}
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	stored := func(i int) bool { return (i%5 == 0 || i%5 == 4) && !panicker(i) }
	for i, err := range errs {
		switch {
		case panicker(i):
			if panics[i] != fmt.Sprintf("writer %d", i) {
				t.Errorf("writer %d recovered %v, want its own panic", i, panics[i])
			}
		case panics[i] != nil:
			t.Errorf("writer %d panicked: %v", i, panics[i])
		case stored(i) && err != nil:
			t.Errorf("writer %d: %v", i, err)
		case !stored(i) && !errors.Is(err, refused):
			t.Errorf("writer %d: err %v, want %v", i, err, refused)
		}
	}
	View(t, s, func(tx store.Tx) error {
		for i := range n {
			_, err := tx.UserByLogin(fmt.Sprintf("w%d", i))
			if err != nil && !store.IsNotFound(err) {
				return err
			}
			if found := err == nil; found != stored(i) {
				t.Errorf("user w%d stored: %v, want %v", i, found, stored(i))
			}
		}
		return nil
	})
}

func testAuditLog(t *testing.T, s store.Store) {
	for i := 0; i < 3; i++ {
		Update(t, s, func(tx store.Tx) error {
			return tx.AppendAudit(&store.AuditEntry{Time: store.Now(), API: "scim", Actor: "okta", Token: "okta-scim", Op: fmt.Sprint(i),
				Before: &store.State{Active: true}, After: &store.State{Managed: true}})
		})
	}
	var ops []string
	var seqs []uint64
	View(t, s, func(tx store.Tx) error {
		for e := range All(t, tx.Audit()) {
			ops = append(ops, e.Op)
			seqs = append(seqs, e.Seq)
			if e.Actor != "okta" || e.Token != "okta-scim" || e.API != "scim" || *e.Before != (store.State{Active: true}) || *e.After != (store.State{Managed: true}) {
				t.Errorf("audit entry did not round-trip: %+v", e)
			}
		}
		return nil
	})
	if fmt.Sprint(ops) != "[2 1 0]" || seqs[0] <= seqs[1] || seqs[1] <= seqs[2] {
		t.Errorf("audit newest first: ops %v seqs %v", ops, seqs)
	}
}

// A backup taken while writers run is a complete store on its own.
func testBackup(t *testing.T, s store.Store) {
	MkUser(t, s, "before")
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
	Update(t, s, func(tx store.Tx) error {
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
	View(t, s, func(tx store.Tx) error {
		for e := range All(t, tx.Audit()) {
			ops = append(ops, e.Op)
		}
		return nil
	})
	if fmt.Sprint(ops) != "[3 2]" {
		t.Errorf("after pruning: %v, want the two recent entries", ops)
	}
}

// ReadAhead is a hint: whatever a transaction writes before or after it,
// the transaction reads what it would read without it.
func testReadAhead(t *testing.T, s store.Store) {
	u := MkUser(t, s, "rhea")
	var g, h store.Group
	Update(t, s, func(tx store.Tx) error {
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "ra-devs"}); err != nil {
			return err
		}
		if h, err = store.NewGroup(tx, store.Group{Name: "ra-ops"}); err != nil {
			return err
		}
		if _, err = store.NewGroup(tx, store.Group{Name: store.DefaultGroup}); err != nil {
			return err
		}
		return errors.Join(tx.AddMember(g.ID, u.ID), tx.Grant(store.GroupSubject(g.ID), "scan"),
			tx.Grant(store.UserSubject(u.ID), "provisioning"), tx.Grant(store.GroupSubject(store.AnyoneGroup), "gateadmin"),
			tx.PutToken(store.Token{Hash: store.HashToken("ra-one"), UserID: u.ID, Name: "one", Type: store.TokenUser, Created: store.Now()}))
	})
	// state is what the access rules read about u.
	state := func(tx store.Tx) string {
		perms, err := tx.Permissions(store.UserSubject(u.ID), store.GroupSubject(store.AnyoneGroup), store.GroupSubject(g.ID), store.GroupSubject(h.ID))
		toks, err2 := tx.Tokens(u.ID)
		var names []string
		for _, k := range toks {
			names = append(names, k.Name)
		}
		return fmt.Sprint("groups ", slices.Collect(store.GroupsOf(tx, u.ID)), " perms ", perms, " tokens ", names, " ", errors.Join(err, err2))
	}
	rollback := errors.New("rolled back")
	// read runs steps in a transaction it rolls back, and returns what the
	// last one read.
	read := func(steps ...func(tx store.Tx)) string {
		var got string
		err := s.Update(ctx, func(tx store.Tx) error {
			for _, step := range steps {
				step(tx)
			}
			got = state(tx)
			return rollback
		})
		if err != rollback {
			t.Fatalf("update: %v", err)
		}
		return got
	}
	ahead := func(tx store.Tx) { tx.ReadAhead(u.ID) }
	look := func(tx store.Tx) { state(tx) }
	before := read()
	for _, c := range []struct {
		name  string
		write func(tx store.Tx) error
	}{
		{"joined", func(tx store.Tx) error { return tx.AddMember(h.ID, u.ID) }},
		{"left", func(tx store.Tx) error { return tx.RemoveMember(g.ID, u.ID) }},
		{"granted", func(tx store.Tx) error { return tx.Grant(store.UserSubject(u.ID), "admin") }},
		{"group's permission revoked", func(tx store.Tx) error { return tx.Revoke(store.GroupSubject(g.ID), "scan") }},
		{"token added", func(tx store.Tx) error {
			return tx.PutToken(store.Token{Hash: store.HashToken("ra-two"), UserID: u.ID, Name: "two", Type: store.TokenUser, Created: store.Now()})
		}},
		{"token deleted", func(tx store.Tx) error { return tx.DeleteToken(store.HashToken("ra-one")) }},
		{"deactivated", func(tx store.Tx) error {
			v, err := tx.User(u.ID)
			v.Active = false
			return errors.Join(err, tx.PutUser(v))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			write := func(tx store.Tx) {
				if err := c.write(tx); err != nil {
					t.Error(err)
				}
			}
			want := read(write)
			if want == before {
				t.Fatalf("the write changed nothing read: %s", want)
			}
			for name, steps := range map[string][]func(store.Tx){
				"read ahead, write":             {ahead, write},
				"read ahead, read, write":       {ahead, look, write},
				"write, read ahead":             {write, ahead},
				"read, read ahead, write, read": {look, ahead, write, look},
				"read ahead twice, write":       {ahead, ahead, write},
			} {
				if got := read(steps...); got != want {
					t.Errorf("%s: read %s, want %s", name, got, want)
				}
			}
		})
	}
	if got := read(ahead); got != before {
		t.Errorf("read ahead alone: read %s, want %s", got, before)
	}
}

// testReadAheadPage: the groups, tokens and password failures of a page
// of users read after ReadAheadPage are what reading them gives without
// it, in a View and in an Update whose writes come before or after it.
func testReadAheadPage(t *testing.T, s store.Store) {
	a, b, c := MkUser(t, s, "page-a"), MkUser(t, s, "page-b"), MkUser(t, s, "page-c")
	page := []store.User{a, b, c}
	var g, h store.Group
	Update(t, s, func(tx store.Tx) error {
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "page-devs"}); err != nil {
			return err
		}
		if h, err = store.NewGroup(tx, store.Group{Name: "page-ops"}); err != nil {
			return err
		}
		token := func(u store.User, name string) store.Token {
			return store.Token{Hash: store.HashToken(u.ID + name), UserID: u.ID, Name: name, Type: store.TokenUser, Created: store.Now()}
		}
		return errors.Join(tx.AddMember(g.ID, a.ID), tx.AddMember(h.ID, a.ID), tx.AddMember(h.ID, c.ID),
			tx.PutToken(token(a, "two")), tx.PutToken(token(a, "one")), tx.PutToken(token(c, "ci")),
			tx.PutFailures(a.Login, store.Failures{Count: 3, Last: store.Now()}), tx.PutFailures(c.Login, store.Failures{Count: 1, Last: store.Now()}))
	})
	state := func(tx store.Tx) string {
		var out []string
		for _, u := range page {
			toks, err := tx.Tokens(u.ID)
			var names []string
			for _, k := range toks {
				names = append(names, k.Name)
			}
			f, err2 := tx.Failures(u.Login)
			out = append(out, fmt.Sprint(u.Login, " groups ", slices.Collect(tx.GroupsOf(u.ID)), " tokens ", names, " failures ", f.Count, " ", errors.Join(err, err2)))
		}
		return strings.Join(out, "; ")
	}
	ahead := func(tx store.Tx) { tx.ReadAheadPage(page) }
	look := func(tx store.Tx) { state(tx) }
	var before string
	View(t, s, func(tx store.Tx) error { before = state(tx); return nil })
	for name, steps := range map[string][]func(store.Tx){
		"read ahead":              {ahead},
		"read ahead twice":        {ahead, ahead},
		"read ahead part":         {func(tx store.Tx) { tx.ReadAheadPage(page[1:]) }},
		"read, read ahead":        {look, ahead},
		"read ahead of no one":    {func(tx store.Tx) { tx.ReadAheadPage(nil) }},
		"read ahead of a missing": {func(tx store.Tx) { tx.ReadAheadPage([]store.User{{ID: "none", Login: "none"}}) }},
	} {
		View(t, s, func(tx store.Tx) error {
			for _, step := range steps {
				step(tx)
			}
			if got := state(tx); got != before {
				t.Errorf("View, %s: read %s, want %s", name, got, before)
			}
			return nil
		})
	}
	rollback := errors.New("rolled back")
	read := func(steps ...func(tx store.Tx)) string {
		var got string
		if err := s.Update(ctx, func(tx store.Tx) error {
			for _, step := range steps {
				step(tx)
			}
			got = state(tx)
			return rollback
		}); err != rollback {
			t.Fatalf("update: %v", err)
		}
		return got
	}
	for _, c := range []struct {
		name  string
		write func(tx store.Tx) error
	}{
		{"joined", func(tx store.Tx) error { return tx.AddMember(g.ID, b.ID) }},
		{"left", func(tx store.Tx) error { return tx.RemoveMember(h.ID, a.ID) }},
		{"token added", func(tx store.Tx) error {
			return tx.PutToken(store.Token{Hash: store.HashToken("page-new"), UserID: b.ID, Name: "new", Type: store.TokenUser, Created: store.Now()})
		}},
		{"token deleted", func(tx store.Tx) error { return tx.DeleteToken(store.HashToken(a.ID + "one")) }},
		{"failed", func(tx store.Tx) error { return tx.PutFailures(b.Login, store.Failures{Count: 2, Last: store.Now()}) }},
		{"failures cleared", func(tx store.Tx) error { return tx.PutFailures(a.Login, store.Failures{}) }},
	} {
		write := func(tx store.Tx) {
			if err := c.write(tx); err != nil {
				t.Error(err)
			}
		}
		want := read(write)
		if want == before {
			t.Fatalf("%s: the write changed nothing read: %s", c.name, want)
		}
		for name, steps := range map[string][]func(store.Tx){
			"read ahead, write":       {ahead, write},
			"read ahead, read, write": {ahead, look, write},
			"write, read ahead":       {write, ahead},
		} {
			if got := read(steps...); got != want {
				t.Errorf("%s, %s: read %s, want %s", c.name, name, got, want)
			}
		}
	}
}

// testWriteStats: a backend that counts its writes counts each committed
// change, and as commit time only what follows the changes (writing,
// syncing, the last round trip): not a change's own time. Reads and
// refused changes count nothing.
func testWriteStats(t *testing.T, s store.Store) {
	ws, ok := s.(store.WriteStats)
	if !ok {
		t.Skip("the backend does not count its writes")
	}
	// Organizations, not users: a user's creation may have the backend
	// commit work of its own later (bbolt's search index), which counts
	// as commits but not as changes.
	org := func(key string, pause time.Duration) {
		Update(t, s, func(tx store.Tx) error {
			time.Sleep(pause)
			return tx.PutOrganization(store.Organization{Key: key, Name: key})
		})
	}
	before := ws.WriteStats()
	for i := range 3 {
		org(fmt.Sprintf("lone%d", i), 0)
	}
	w := ws.WriteStats()
	if w.Changes-before.Changes != 3 || w.Commits-before.Commits != 3 || w.Committing <= before.Committing {
		t.Fatalf("three lone writes: %+v, then %+v; want 3 changes in 3 commits that took some time", before, w)
	}
	const slow = 200 * time.Millisecond
	start := time.Now()
	org("slow", slow)
	elapsed := time.Since(start)
	after := ws.WriteStats()
	if took := after.Committing - w.Committing; took <= 0 || took > elapsed-slow {
		t.Fatalf("a change that ran %v and committed within %v counted %v committing", slow, elapsed, took)
	}
	if err := s.Update(ctx, func(store.Tx) error { return store.Errorf(store.EInvalid, "no") }); err == nil {
		t.Fatal("a refused change committed")
	}
	View(t, s, func(tx store.Tx) error {
		_, err := tx.Organization("lone0")
		return err
	})
	if now := ws.WriteStats(); now != after {
		t.Fatalf("a refused change and a read counted: %+v, then %+v", after, now)
	}
}
