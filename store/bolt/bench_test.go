package bolt_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/storetest"
)

// BenchmarkStore measures the store alone: indexed reads should cost the
// same at 1k and 100k users, and group-committed writes (fsync on) are
// what bounds provisioning throughput. Run with -cpu to vary writers.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 100000} {
		st, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := store.Bootstrap(ctx, st, "Bench-pass-123!"); err != nil {
			b.Fatal(err)
		}
		ids := storetest.Seed(b, st, n)
		b.Run(fmt.Sprintf("UserByID/users=%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					must(b, st.View(ctx, func(tx store.Tx) error { _, err := tx.User(ids[rand.IntN(n)]); return err }))
				}
			})
		})
		b.Run(fmt.Sprintf("UserByLogin/users=%d", n), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					must(b, st.View(ctx, func(tx store.Tx) error { _, err := tx.UserByLogin(fmt.Sprintf("user%d", rand.IntN(n))); return err }))
				}
			})
		})
		audited := store.Audited(st, nil)
		b.Run(fmt.Sprintf("ToggleActive/users=%d", n), func(b *testing.B) {
			b.SetParallelism(32) // 64 writers on 2 CPUs, as the load test
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := ids[rand.IntN(n)]
					err := audited.Update(ctx, func(tx store.Tx) error {
						u, err := tx.User(id)
						if err != nil {
							return err
						}
						if u.Active {
							_, err = store.Deactivate(tx, "", u, false)
						} else {
							_, err = store.Reactivate(tx, u)
						}
						return err
					})
					if err != nil {
						b.Error(err)
					}
				}
			})
		})
		var k atomic.Int64
		b.Run(fmt.Sprintf("NewUser/users=%d", n), func(b *testing.B) {
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := audited.Update(ctx, func(tx store.Tx) error {
						_, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("new%d-%d", n, k.Add(1)), Active: true, Managed: true})
						return err
					})
					if err != nil {
						b.Error(err)
					}
				}
			})
		})
		// Half the creates refused (a login taken, as an IdP's retries
		// meet): a refused writer rolls back the shared transaction and
		// the others run again without it.
		b.Run(fmt.Sprintf("NewUserHalfRefused/users=%d", n), func(b *testing.B) {
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := k.Add(1)
					login := fmt.Sprintf("half%d-%d", n, i)
					if i%2 == 0 {
						login = "user0" // seeded
					}
					err := audited.Update(ctx, func(tx store.Tx) error {
						_, err := store.NewUser(tx, store.User{Login: login, Active: true, Managed: true})
						return err
					})
					if (err != nil) != (i%2 == 0) {
						b.Errorf("create %s: %v", login, err)
					}
				}
			})
		})
		// A lone writer commits at once (the group commit waits on no timer):
		// ns/op is the latency of one durable write.
		b.Run(fmt.Sprintf("LoneWriter/users=%d", n), func(b *testing.B) {
			for b.Loop() {
				err := audited.Update(ctx, func(tx store.Tx) error {
					_, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("lone%d-%d", n, k.Add(1)), Active: true, Managed: true})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		st.Close()
	}
}
