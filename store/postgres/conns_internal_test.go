package postgres

import (
	"context"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

// A transaction that sends nothing on a connection set aside ends the
// transaction it found there, rather than setting it aside again with a
// new time: a stream of such transactions would keep one snapshot open for
// ever.
func TestNothingSentEndsTheTransactionFound(t *testing.T) {
	s := openStore(t)
	u := storetest.MkUser(t, s, "snapshot")
	ctx := context.Background()
	for _, begin := range []string{beginRead, beginWrite} {
		found := false
		for try := 0; try < 20 && !found; try++ {
			storetest.View(t, s, func(tx store.Tx) error { _, err := tx.User(u.ID); return err })
			conn, commitFirst, err := s.conns.acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found = commitFirst // else the sweeper was first: try again
			s.release(newTx(ctx, conn, begin, commitFirst))
		}
		if !found {
			t.Fatal("no connection was found set aside after a view")
		}
		if n := len(s.conns.aside); n != 0 {
			t.Errorf("%s: %d connections set aside again after a transaction that sent nothing", begin, n)
		}
	}
}
