package store_test

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
)

func basic(login, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+pw))
}

func TestLockout(t *testing.T) {
	store.PasswordCost = bcrypt.MinCost
	st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	const pw = "Admin-pass-123"
	if _, _, err := store.Bootstrap(ctx, st, pw); err != nil {
		t.Fatal(err)
	}
	token := store.NewTokenSecret()
	_ = st.Update(ctx, func(tx store.Tx) error {
		admin, _ := tx.UserByLogin("admin")
		return tx.PutToken(store.Token{Hash: store.HashToken(token), UserID: admin.ID, Name: "t"})
	})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lock := store.NewLockout(3, 10*time.Minute)
	lock.Now = func() time.Time { return now }
	auth := func(header string) error {
		_, err := store.AuthenticateHeader(ctx, st, lock, header)
		return err
	}
	steps := []struct {
		name    string
		advance time.Duration
		header  string
		ok      bool
	}{
		{"right password", 0, basic("admin", pw), true},
		{"failure 1", 0, basic("admin", "x"), false},
		{"failure 2", time.Minute, basic("admin", "x"), false},
		{"success resets the count", 0, basic("admin", pw), true},
		{"failure 1 again", 0, basic("admin", "x"), false},
		{"failure 2 again", 0, basic("admin", "x"), false},
		{"failure 3 locks", 0, basic("admin", "x"), false},
		{"locked: right password refused", time.Minute, basic("admin", pw), false},
		{"tokens are not locked", 0, "Bearer " + token, true},
		{"token as basic login is not locked", 0, basic(token, ""), true},
		{"other logins are not locked", 0, basic("nobody", "x"), false},
		{"still locked before the duration", 8 * time.Minute, basic("admin", pw), false},
		{"unlocked after the duration", 3 * time.Minute, basic("admin", pw), true},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		err := auth(s.header)
		if (err == nil) != s.ok {
			t.Fatalf("%s: err = %v, want ok=%v", s.name, err, s.ok)
		}
		if err != nil && store.ErrorCode(err) != store.EUnauthenticated {
			t.Fatalf("%s: a lock must look like a wrong password, got %v", s.name, err)
		}
	}
	// An administrator can lift a lock at once.
	for i := 0; i < 3; i++ {
		_ = auth(basic("admin", "x"))
	}
	if auth(basic("admin", pw)) == nil {
		t.Fatal("not locked")
	}
	lock.Unlock("admin")
	if err := auth(basic("admin", pw)); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	// Threshold 0 disables the lockout.
	off := store.NewLockout(0, time.Minute)
	for i := 0; i < 10; i++ {
		_, _ = store.AuthenticateHeader(ctx, st, off, basic("admin", "x"))
	}
	if _, err := store.AuthenticateHeader(ctx, st, off, basic("admin", pw)); err != nil {
		t.Fatalf("disabled lockout locked: %v", err)
	}
}
