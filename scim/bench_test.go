package scim_test

import (
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

func (e *env) serve(b *testing.B, method, path, body string, want int) {
	var req = httptest.NewRequest(method, "/api/scim/v2"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.token)
	rec := httptest.NewRecorder()
	e.srv.Config.Handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

// Handler benchmarks, without the network: store size should not change
// the cost of indexed reads (compare -bench with 1k and 100k users).
func BenchmarkHandlers(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		e := newEnv(b)
		ids := storetest.Seed(b, e.store, n)
		b.Run(fmt.Sprintf("GetUser/users=%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e.serve(b, "GET", "/Users/"+ids[rand.IntN(n)], "", 200)
				}
			})
		})
		b.Run(fmt.Sprintf("FilterUserName/users=%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e.serve(b, "GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq "user%d"`, rand.IntN(n))), "", 200)
				}
			})
		})
		// sw on the other indexed attributes, and the same filter made to scan
		// (an or no index answers): the baseline of the index, in one run.
		for _, f := range []struct{ name, filter string }{
			{"FilterExternalIdSW", `externalId sw "ext%d"`},
			{"FilterExternalIdSWScan", `externalId sw "ext%d" or id eq "none"`},
			{"FilterDisplayNameSW", `displayName sw "user%d"`},
			{"FilterUserNameCO", `userName co "er%d"`},
			{"FilterUserNameCOScan", `userName co "er%d" or id eq "none"`},
		} {
			b.Run(fmt.Sprintf("%s/users=%d", f.name, n), func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						e.serve(b, "GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(f.filter, n/10+rand.IntN(n-n/10))), "", 200)
					}
				})
			})
		}
		// Groups by name without their members, as Entra ID asks for them.
		if err := e.store.Update(b.Context(), func(tx store.Tx) error {
			for g := range 100 {
				if _, err := store.NewGroup(tx, store.Group{Name: fmt.Sprintf("group%d", g), Managed: true}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("FilterGroupDisplayName/users=%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e.serve(b, "GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(fmt.Sprintf(`displayName eq "group%d"`, rand.IntN(100))), "", 200)
				}
			})
		})
		b.Run(fmt.Sprintf("FilterUserNameSW/users=%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e.serve(b, "GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName sw "user%d"`, n/10+rand.IntN(n-n/10))), "", 200) // one match each
				}
			})
		})
		b.Run(fmt.Sprintf("PatchActive/users=%d", n), func(b *testing.B) {
			var i atomic.Int64
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":%v}]}`, i.Add(1)%2 == 0)
					e.serve(b, "PATCH", "/Users/"+ids[rand.IntN(n)], body, 200)
				}
			})
		})
		var created atomic.Int64
		b.Run(fmt.Sprintf("CreateUser/users=%d", n), func(b *testing.B) {
			i := &created
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bench%d-%d","active":true}`, n, i.Add(1))
					e.serve(b, "POST", "/Users", body, 201)
				}
			})
		})
	}
}
