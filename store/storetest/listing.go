package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// A listing yields its users in lower-cased login order, whichever way it
// finds them (every user, the n-gram index's candidates, a group's
// members) and whichever state it narrows them to, and a page of it is
// exactly that order filtered and cut; a page without a rule counts the
// users it does not read.
func testListing(t *testing.T, s store.Store) {
	if _, _, err := store.Bootstrap(ctx, s, "Gate-keeper-123!"); err != nil {
		t.Fatal(err)
	}
	var crew store.Group
	var some []string // every tenth user's id, and one of no user
	Update(t, s, func(tx store.Tx) error {
		var err error
		if crew, err = store.NewGroup(tx, store.Group{Name: "crew"}); err != nil {
			return err
		}
		some = []string{"no-such-user"}
		if err := tx.Grant(store.GroupSubject(crew.ID), store.Global(store.PermScan)); err != nil {
			return err
		}
		for i := range 300 {
			n := (i * 7919) % 300 // created out of login order
			login := fmt.Sprintf("user%03d", n)
			if n%3 == 0 {
				login = strings.ToUpper(login) // case does not change the order
			}
			u, err := store.NewUser(tx, store.User{Login: login, Name: fmt.Sprintf("Member %d", n), Active: n%5 != 0})
			if err != nil {
				return err
			}
			if n%2 == 0 {
				if err := tx.AddMember(crew.ID, u.ID); err != nil {
					return err
				}
			}
			if n%4 == 0 {
				if err := tx.Grant(store.UserSubject(u.ID), store.Global(store.PermScan)); err != nil {
					return err
				}
			}
			if n%10 == 0 {
				some = append(some, u.ID)
			}
		}
		return nil
	})
	indexGrams(t, s)
	View(t, s, func(tx store.Tx) error {
		def, err := tx.GroupByName(store.DefaultGroup)
		if err != nil {
			return err
		}
		listings := []struct {
			name    string
			listing store.Listing
			want    int // users listed
		}{
			{"every user", store.UsersContaining(tx, ""), 301},
			{"short text", store.UsersContaining(tx, "r1"), 301},
			{"n-gram candidates", store.UsersContaining(tx, "user1"), 100},
			{"group members", store.GroupMembers(tx, crew.ID), 150},
			{"default group", store.GroupMembers(tx, def.ID), 241},
			{"active users", store.UsersContaining(tx, "").Active(true), 241},
			{"deactivated users", store.UsersContaining(tx, "r1").Active(false), 60},
			{"active candidates", store.UsersContaining(tx, "user1").Active(true), 80},
			{"deactivated members", store.GroupMembers(tx, crew.ID).Active(false), 30},
			{"default group, active", store.GroupMembers(tx, def.ID).Active(true), 241},
			{"default group, deactivated", store.GroupMembers(tx, def.ID).Active(false), 0},
			{"users of ids", store.UsersWithIDs(tx, slices.Values(some)), 30},
			{"holders of a permission", store.Holding(tx, store.Global(store.PermScan)), 75},
			{"active holders", store.Holding(tx, store.Global(store.PermScan)).Active(true), 60},
		}
		active := func(u store.User) (bool, error) { return u.Active, nil }
		contains := func(u store.User) (bool, error) { return u.Matches("er1", true), nil }
		keeps := map[string]func(store.User) (bool, error){"nil": nil, "active": active, "contains": contains}
		windows := [][2]int{{0, 10}, {5, 7}, {95, 50}, {0, 1000}, {290, 20}, {1000, 5}, {3, 0}}
		for _, l := range listings {
			var all []store.User
			for u := range All(t, l.listing.All()) {
				all = append(all, u)
			}
			if len(all) != l.want {
				t.Errorf("%s: %d users, want %d", l.name, len(all), l.want)
			}
			if !slices.IsSortedFunc(all, func(a, b store.User) int {
				return strings.Compare(store.FoldLogin(a.Login), store.FoldLogin(b.Login))
			}) {
				t.Errorf("%s: not in login order", l.name)
			}
			for kn, keep := range keeps {
				var kept []store.User
				for _, u := range all {
					ok, err := admitted(keep, u)
					if err != nil {
						return err
					}
					if ok {
						kept = append(kept, u)
					}
				}
				for _, w := range windows {
					page, total, err := l.listing.Page(keep, w[0], w[1])
					if err != nil {
						return err
					}
					lo, hi := min(w[0], len(kept)), min(w[0]+w[1], len(kept))
					if total != len(kept) || !slices.EqualFunc(page, kept[lo:hi], func(a, b store.User) bool { return a.ID == b.ID }) {
						t.Errorf("%s, keep %s, window %v: %d users of %d, want %d of %d", l.name, kn, w, len(page), total, hi-lo, len(kept))
					}
				}
			}
			// Membership answers as IsMember does, for the listed groups.
			for _, g := range []string{crew.ID, def.ID} {
				isMember := store.Membership(tx, g)
				for _, u := range all[:min(len(all), 40)] {
					got, err := isMember(u)
					if err != nil {
						return err
					}
					if want, err := store.IsMember(tx, g, u.ID); err != nil || got != want {
						t.Errorf("%s: Membership(%s)(%s) = %v, IsMember %v (err %v)", l.name, g, u.Login, got, want, err)
					}
				}
			}
			broken := errors.New("keep failed")
			if _, _, err := l.listing.Page(func(store.User) (bool, error) { return false, broken }, 0, 10); len(all) > 0 && !errors.Is(err, broken) {
				t.Errorf("%s: keep's error came back as %v", l.name, err)
			}
		}
		return nil
	})
}

func admitted(keep func(store.User) (bool, error), u store.User) (bool, error) {
	if keep == nil {
		return true, nil
	}
	return keep(u)
}
