package webapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

// BenchmarkGroupUsers: a page of a group's members (v1
// api/user_groups/users, v2 users?groupId=) costs the group's size, not
// the store's: compare 1k and 100k users with the same 50-member group.
func BenchmarkUserPages(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		e := newEnv(b)
		ids := storetest.Seed(b, e.store, n)
		var gid string
		err := e.store.Update(context.Background(), func(tx store.Tx) error {
			g, err := store.NewGroup(tx, store.Group{Name: "team"})
			gid = g.ID
			for _, id := range ids[:50] {
				if err == nil {
					err = tx.AddMember(g.ID, id)
				}
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		for name, target := range map[string]string{
			"v1": "/api/user_groups/users?name=team&ps=50",
			"v2": "/api/v2/users-management/users?groupId=" + gid + "&pageSize=50",
			// A page of api/permissions/users reads the holders and the page,
			// not every user; with a q matching everyone it must scan, as
			// every query did before: the baseline, in the same run.
			"PermissionUsers":     "/api/permissions/users?ps=50&p=3",
			"PermissionUsersScan": "/api/permissions/users?ps=50&p=3&q=user",
		} {
			b.Run(fmt.Sprintf("%s/users=%d", name, n), func(b *testing.B) {
				for b.Loop() {
					req := httptest.NewRequest("GET", target, nil)
					req.Header.Set("Authorization", adminAuth)
					rec := httptest.NewRecorder()
					e.srv.Config.Handler.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
					}
				}
			})
		}
	}
}
