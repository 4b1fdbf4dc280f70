package bolt_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := bolt.Open(filepath.Join(t.TempDir(), "scimgate.db"))
		if err != nil {
			t.Fatal(err)
		}
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
