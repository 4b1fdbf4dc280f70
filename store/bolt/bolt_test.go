package bolt_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
	"github.com/scimgate/scimgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := bolttest.MustOpen(t)
		return s
	})
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "scimgate.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = bolt.Open(path)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open err = %v, want a clear 'locked' error", err)
	}
}

// A hot backup taken during concurrent writes opens as a store whose
// indexes agree with its records and which passes bbolt's consistency check.
func TestBackupConsistentUnderWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := bolt.Open(filepath.Join(dir, "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				must(t, s.Update(ctx, func(tx store.Tx) error {
					_, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("w%d-%d", w, i), Active: true, ExternalID: "x"})
					return err
				}))
			}
		}()
	}
	for b := 0; b < 3; b++ {
		time.Sleep(20 * time.Millisecond)
		path := filepath.Join(dir, fmt.Sprintf("backup%d.db", b))
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Backup(ctx, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		copy, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := copy.DB().View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		}); err != nil {
			t.Errorf("backup %d fails the consistency check: %v", b, err)
		}
		must(t, copy.View(ctx, func(tx store.Tx) error {
			n, err := tx.CountUsers()
			if err != nil {
				return err
			}
			walked := 0
			for _, err := range tx.Users("") {
				if err != nil {
					t.Fatal(err)
				}
				walked++
			}
			us, err := tx.UsersByExternalID("x")
			if err != nil {
				return err
			}
			ext := len(us)
			if n != walked || ext != walked || n == 0 {
				t.Errorf("backup %d: count %d, records %d, externalId index %d", b, n, walked, ext)
			}
			return nil
		}))
		copy.Close()
	}
	close(stop)
	wg.Wait()
}

// must fails the test (or benchmark) on err; safe from any goroutine.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}

// Concurrent writers' changes are each counted, in no more commits than
// changes (the group commit usually shares them; the conformance case
// WriteStats checks lone writes and the time committing).
func TestWriteStats(t *testing.T) {
	s := bolttest.MustOpen(t)
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			storetest.MkUser(t, s, fmt.Sprintf("c%d", i))
		}()
	}
	wg.Wait()
	w := s.WriteStats()
	if w.Changes != 64 || w.Commits < 1 || w.Commits > 64 {
		t.Fatalf("after 64 concurrent writers: %d changes, %d commits; want 64 changes in 1 to 64 commits", w.Changes, w.Commits)
	}
	t.Logf("64 concurrent writers: %d commits", w.Commits)
}
