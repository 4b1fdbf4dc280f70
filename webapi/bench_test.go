package webapi_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

// BenchmarkUserPages: a page of a group's members (v1
// api/user_groups/users, v2 users?groupId=) costs the group's size, not
// the store's: compare 1k and 100k users with the same 50-member group.
// So does a page of a list without a filter (every active or deactivated
// user, the default group's members, a template's holders): it reads the
// page and counts the rest.
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
			"Search":              "/api/users/search?ps=50&p=3",
			"SearchDeactivated":   "/api/users/search?ps=50&deactivated=true",
			"DefaultGroup":        "/api/user_groups/users?name=sonar-users&ps=50&p=3",
			"v2All":               "/api/v2/users-management/users?pageSize=50&pageIndex=3",
			"TemplateUsers":       "/api/permissions/template_users?templateName=Default%20template&ps=50",
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

// projects/search for a user who is no administrator checks each project's
// grants; its cost follows the projects, not the users.
func BenchmarkProjectsSearchNonAdmin(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		e := newEnv(b)
		ids := storetest.Seed(b, e.store, n)
		admin := store.Caller{Admin: true}
		if err := e.store.View(context.Background(), func(tx store.Tx) error {
			var err error
			admin.User, err = tx.UserByLogin("admin")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < 100; i++ {
			if _, err := store.CreateProjectAs(context.Background(), e.store, admin, store.NewProjectRequest{Key: fmt.Sprintf("p%03d", i), Name: "P", Private: i%2 == 0}); err != nil {
				b.Fatal(err)
			}
		}
		var user store.User
		if err := e.store.View(context.Background(), func(tx store.Tx) error {
			var err error
			user, err = tx.User(ids[n/2])
			return err
		}); err != nil {
			b.Fatal(err)
		}
		tok, err := store.GenerateToken(context.Background(), e.store, store.Caller{User: user}, store.TokenRequest{Name: "t"})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/projects/search?ps=50", nil)
				req.Header.Set("Authorization", "Bearer "+tok.Secret)
				rec := httptest.NewRecorder()
				e.srv.Config.Handler.ServeHTTP(rec, req)
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"total":100`) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
