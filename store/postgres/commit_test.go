package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
	"github.com/scimgate/scimgate/store/storetest"
)

// openStore opens a store on a new database; it is closed when t ends.
func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Changes sharing a transaction have the users they touch read ahead, in
// its first round trip; a change that writes what a later one's user read
// ahead holds leaves the later one reading what it wrote, as if each ran
// alone one after the other.
func TestTouchedUsersReadAhead(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var g store.Group
	storetest.Update(t, s, func(tx store.Tx) error {
		var err error
		g, err = store.NewGroup(tx, store.Group{Name: "touched"})
		return err
	})
	// state is what a change reads about user id.
	state := func(tx store.Tx, id string) string {
		u, err := tx.User(id)
		perms, err2 := tx.Permissions(store.UserSubject(id), store.GroupSubject(g.ID))
		toks, err3 := tx.Tokens(id)
		return fmt.Sprint(u.Login, " ", u.Name, " ", u.Active, " groups ", slices.Collect(store.GroupsOf(tx, id)),
			" perms ", perms, " tokens ", len(toks), " ", errors.Join(err, err2, err3))
	}
	for i, c := range []struct {
		name  string
		write func(tx store.Tx, u store.User) error
	}{
		{"renamed", func(tx store.Tx, u store.User) error { u.Login, u.Name = u.Login+"-new", "New"; return tx.PutUser(u) }},
		{"deactivated", func(tx store.Tx, u store.User) error { u.Active = false; return tx.PutUser(u) }},
		{"joined", func(tx store.Tx, u store.User) error { return tx.AddMember(g.ID, u.ID) }},
		{"granted", func(tx store.Tx, u store.User) error { return tx.Grant(store.UserSubject(u.ID), "admin") }},
		{"token added", func(tx store.Tx, u store.User) error {
			return tx.PutToken(store.Token{Hash: store.HashToken(u.ID), UserID: u.ID, Name: "t", Type: store.TokenUser, Created: store.Now()})
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := storetest.MkUser(t, s, fmt.Sprintf("a%d", i))
			b := storetest.MkUser(t, s, fmt.Sprintf("b%d", i))
			var got string
			calls := []*call{
				{ctx: store.Touching(ctx, a.ID), fn: func(tx store.Tx) error {
					u, err := tx.User(b.ID) // a change to a that also writes b
					if err != nil {
						return err
					}
					return c.write(tx, u)
				}},
				{ctx: store.Touching(ctx, b.ID), fn: func(tx store.Tx) error { got = state(tx, b.ID); return nil }},
			}
			if alone, err := s.runCalls(calls); alone >= 0 || err != nil || calls[0].res != nil || calls[1].res != nil {
				t.Fatalf("runCalls: alone %d, err %v, outcomes %v, %v", alone, err, calls[0].res, calls[1].res)
			}
			var want string
			storetest.View(t, s, func(tx store.Tx) error { want = state(tx, b.ID); return nil })
			if got != want {
				t.Errorf("the second change read %s; stored: %s", got, want)
			}
		})
	}
}

// Creates sharing a transaction have their logins checked in its first
// round trip; a change before a create that takes, frees or imitates its
// login leaves the create refused or allowed as if each ran alone.
func TestCreatedLoginsReadAhead(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	held := storetest.MkUser(t, s, "held")
	create := func(login string) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			_, err := store.NewUser(tx, store.User{Login: login, Active: true})
			return err
		}
	}
	for _, c := range []struct {
		name   string
		login  string // the second change creates it
		before func(tx store.Tx) error
		want   string // the create's error, or ""
	}{
		{"taken before", "carol", create("Carol"), "A user with login 'carol' already exists"},
		{"imitated before", "\u0430dmin3", create("admin3"), "Login '\u0430dmin3' is confusable with the existing login 'admin3'"},
		{"freed before", "held", func(tx store.Tx) error {
			u, err := tx.User(held.ID)
			if err != nil {
				return err
			}
			u.Login = "released"
			return tx.PutUser(u)
		}, ""},
		{"untouched", "dave", create("erin"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := []*call{
				{ctx: store.Creating(ctx, "unrelated-"+c.login), fn: c.before},
				{ctx: store.Creating(ctx, c.login), fn: create(c.login)},
			}
			alone, err := s.runCalls(calls)
			if alone >= 0 || err != nil || calls[0].res != nil {
				t.Fatalf("runCalls: alone %d, err %v, first outcome %v", alone, err, calls[0].res)
			}
			if got := fmt.Sprint(calls[1].res); (c.want == "" && calls[1].res != nil) || (c.want != "" && got != c.want) {
				t.Errorf("create of %q: %v, want %q", c.login, calls[1].res, c.want)
			}
		})
	}
}
