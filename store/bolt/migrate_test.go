package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"
	"time"

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
		if n, err := store.CountMembers(st, def); err != nil || n != 1 {
			t.Errorf("CountMembers(default) = %d, want 1 (err %v)", n, err)
		}
		var groups []string
		admin, err := st.UserByLogin("admin")
		if err != nil {
			t.Fatal(err)
		}
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

// A store written before the n-gram index existed gets it on open.
func TestMigrateGrams(t *testing.T) {
	path := t.TempDir() + "/old.db"
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var id string
	if err := s.Update(ctx, func(tx store.Tx) error {
		u, err := store.NewUser(tx, store.User{Login: "grace.hopper", Name: "Grace Hopper", Email: "grace@navy.mil", Active: true})
		id = u.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// What an earlier version wrote: no index, no mark.
	if err := s.db.Update(func(btx *bbolt.Tx) error {
		if err := btx.DeleteBucket(bucketNames[bUserGram]); err != nil {
			return err
		}
		return btx.Bucket(bucketNames[bCounts]).Delete(gramsKey)
	}); err != nil {
		t.Fatal(err)
	}
	findAfterReopen(t, s, path, map[string][]string{"hopper": {id}, "race.h": {id}, "navy": {id}})
}

// findAfterReopen closes s, opens path again (which migrates it), indexes
// the users left pending and checks that the trigrams of each query find
// exactly its users. It returns the store opened, closed when the test ends.
func findAfterReopen(t *testing.T, s *Store, path string, want map[string][]string) *Store {
	t.Helper()
	s.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.IndexGrams(); err != nil {
		t.Fatal(err)
	}
	for q, ids := range want {
		if err := s.View(context.Background(), func(tx store.Tx) error {
			if got := slices.Collect(tx.IDsWithGrams(store.QueryGrams(q))); !slices.Equal(got, ids) {
				t.Errorf("after migration, the trigrams of %q find %v, want %v", q, got, ids)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// A version 1 index (login, name and e-mail) gets the trigrams of the other
// SCIM e-mail addresses on open, for indexed users and for users left
// pending with a version 1 record alike.
func TestMigrateGramsEmails(t *testing.T) {
	path := t.TempDir() + "/v1.db"
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	emails := func(home string) json.RawMessage {
		return json.RawMessage(`{"emails":[{"value":"work@corp.example","primary":true},{"value":"` + home + `","type":"home"}]}`)
	}
	var indexed, pending store.User
	if err := s.Update(ctx, func(tx store.Tx) error {
		if indexed, err = store.NewUser(tx, store.User{Login: "indexed", Email: "work@corp.example", SCIM: emails("ada@elsewhere.example"), Active: true}); err != nil {
			return err
		}
		pending, err = store.NewUser(tx, store.User{Login: "pending", Email: "work@corp.example", SCIM: emails("bob@faraway.example"), Active: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexGrams(); err != nil {
		t.Fatal(err)
	}
	s.closing.Do(func() { close(s.stop) }) // no indexer: pending stays pending
	<-s.indexed
	// What version 1 wrote: only the trigrams of login, name and e-mail,
	// and the second user pending after a rename, with a version 1 record.
	if err := s.db.Update(func(btx *bbolt.Tx) error {
		t := &tx{tx: btx}
		for _, u := range []store.User{indexed, pending} {
			t.moveGrams(u.ID, store.UserGrams(u), store.Grams([]string{u.Login, u.Name, u.Email}))
		}
		if err := t.flushGrams(); err != nil {
			return err
		}
		renamed := pending
		renamed.Login = "pending2"
		if err := t.PutUser(renamed); err != nil {
			return err
		}
		record := []byte{1}
		for _, f := range []string{pending.Login, pending.Name, pending.Email} {
			record = binary.AppendUvarint(record, uint64(len(f)))
			record = append(record, f...)
		}
		pending = renamed
		if err := t.b(bGramPending).Put([]byte(pending.ID), record); err != nil {
			return err
		}
		return t.b(bCounts).Put(gramsKey, []byte{1})
	}); err != nil {
		t.Fatal(err)
	}
	s = findAfterReopen(t, s, path, map[string][]string{"elsewhere": {indexed.ID}, "faraway": {pending.ID}, "pending2": {pending.ID},
		"@corp.ex": {indexed.ID, pending.ID}})
	if p, entries := pendingCount(t, s, pending.ID); p != 0 || entries != len(store.UserGrams(pending)) {
		t.Errorf("%d users pending, %d entries of the renamed user, want 0 and %d", p, entries, len(store.UserGrams(pending)))
	}
}

// pendingCount counts the users waiting for the n-gram indexer, and the
// index entries of id.
func pendingCount(t *testing.T, s *Store, id string) (pending, entries int) {
	t.Helper()
	if err := s.db.View(func(btx *bbolt.Tx) error {
		tx := &tx{tx: btx}
		pending = tx.b(bGramPending).Stats().KeyN
		return tx.b(bUserGram).ForEach(func(k, _ []byte) error {
			if bytes.HasSuffix(k, gramID(id)) {
				entries++
			}
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return pending, entries
}

// Writes list users as pending; the indexer moves them into the n-gram
// index by itself, and users left pending at Close are taken up at the
// next Open.
func TestGramIndexer(t *testing.T) {
	path := t.TempDir() + "/s.db"
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var u store.User
	if err := s.Update(ctx, func(tx store.Tx) error {
		u, err = store.NewUser(tx, store.User{Login: "ada", Name: "Ada Lovelace", Email: "ada@engine.uk", Active: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	want := len(store.UserGrams(u))
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending, entries := pendingCount(t, s, u.ID)
		if pending == 0 && entries == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %d users pending, %d of %d entries indexed", pending, entries, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Left pending at Close (the indexer is stopped first): indexed on Open.
	s.closing.Do(func() { close(s.stop) })
	<-s.indexed
	if err := s.Update(ctx, func(tx store.Tx) error {
		u.Name = "Augusta Ada King"
		return tx.PutUser(u)
	}); err != nil {
		t.Fatal(err)
	}
	if pending, _ := pendingCount(t, s, u.ID); pending != 1 {
		t.Fatalf("%d users pending after a rename, want 1", pending)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for deadline = time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		pending, entries := pendingCount(t, s, u.ID)
		if pending == 0 && entries == len(store.UserGrams(u)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a restart, %d users pending, %d entries, want 0 and %d", pending, entries, len(store.UserGrams(u)))
		}
	}
	if err := s.View(ctx, func(tx store.Tx) error {
		if got := slices.Collect(tx.IDsWithGrams(store.QueryGrams("lovelace"))); len(got) != 0 {
			t.Errorf("the old name still finds %v", got)
		}
		if got := slices.Collect(tx.IDsWithGrams(store.QueryGrams("augusta"))); !slices.Equal(got, []string{u.ID}) {
			t.Errorf("the new name finds %v, want [%s]", got, u.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// gramID keeps every id and, among UUIDs as NewID writes them, their order.
func TestGramID(t *testing.T) {
	ids := []string{store.NewID(), store.NewID(), "u1", "", "0190F3A2-0000-7000-8000-000000000000",
		"ff90f3a2-0000-7000-8000-000000000000", "0190f3a2-0000-7000-8000-00000000000g", "0190f3a2x0000-7000-8000-000000000000"}
	for _, id := range ids {
		if got := gramIDString(gramID(id)); got != id {
			t.Errorf("gramID(%q) decodes to %q", id, got)
		}
	}
	if len(gramID(ids[0])) != 16 {
		t.Errorf("a NewID takes %d bytes, want 16", len(gramID(ids[0])))
	}
	if bytes.Compare(gramID(ids[0]), gramID(ids[1])) >= 0 {
		t.Errorf("gramID does not keep the order of %s < %s", ids[0], ids[1])
	}
}
