package webapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

// api/permissions/users pages holders first, then the other active users,
// each in login order, with the right totals: every page of every query
// agrees with the list computed from the whole store.
func TestPermissionUsersPaging(t *testing.T) {
	e := newEnv(t)
	ids := storetest.Seed(t, e.store, 40)
	if err := e.store.Update(context.Background(), func(tx store.Tx) error {
		for i, id := range ids {
			if i%5 == 0 {
				if err := tx.Grant(store.UserSubject(id), store.Global(store.PermScan)); err != nil {
					return err
				}
			}
			if i%7 == 0 {
				u, err := tx.User(id)
				if err != nil {
					return err
				}
				u.Active = false
				if err := tx.PutUser(u); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// want lists what the whole store says, as logins.
	want := func(q, perm string) []string {
		var with, without []string
		storetest.View(t, e.store, func(tx store.Tx) error {
			for u := range storetest.All(t, tx.UsersByLogin()) {
				text := strings.ToLower(u.Login + " " + u.Name + " " + u.Email)
				if !u.Active || q != "" && !strings.Contains(text, q) {
					continue
				}
				keys, err := tx.Permissions(store.UserSubject(u.ID))
				if err != nil {
					return err
				}
				var global []string
				for _, k := range keys {
					if scope, _, p := store.ParsePerm(k); scope == "" {
						global = append(global, p)
					}
				}
				switch {
				case perm != "" && slices.Contains(global, perm), perm == "" && len(global) > 0:
					with = append(with, u.Login)
				case perm == "":
					without = append(without, u.Login)
				}
			}
			return nil
		})
		return append(with, without...)
	}
	for _, query := range []struct{ q, perm string }{{"", ""}, {"user1", ""}, {"", "scan"}, {"user2", "admin"}} {
		expected := want(query.q, query.perm)
		var got []string
		for p := 1; p <= 8; p++ {
			form := fmt.Sprintf("ps=7&p=%d", p)
			if query.q != "" {
				form += "&q=" + query.q
			}
			if query.perm != "" {
				form += "&permission=" + query.perm
			}
			status, body := e.do("GET", "api/permissions/users", form, adminAuth)
			var res struct {
				Paging struct{ Total int }
				Users  []struct{ Login string }
			}
			if status != 200 || json.Unmarshal([]byte(body), &res) != nil {
				t.Fatalf("%+v page %d: %d %s", query, p, status, body)
			}
			if res.Paging.Total != len(expected) {
				t.Errorf("%+v page %d: total %d, want %d", query, p, res.Paging.Total, len(expected))
			}
			for _, u := range res.Users {
				got = append(got, u.Login)
			}
		}
		if !slices.Equal(got, expected) {
			t.Errorf("%+v: pages list %v, want %v", query, got, expected)
		}
	}
}
