package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/postgres"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
)

// TestBackgroundWriteGivesUp: a last-connection write that the database
// does not let through (here a lock held on the user's row by another
// session; in production a database that stopped answering) gives up after
// WriteTimeout and says so, so that Wait, which a shutdown calls before it
// closes the store, returns.
func TestBackgroundWriteGivesUp(t *testing.T) {
	store.PasswordCost = bcrypt.MinCost
	url := pgtest.Start(t).NewDatabase(t)
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, _, err := store.Bootstrap(ctx, st, adminPW); err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close(ctx) })
	if _, err := holder.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if tag, err := holder.Exec(ctx, "SELECT 1 FROM users WHERE login = 'admin' FOR UPDATE"); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("locking admin's row: %v %v", tag, err)
	}

	a := auth.New(st, store.Policy{}, nil)
	a.WriteTimeout = 300 * time.Millisecond
	var mu sync.Mutex
	var heard []error
	a.OnError = func(err error) { mu.Lock(); heard = append(heard, err); mu.Unlock() }
	if _, err := a.Authenticate(ctx, auth.Credentials{Header: basic("admin", adminPW), IP: loopback}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	start := time.Now()
	go func() { a.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Wait still waits 20 s after a write that cannot land")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || !errors.Is(heard[0], store.ErrUnavailable) && !errors.Is(heard[0], context.DeadlineExceeded) {
		t.Fatalf("OnError heard %v, want one failure of the write", heard)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Errorf("Wait returned after %v: the write did not wait for the lock", waited)
	}
	if _, err := holder.Exec(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}
