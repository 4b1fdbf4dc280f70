package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/postgres"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
	"github.com/scimgate/scimgate/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

// open opens a store on a new database; it is closed when t ends.
func open(t *testing.T) *postgres.Store { return openAt(t, pgtest.URL(t)) }

// openAt opens a store (a replica) on the database of url; it is closed
// when t ends.
func openAt(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connect opens a plain connection to the database of url, for what the
// store does not offer; it is closed when t ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}

// Results longer than a page go on through a server-side cursor: the order
// holds across pages, the caller may stop early, and other queries of the
// transaction may run between rows.
func TestCursorPaging(t *testing.T) {
	s := open(t)
	const n = 450
	storetest.Update(t, s, func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("u%03d", n-1-i), Active: true}); err != nil {
				return err
			}
		}
		return nil
	})
	storetest.View(t, s, func(tx store.Tx) error {
		var logins []string
		for u := range storetest.All(t, tx.UsersByLogin()) {
			again, err := tx.User(u.ID) // a query between rows of the cursor
			if err != nil || again.Login != u.Login {
				t.Fatalf("User(%s) between rows: %+v, %v", u.ID, again, err)
			}
			logins = append(logins, u.Login)
		}
		if len(logins) != n || !slices.IsSorted(logins) {
			t.Fatalf("UsersByLogin yielded %d logins, sorted %v; want %d sorted", len(logins), slices.IsSorted(logins), n)
		}
		seen := 0
		for range storetest.All(t, tx.Users("")) {
			if seen++; seen == 300 {
				break // stop inside the second page
			}
		}
		if c, err := tx.CountActiveUsers(); err != nil || c != n {
			t.Fatalf("after stopping a cursor early: CountActiveUsers = %d, %v", c, err)
		}
		return nil
	})
	// In a write: a cursor after a queued write, and a write between pages.
	storetest.Update(t, s, func(tx store.Tx) error {
		if err := tx.PutFailures("x", store.Failures{Count: 1, Last: store.Now()}); err != nil {
			return err
		}
		seen := 0
		for range storetest.All(t, tx.Users("")) {
			if seen++; seen == 250 {
				if err := tx.PutFailures("y", store.Failures{Count: 2, Last: store.Now()}); err != nil {
					return err
				}
			}
		}
		if seen != n {
			t.Errorf("Users in a write yielded %d, want %d", seen, n)
		}
		return nil
	})
	storetest.View(t, s, func(tx store.Tx) error {
		for login, want := range map[string]int{"x": 1, "y": 2} {
			if f, err := tx.Failures(login); err != nil || f.Count != want {
				t.Errorf("Failures(%s) = %+v, %v; want count %d", login, f, err, want)
			}
		}
		return nil
	})
}

// Concurrent read-modify-write transactions on one row: serialization
// failures are retried, so no update is lost.
func TestSerializableRetries(t *testing.T) {
	s := open(t)
	u := storetest.MkUser(t, s, "counter")
	const n = 20
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Update(ctx, func(tx store.Tx) error {
				cur, err := tx.User(u.ID)
				if err != nil {
					return err
				}
				cur.Name += "x"
				return tx.PutUser(cur)
			})
			if err != nil {
				t.Errorf("update: %v", err)
			}
		}()
	}
	wg.Wait()
	storetest.View(t, s, func(tx store.Tx) error {
		got, err := tx.User(u.ID)
		if want := "counter" + strings.Repeat("x", n); err != nil || got.Name != want {
			t.Errorf("after %d concurrent appends: %q, %v; want %q", n, got.Name, err, want)
		}
		return nil
	})
}

// Replicas opening one database at once migrate it once; a schema newer
// than this build is refused with a message that says what to do.
func TestMigrations(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(ctx, url)
			if err != nil {
				t.Errorf("concurrent open: %v", err)
				return
			}
			s.Close()
		}()
	}
	wg.Wait()
	conn := connect(t, url)
	var versions, version int
	if err := conn.QueryRow(ctx, `SELECT count(*), max(version) FROM schema_version`).Scan(&versions, &version); err != nil || versions != 1 || version < 1 {
		t.Fatalf("schema_version: %d rows, version %d, %v", versions, version, err)
	}
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = 999`); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, url); err == nil || !strings.Contains(err.Error(), "upgrade scimgate") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

// A database of schema version 3 (before the n-gram column and the login's
// hash index) is migrated on open: the column and the indexes come, and
// the users already stored are found by their trigrams. One of schema
// version 7 (trigrams of login, name and e-mail only) gets those of the
// other SCIM e-mail addresses.
func TestMigrateGrams(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var grace, ada store.User
	storetest.Update(t, s, func(tx store.Tx) error {
		if grace, err = store.NewUser(tx, store.User{Login: "grace.hopper", Name: "Grace Hopper", Email: "grace@navy.mil", Active: true}); err != nil {
			return err
		}
		ada, err = store.NewUser(tx, store.User{Login: "ada", Email: "ada@corp.example", Active: true,
			SCIM: json.RawMessage(`{"emails":[{"value":"ada@corp.example","primary":true},{"value":"ada@elsewhere.example"}]}`)})
		return err
	})
	s.Close()
	conn := connect(t, url)
	find := func(when string, want map[string]string) {
		t.Helper()
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for q, id := range want {
			storetest.View(t, s, func(tx store.Tx) error {
				if got := slices.Collect(tx.IDsWithGrams(store.QueryGrams(q))); !slices.Equal(got, []string{id}) {
					t.Errorf("%s, the trigrams of %q find %v, want [%s]", when, q, got, id)
				}
				return nil
			})
		}
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE users DROP COLUMN grams; DROP INDEX users_login_hash;
		CREATE INDEX users_active ON users (id) WHERE active; UPDATE schema_version SET version = 3;`+undoCounts); err != nil {
		t.Fatal(err)
	}
	find("after migration from version 3", map[string]string{"hopper": grace.ID, "race.h": grace.ID, "navy": grace.ID, "elsewhere": ada.ID})
	if _, err := conn.Exec(ctx, `UPDATE users SET grams = $1 WHERE id = $2`, store.Grams([]string{ada.Login, ada.Name, ada.Email}), ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = 7;`+undoCounts); err != nil {
		t.Fatal(err)
	}
	find("after migration from version 7", map[string]string{"elsewhere": ada.ID, "navy": grace.ID, "@corp": ada.ID})
}

// undoCounts takes a schema back to before migration 9 (user_counts).
const undoCounts = `DROP TRIGGER users_count ON users; DROP FUNCTION count_users(); DROP TABLE user_counts`

// The users' counts come from user_counts (migration 9), which starts
// with the users stored before it and then follows every change made
// through any connection of any replica: after concurrent creates and
// deactivations through two stores they equal what counting the rows
// gives, and the slots stay few.
func TestUserCounts(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		u := storetest.MkUser(t, s, fmt.Sprintf("before%d", i))
		if i < 2 {
			storetest.Deactivate(t, s, u.ID)
		}
	}
	s.Close()
	conn := connect(t, url)
	if _, err := conn.Exec(ctx, `UPDATE schema_version SET version = 8;`+undoCounts); err != nil {
		t.Fatal(err)
	}
	check := func(when string, stores ...*postgres.Store) {
		t.Helper()
		var total, active, managed int
		if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE active), count(*) FILTER (WHERE managed) FROM users`).Scan(&total, &active, &managed); err != nil {
			t.Fatal(err)
		}
		for _, s := range stores {
			storetest.View(t, s, func(tx store.Tx) error {
				n, err := tx.CountUsers()
				if err != nil {
					return err
				}
				a, err := tx.CountActiveUsers()
				if err != nil {
					return err
				}
				m, err := tx.CountManagedUsers()
				if err != nil {
					return err
				}
				if n != total || a != active || m != managed {
					t.Errorf("%s: counts %d users, %d active, %d managed; the rows say %d, %d, %d", when, n, a, m, total, active, managed)
				}
				return nil
			})
		}
	}
	// A replica not upgraded yet keeps deactivating and reactivating a
	// user while this one migrates: no change is lost to the counts.
	toggler := connect(t, url)
	var id string
	if err := conn.QueryRow(ctx, `SELECT id FROM users WHERE login = 'before4'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	stop, toggled := make(chan struct{}), make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				toggled <- nil
				return
			default:
			}
			if _, err := toggler.Exec(ctx, `UPDATE users SET active = NOT active WHERE id = $1`, id); err != nil {
				toggled <- err
				return
			}
		}
	}()
	a, err := postgres.Open(ctx, url)
	close(stop)
	if err := <-toggled; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	check("after the migration", a)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []*postgres.Store{a, b}[w%2]
			for i := range 15 {
				err := s.Update(ctx, func(tx store.Tx) error {
					u, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("w%d-%d", w, i), Active: true, Managed: i%3 == 0})
					if err != nil || i%2 == 0 {
						return err
					}
					_, err = store.SetActive(tx, "", u, false)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	check("after concurrent writes through two replicas", a, b)
	var slots int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM user_counts`).Scan(&slots); err != nil || slots > 1024 {
		t.Errorf("%d slots (%v), want at most 1024", slots, err)
	}
}

// Deactivating and reactivating a user changes no indexed column
// (migration 6): PostgreSQL rewrites the row in place, touching none of
// the nine indexes of users.
func TestActivityChangesAreHeapOnly(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u := storetest.MkUser(t, s, "grace")
	for _, active := range []bool{false, true, false} {
		storetest.Update(t, s, func(tx store.Tx) error {
			cur, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			_, err = store.SetActive(tx, "", cur, active)
			return err
		})
	}
	// A backend reports its statistics when it exits, if not before.
	s.Close()
	conn := connect(t, url)
	var updates, hot int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err := conn.QueryRow(ctx, `SELECT pg_stat_clear_snapshot(), n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'users'`).Scan(nil, &updates, &hot); err != nil {
			t.Fatal(err)
		}
		if updates >= 3 {
			break
		}
	}
	if updates < 3 || hot != updates {
		t.Errorf("users: %d updates, %d of them heap-only; want at least 3, all heap-only", updates, hot)
	}
}

// Lookups of a login by equality go through the hash index (migration 5),
// so that serializable creates of neighbouring logins do not conflict on
// a B-tree page; prefix searches keep the B-tree.
func TestLoginLookupsByHash(t *testing.T) {
	url := pgtest.URL(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 200 {
		storetest.MkUser(t, s, fmt.Sprintf("user%d", i))
	}
	conn := connect(t, url)
	if _, err := conn.Exec(ctx, `ANALYZE users; SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ query, index string }{
		{`SELECT id, login FROM users WHERE skeleton = 'user7' AND (login_fold = 'user7' OR id <> 'x')`, "users_skeleton"},
		{`SELECT id FROM users WHERE login_fold = 'user7'`, "users_login_hash"},
		{`SELECT id FROM users WHERE login_fold >= 'user7' AND login_fold < 'user8' ORDER BY login_fold`, "users_login_fold_key"},
	} {
		var plan string
		if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+tc.query).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, `"Index Name": "`+tc.index+`"`) {
			t.Errorf("%s: plan without %s: %s", tc.query, tc.index, plan)
		}
	}
}

// A create's login check reads one index, the skeleton's hash index: what
// a serializable transaction reads it locks (a hash bucket), and every
// concurrent create writes a bucket of each login index, so reading the
// login's own index too doubled the conflicts between concurrent creates.
// The skeleton index leaves free three quarters of its buckets (migration
// 7), so that a store's creates spread over four times the buckets.
func TestCreateLocksOneLoginIndex(t *testing.T) {
	url := pgtest.URL(t)
	s := openAt(t, url)
	storetest.MkUser(t, s, "grace")
	conn := connect(t, url)
	var fillfactor string
	if err := conn.QueryRow(ctx, `SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = 'users_skeleton'`).Scan(&fillfactor); err != nil {
		t.Fatal(err)
	}
	if fillfactor != "fillfactor=25" {
		t.Errorf("users_skeleton options %q, want fillfactor=25", fillfactor)
	}
	checked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(ctx, func(tx store.Tx) error {
			if _, err := store.NewUser(tx, store.User{Login: "ada", Name: "Ada", Active: true, Local: true}); err != nil {
				return err
			}
			close(checked)
			<-release
			return nil
		})
	}()
	<-checked
	rows, err := conn.Query(ctx, `SELECT locktype || ' ' || relation::regclass::text FROM pg_locks WHERE mode = 'SIReadLock' AND relation IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	close(release)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Exactly one page of one index: not the login's indexes, nor the
	// whole table (a sequential scan, which the former query of two
	// lookups got on a small table, conflicts with every create).
	if want := []string{"page users_skeleton"}; !slices.Equal(locked, want) {
		t.Errorf("a create's transaction holds read locks on %q, want %q", locked, want)
	}
}

// With every connection of the pool taken, a caller waits only as long as
// its context allows; the store works again once one is free.
func TestPoolExhaustion(t *testing.T) {
	s, err := postgres.Open(ctx, pgtest.URL(t)+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.PoolSize() != 1 {
		t.Fatalf("PoolSize = %d, want 1", s.PoolSize())
	}
	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- s.View(ctx, func(store.Tx) error { close(held); <-release; return nil })
	}()
	<-held
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := s.View(short, func(store.Tx) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("View with the pool exhausted: %v, want the context's deadline", err)
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatalf("the View holding the connection: %v", err)
	}
	storetest.MkUser(t, s, "after")
}

// Concurrent callers of Generation share queries, yet each sees every
// write acknowledged before it asked, through this replica or another, and
// the value never goes back.
func TestGenerationShared(t *testing.T) {
	url := pgtest.URL(t)
	s, other := openAt(t, url), openAt(t, url) // two replicas of one database
	if s.Generation() >= 1<<63 {
		t.Fatal("Generation on a reachable database returned a missed value")
	}
	conn := connect(t, url)
	var acked atomic.Uint64 // the generation after the last acknowledged write
	done := make(chan struct{})
	var readers sync.WaitGroup
	var calls atomic.Int64
	for range 16 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				floor := acked.Load()
				g := s.Generation()
				calls.Add(1)
				if g < floor || g < last {
					t.Errorf("Generation = %d after a write acknowledged at %d (previous answer %d)", g, floor, last)
					return
				}
				last = g
			}
		}()
	}
	// At least 50 writes, and as many more as it takes for the readers to
	// have asked 100 times (a slow machine schedules them late).
	i := 0
	for ; (i < 50 || calls.Load() < 100) && i < 5000; i++ {
		w := []*postgres.Store{s, other}[i%2]
		if err := w.Update(ctx, func(tx store.Tx) error {
			return tx.Grant(store.GroupSubject("gen"), store.Global(fmt.Sprint(i))) // moves the generation
		}); err != nil {
			t.Fatal(err)
		}
		var g int64
		if err := conn.QueryRow(ctx, `SELECT last_value FROM generation`).Scan(&g); err != nil {
			t.Fatal(err)
		}
		acked.Store(uint64(g))
	}
	close(done)
	readers.Wait()
	if calls.Load() < 100 {
		t.Fatalf("%d calls of Generation during %d writes, want more", calls.Load(), i)
	}
}

// Writes go to the database with the transaction's next statement or its
// COMMIT: a later read sees them, an error of fn discards them, and a write
// the database refuses fails the statement it went with, or the commit,
// and stores nothing of the transaction, on a connection that stays usable.
func TestQueuedWrites(t *testing.T) {
	url := pgtest.URL(t)
	s, conn := openAt(t, url), connect(t, url)
	if _, err := conn.Exec(ctx, `ALTER TABLE failures ADD CONSTRAINT small CHECK (count < 1000)`); err != nil {
		t.Fatal(err)
	}
	now := store.Now()
	failures := func(login string) store.Failures {
		t.Helper()
		var f store.Failures
		storetest.View(t, s, func(tx store.Tx) error {
			var err error
			f, err = tx.Failures(login)
			return err
		})
		return f
	}

	// Writes only: they go with the COMMIT.
	storetest.Update(t, s, func(tx store.Tx) error { return tx.PutFailures("a", store.Failures{Count: 1, Last: now}) })
	if f := failures("a"); f.Count != 1 {
		t.Fatalf("a write sent with the commit: %+v", f)
	}
	// A write, then a read in the same transaction.
	storetest.Update(t, s, func(tx store.Tx) error {
		if err := tx.PutFailures("b", store.Failures{Count: 2, Last: now}); err != nil {
			return err
		}
		if f, err := tx.Failures("b"); err != nil || f.Count != 2 {
			t.Errorf("read after a queued write: %+v, %v", f, err)
		}
		return nil
	})
	// fn's error discards what it queued.
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutFailures("c", store.Failures{Count: 3, Last: now}); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if f := failures("c"); f.Count != 0 {
		t.Fatalf("a write of a transaction fn failed was stored: %+v", f)
	}
	// Refused at the commit, and refused before a read.
	for _, readAfter := range []bool{false, true} {
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.PutFailures("d", store.Failures{Count: 4, Last: now}); err != nil {
				return err
			}
			if err := tx.PutFailures("e", store.Failures{Count: 5000, Last: now}); err != nil {
				return err
			}
			if readAfter {
				_, err := tx.Failures("a")
				return err
			}
			return nil
		})
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23514" {
			t.Fatalf("read after %v: Update = %v, want the check violation", readAfter, err)
		}
		if f := failures("d"); f.Count != 0 {
			t.Fatalf("read after %v: a write of a failed transaction was stored: %+v", readAfter, f)
		}
	}
	storetest.Update(t, s, func(tx store.Tx) error { return tx.PutFailures("f", store.Failures{Count: 6, Last: now}) })
	if f := failures("f"); f.Count != 6 {
		t.Fatalf("after refused commits: %+v", f)
	}
}

// Connections the server drops (a failover, an administrator's
// pg_terminate_backend) fail what ran on them with ErrUnavailable, and the
// pool replaces them: the store recovers by itself.
func TestConnectionLoss(t *testing.T) {
	url := pgtest.URL(t)
	s := openAt(t, url)
	storetest.MkUser(t, s, "before")
	conn := connect(t, url)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'scimgate' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	var last error
	for i := 0; i < 10; i++ {
		last = s.Update(ctx, func(tx store.Tx) error {
			_, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("after%d", i), Active: true})
			return err
		})
		if last == nil {
			break
		}
		if store.ErrorCode(last) != store.EUnavailable {
			t.Fatalf("write on a dropped connection: %v, want ErrUnavailable", last)
		}
	}
	if last != nil {
		t.Fatalf("the store did not recover: %v", last)
	}
}

// PostgreSQL's text cannot hold NUL: what a refused request carries (a
// login with a NUL byte, say) is recorded with the byte replaced, not lost
// with an error.
func TestNULInAudit(t *testing.T) {
	s := store.Audited(open(t), nil)
	actx := store.WithActor(ctx, store.Actor{Login: "mallory\x00", API: "scim", Op: "POST /Users"})
	if err := store.RecordRefusal(actx, s, "user", "a\x00b", "bad\x00login"); err != nil {
		t.Fatal(err)
	}
	storetest.View(t, s, func(tx store.Tx) error {
		for e := range storetest.All(t, tx.Audit()) {
			if e.Name != "a\uFFFDb" || e.Actor != "mallory\uFFFD" || e.Detail != "bad\uFFFDlogin" {
				t.Errorf("recorded %+v", e)
			}
		}
		return nil
	})
}

// A lookup of a key with a NUL finds nothing (instead of failing the
// transaction), and a write of one is invalid.
func TestNULLookups(t *testing.T) {
	s := open(t)
	storetest.MkUser(t, s, "ada")
	storetest.View(t, s, func(tx store.Tx) error {
		if _, err := tx.UserByLogin("a\x00da"); !store.IsNotFound(err) {
			t.Errorf("UserByLogin with a NUL: %v", err)
		}
		if us, err := tx.UsersByExternalID("x\x00"); err != nil || len(us) != 0 {
			t.Errorf("UsersByExternalID with a NUL: %v %v", us, err)
		}
		if f, err := tx.Failures("a\x00"); err != nil || f.Count != 0 {
			t.Errorf("Failures with a NUL: %+v %v", f, err)
		}
		if _, err := tx.UserByLogin("ada"); err != nil {
			t.Errorf("the transaction broke after a NUL lookup: %v", err)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.PutOrganization(store.Organization{Key: "o\x00"}) })
	if store.ErrorCode(err) != store.EInvalid {
		t.Fatalf("writing a NUL: %v, want EInvalid", err)
	}
}

// A login's confusable skeleton can be far longer than the login (Hangul
// syllables decompose: 255 of them make 3-5 kB), beyond what a B-tree entry
// holds (about 2.7 kB after compression); the skeleton's hash index takes
// any length.
func TestLongSkeleton(t *testing.T) {
	s := open(t)
	var b strings.Builder // varied syllables: a repeated one would compress
	for i := 0; i < store.MaxLoginLength; i++ {
		b.WriteRune(rune(0xAC00 + (i*7919)%11172))
	}
	login := b.String()
	if len(store.LoginSkeleton(login)) < 3000 { // more than a B-tree entry holds uncompressed
		t.Fatalf("skeleton of %d bytes: the test needs a longer one", len(store.LoginSkeleton(login)))
	}
	storetest.MkUser(t, s, login)
	storetest.View(t, s, func(tx store.Tx) error {
		if _, err := tx.UserByLogin(login); err != nil {
			t.Errorf("UserByLogin: %v", err)
		}
		return nil
	})
}
