package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
)

var ctx = context.Background()

// Finding 3: audit entries are bounded, and one caller's refusals are
// limited to a burst a minute with the rest counted.
func TestAuditBounded(t *testing.T) {
	st := bolttest.MustOpen(t)
	s := store.Audited(st, nil)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	setClock(t, func() time.Time { return clock })
	actx := store.WithActor(ctx, store.Actor{Login: "mallory", API: "webapi", Op: "api/users/change_password"})

	if err := store.RecordRefusal(actx, s, "user", strings.Repeat("x", 1<<20), strings.Repeat("m", 1<<20)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 99; i++ {
		if err := store.RecordRefusal(actx, s, "user", "victim", "nope"); err != nil {
			t.Fatal(err)
		}
	}
	entries := auditOf(t, s)
	if len(entries) != 20 {
		t.Fatalf("%d refusals recorded in one minute, want 20", len(entries))
	}
	big := entries[len(entries)-1]
	if len([]rune(big.Name)) != 255 || len([]rune(big.Detail)) != 1024 || !big.Truncated {
		t.Errorf("oversized entry kept: name %d runes, detail %d runes, truncated %v", len([]rune(big.Name)), len([]rune(big.Detail)), big.Truncated)
	}
	// A minute later the next refusal is recorded with the count left out.
	clock = clock.Add(time.Minute)
	if err := store.RecordRefusal(actx, s, "user", "victim", "nope"); err != nil {
		t.Fatal(err)
	}
	entries = auditOf(t, s)
	if len(entries) != 21 || entries[0].Detail != "nope (and 80 more refusals of this caller not recorded)" {
		t.Errorf("after the window: %d entries, newest %q", len(entries), entries[0].Detail)
	}
	// Another caller is not limited by mallory's refusals.
	other := store.WithActor(ctx, store.Actor{Login: "alice", API: "webapi"})
	if err := store.RecordRefusal(other, s, "user", "x", "no"); err != nil {
		t.Fatal(err)
	}
	if n := len(auditOf(t, s)); n != 22 {
		t.Errorf("another caller's refusal: %d entries, want 22", n)
	}
}

func auditOf(t *testing.T, s store.Store) []store.AuditEntry {
	t.Helper()
	var out []store.AuditEntry
	err := s.View(ctx, func(tx store.Tx) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setClock replaces store.Now, scimgate's one clock, for the rest of t.
func setClock(t *testing.T, now func() time.Time) {
	t.Helper()
	old := store.Now
	store.Now = now
	t.Cleanup(func() { store.Now = old })
}
