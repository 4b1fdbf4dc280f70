package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/postgres"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
	"github.com/scimgate/scimgate/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

// open opens a store on a new database; it is closed when t ends.
func open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}
