// Package bolttest opens bbolt stores for tests, as bbolt's own btesting
// does: a real file in the test's temporary directory, consistency-checked
// and closed when the test ends.
package bolttest

import (
	"errors"
	"path/filepath"
	"testing"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scimgate/scimgate/store/bolt"
)

// MustOpen opens a new store file in t's temporary directory; the test
// fails if it cannot, or if the file does not pass bbolt's consistency check
// when the test ends (unless the test closed the store itself).
func MustOpen(t testing.TB) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "scimgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Check(); err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			t.Errorf("store consistency check: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}
