package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
	"github.com/scimgate/scimgate/store/storetest"
)

// A View's COMMIT goes with the next transaction on its connection
// (conns.go): the connection waits in its transaction a moment, yet the
// next View on it reads a new snapshot, which holds every write
// acknowledged before it began, through any replica; and on an idle
// replica no transaction stays open.
func TestViewCommitRidesWithTheNext(t *testing.T) {
	url := pgtest.URL(t)
	reader, writer := openAt(t, url), openAt(t, url)
	watch := connect(t, url)
	waiting := func() int {
		t.Helper()
		var n int
		if err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'scimgate' AND state = 'idle in transaction'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	u := storetest.MkUser(t, writer, "reader-sees-this")
	seen := 0
	for i := range 50 {
		storetest.View(t, reader, func(tx store.Tx) error {
			got, err := tx.User(u.ID)
			if err == nil && got.Name != fmt.Sprint("name ", i) && i > 0 {
				t.Errorf("round %d: the view read name %q, written before it began as %q", i, got.Name, fmt.Sprint("name ", i))
			}
			return err
		})
		if waiting() > 0 {
			seen++
		}
		// Through the other replica, while the reader's connection may
		// still hold its transaction open.
		storetest.Update(t, writer, func(tx store.Tx) error {
			cur, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			cur.Name = fmt.Sprint("name ", i+1)
			return tx.PutUser(cur)
		})
	}
	if seen == 0 {
		t.Error("no view's connection was ever seen waiting in its transaction: the COMMIT does not wait for the next one")
	}
	deadline := time.Now().Add(5 * time.Second)
	for waiting() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("transactions stay open on an idle replica")
		}
		time.Sleep(10 * time.Millisecond)
	}
	storetest.View(t, reader, func(tx store.Tx) error { _, err := tx.User(u.ID); return err })
	closed := make(chan struct{})
	go func() { reader.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs on a connection set aside")
	}
}

// Views, writes and generation reads at once on a pool of two connections
// (one for transactions, one for the generation) all finish, and every
// write is read back.
func TestConnectionsUnderPressure(t *testing.T) {
	for _, pool := range []int{1, 2, 3} {
		t.Run(fmt.Sprint("pool=", pool), func(t *testing.T) {
			s := openAt(t, pgtest.URL(t)+fmt.Sprint("&pool_max_conns=", pool))
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for g := range 16 {
				wg.Go(func() {
					for i := range 20 {
						var err error
						switch i % 3 {
						case 0:
							err = s.Update(ctx, func(tx store.Tx) error {
								_, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("p%d-%d", g, i), Active: true})
								return err
							})
						case 1:
							err = s.View(ctx, func(tx store.Tx) error {
								_, err := tx.UserByLogin(fmt.Sprintf("p%d-%d", g, i-1))
								return err
							})
						default:
							s.Generation()
						}
						if err != nil {
							errs <- fmt.Errorf("goroutine %d, step %d: %w", g, i, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			storetest.View(t, s, func(tx store.Tx) error {
				for g := range 16 {
					for i := 0; i < 20; i += 3 {
						if _, err := tx.UserByLogin(fmt.Sprintf("p%d-%d", g, i)); err != nil {
							return fmt.Errorf("p%d-%d: %w", g, i, err)
						}
					}
				}
				return nil
			})
		})
	}
}
