package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// Seed writes n active managed users (user0..user<n-1>, externalId ext<i>,
// SCIM name and work email) in transactions of 5000 and returns their ids,
// for benchmarks.
func Seed(tb testing.TB, s store.Store, n int) []string {
	tb.Helper()
	ids := make([]string, 0, n)
	for start := 0; start < n; start += 5000 {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			ids = ids[:start] // Update may run fn again: assign, do not accumulate
			for i := start; i < min(start+5000, n); i++ {
				login := fmt.Sprintf("user%d", i)
				u, err := store.NewUser(tx, store.User{Login: login, Name: login, Active: true, Managed: true, ExternalID: fmt.Sprintf("ext%d", i),
					SCIM: []byte(`{"name":{"givenName":"U","familyName":"` + login + `"},"emails":[{"value":"` + login + `@example.com","type":"work","primary":true}]}`)})
				if err != nil {
					return err
				}
				ids = append(ids, u.ID)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	indexGrams(tb, s) // a seed is not the write load measured
	return ids
}

// Deactivate deactivates the users of ids in one Update, as an
// administrator would, failing the test on any error.
func Deactivate(tb testing.TB, s store.Store, ids ...string) {
	tb.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, id := range ids {
			u, err := tx.User(id)
			if err != nil {
				return err
			}
			if _, err := store.Deactivate(tx, "", u, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}
