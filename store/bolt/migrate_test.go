package bolt

import (
	"context"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/scimgate/scimgate/store"
)

// A store that kept the default group's memberships as rows is migrated on
// open: the rows go, the active-user count comes.
func TestMigrateDefaultGroupRows(t *testing.T) {
	path := t.TempDir() + "/old.db"
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := store.Bootstrap(ctx, s, "Gate-keeper-123!"); err != nil {
		t.Fatal(err)
	}
	// Write what an earlier version wrote: rows for admin, no count.
	err = s.db.Update(func(btx *bbolt.Tx) error {
		t := &tx{tx: btx}
		admin, err := t.UserByLogin("admin")
		if err != nil {
			return err
		}
		def := t.defaultGroup()
		if err := t.b(bMembers).Put(key(def, admin.ID), nil); err != nil {
			return err
		}
		if err := t.b(bMemberOf).Put(key(admin.ID, def), nil); err != nil {
			return err
		}
		return t.b(bCounts).Delete(activeKey)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.View(ctx, func(st store.Tx) error {
		t2 := st.(*tx)
		def := t2.defaultGroup()
		if n := countPrefix(t2.b(bMembers), def); n != 0 {
			t.Errorf("%d default-group rows left", n)
		}
		if n, _ := store.CountMembers(st, def); n != 1 {
			t.Errorf("CountMembers(default) = %d, want 1", n)
		}
		var groups []string
		admin, _ := st.UserByLogin("admin")
		for g := range store.GroupsOf(st, admin.ID) {
			groups = append(groups, g)
		}
		if len(groups) != 2 || groups[0] != def {
			t.Errorf("GroupsOf(admin) = %v: want the default group once, then sonar-administrators", groups)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
