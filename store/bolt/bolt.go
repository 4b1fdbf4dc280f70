// Package bolt implements store.Store on one bbolt file.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/groupcommit"
)

// bucket names one bbolt bucket; transactions cache the buckets they open.
type bucket int

const (
	bUsers        bucket = iota // id -> User record
	bUserLogin                  // folded login -> id
	bUserExt                    // externalId 0 id -> nil
	bGroups                     // id -> Group record
	bGroupName                  // folded name -> id
	bGroupExt                   // externalId 0 id -> nil
	bMembers                    // groupID 0 userID -> nil
	bMemberOf                   // userID 0 groupID -> nil
	bPerms                      // kind id 0 perm -> nil
	bHolders                    // perm 0 kind id -> nil
	bTokens                     // hash -> Token record
	bTokensUser                 // userID 0 name -> hash
	bCounts                     // bucket name -> uint64 record count
	bAudit                      // big-endian sequence -> AuditEntry JSON
	bProjects                   // id -> Project JSON
	bProjectKey                 // folded key -> id
	bTemplates                  // id -> Template JSON
	bTemplateName               // folded name -> id
	bOrgs                       // key -> Organization JSON
	bUserSkeleton               // confusable skeleton of the login 0 id -> nil
	bUserName                   // folded display name 0 id -> nil
	bSessions                   // hash -> Session record
	bSessionsUser               // userID 0 hash -> nil
	bFailures                   // login -> Failures record
	bUserGram                   // trigram id -> nil (store.UserGrams)
	bGramPending                // id -> the user's fields the n-gram index holds (see grams.go)
	numBuckets
)

var bucketNames = [numBuckets][]byte{
	bUsers: []byte("users"), bUserLogin: []byte("users_login"), bUserExt: []byte("users_ext"),
	bGroups: []byte("groups"), bGroupName: []byte("groups_name"), bGroupExt: []byte("groups_ext"),
	bMembers: []byte("members"), bMemberOf: []byte("member_of"), bPerms: []byte("perms"), bHolders: []byte("holders"),
	bTokens: []byte("tokens"), bTokensUser: []byte("tokens_user"), bCounts: []byte("counts"), bAudit: []byte("audit"),
	bProjects: []byte("projects"), bProjectKey: []byte("projects_key"), bTemplates: []byte("templates"),
	bTemplateName: []byte("templates_name"), bOrgs: []byte("organizations"),
	bUserSkeleton: []byte("users_skeleton"), bUserName: []byte("users_name"),
	bSessions: []byte("sessions"), bSessionsUser: []byte("sessions_user"), bFailures: []byte("failures"),
	bUserGram: []byte("users_gram"), bGramPending: []byte("users_gram_pending"),
}

// Store is a store.Store backed by bbolt.
type Store struct {
	db  *bolt.DB
	gen atomic.Uint64

	group   groupcommit.Queue[*call]
	changes atomic.Uint64
	commits atomic.Uint64
	// committing is the time commits spent after their functions ran
	// (writing pages, fsync), in nanoseconds.
	committing atomic.Int64
	failures   atomic.Uint64
	lastWrite  atomic.Pointer[error] // nil or the last storage failure

	kick    chan struct{} // a write listed pending users (see grams.go)
	stop    chan struct{} // closed by Close
	indexed chan struct{} // closed when the indexer has stopped
	closing sync.Once
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store file at path. It fails after a
// second when another process holds the file.
func Open(path string) (*Store, error) {
	// No statistics: bbolt would add every transaction's counters to the
	// database's under one lock, which concurrent reads contend for; the
	// server exports counts of its own.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoStatistics: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is locked: is another scimgate using it?", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, name := range bucketNames {
			if _, err := btx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return migrate(&tx{tx: btx})
	})
	if err == nil {
		err = migrateGrams(db)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init store %s: %w", path, err)
	}
	s := &Store{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), indexed: make(chan struct{})}
	go s.indexer()
	s.kick <- struct{}{} // users left pending by the last run
	return s, nil
}

// migrate brings a store written by an earlier version up to date.
func migrate(t *tx) error {
	if err := migrateActive(t); err != nil {
		return err
	}
	if err := migrateSkeletons(t); err != nil {
		return err
	}
	if err := migrateNames(t); err != nil {
		return err
	}
	return migrateManaged(t)
}

// migrateManaged counts the managed users of a store written before the
// count existed.
func migrateManaged(t *tx) error {
	if t.b(bCounts).Get(managedKey) != nil {
		return nil
	}
	n := 0
	for u, err := range t.Users("") {
		if err != nil {
			return err
		}
		if u.Managed {
			n++
		}
	}
	return t.addManaged(n)
}

// namesKey marks a store whose display name index is complete.
var namesKey = []byte("users_name")

// migrateNames indexes the display name of every user of a store written
// before the index existed.
func migrateNames(t *tx) error {
	if t.b(bCounts).Get(namesKey) != nil {
		return nil
	}
	for u, err := range t.Users("") {
		if err != nil {
			return err
		}
		if err := t.b(bUserName).Put(key(store.FoldLogin(u.Name), u.ID), nil); err != nil {
			return err
		}
	}
	return t.b(bCounts).Put(namesKey, []byte{1})
}

// skeletonsKey marks, in the counts bucket, a store whose login skeleton
// index is complete.
var skeletonsKey = []byte("users_skeleton")

// migrateSkeletons indexes the confusable skeleton of every login of a store
// written before the index existed. Look-alikes already stored stay.
func migrateSkeletons(t *tx) error {
	if t.b(bCounts).Get(skeletonsKey) != nil {
		return nil
	}
	for u, err := range t.Users("") {
		if err != nil {
			return err
		}
		if err := t.b(bUserSkeleton).Put(key(store.LoginSkeleton(u.Login), u.ID), nil); err != nil {
			return err
		}
	}
	return t.b(bCounts).Put(skeletonsKey, []byte{1})
}

// migrateActive: stores that kept the default group's memberships as rows
// get the active-user count instead, and lose the rows.
func migrateActive(t *tx) error {
	if t.b(bCounts).Get(activeKey) != nil {
		return nil
	}
	n := 0
	for u, err := range t.Users("") {
		if err != nil {
			return err
		}
		if u.Active {
			n++
		}
	}
	if err := t.addActive(n); err != nil {
		return err
	}
	def := t.defaultGroup()
	if def == "" {
		return nil
	}
	for _, uid := range slices.Collect(suffixes(t.b(bMembers), def)) {
		if err := t.b(bMembers).Delete(key(def, uid)); err != nil {
			return err
		}
		if err := t.b(bMemberOf).Delete(key(uid, def)); err != nil {
			return err
		}
	}
	return nil
}

// DB exposes the bbolt handle for tests and tools.
func (s *Store) DB() *bolt.DB { return s.db }

// Check runs bbolt's consistency check over the whole file. It runs inside
// a write transaction that it rolls back: a read transaction would compare
// its snapshot with the live free list, which concurrent writers change.
func (s *Store) Check() error {
	var found error
	err := s.db.Update(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		found = errors.Join(errs...)
		return errCheckDone
	})
	if errors.Is(err, errCheckDone) {
		return found
	}
	return err
}

// errCheckDone rolls Check's transaction back.
var errCheckDone = errors.New("check done")

// Close closes the file.
func (s *Store) Close() error {
	s.closing.Do(func() { close(s.stop) })
	<-s.indexed
	return s.db.Close()
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bolt.Tx) error { return fn(&tx{tx: btx}) })
}

// Backup writes a consistent snapshot of the file to w from one read
// transaction; writers carry on meanwhile.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// BatchesWrites is true: concurrent Updates share a transaction (see Update).
func (s *Store) BatchesWrites() bool { return true }

// Update runs fn in a read-write transaction, committed (and fsync'd) only if
// fn returns nil; it returns once the commit is durable. Concurrent calls
// share one transaction (group commit, see commit.go), so fn may run more
// than once:
// it must only assign, not accumulate, state outside the transaction.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var fnErr error
	pended, access := false, false
	run := func(btx *bolt.Tx) error {
		t := &tx{tx: btx}
		fnErr = fn(t)
		pended, access = t.pended, t.access
		return fnErr
	}
	err := s.update(run)
	switch {
	case err == nil:
		s.changes.Add(1)
		if access {
			s.gen.Add(1)
		}
		s.lastWrite.Store(nil)
		if pended {
			select {
			case s.kick <- struct{}{}:
			default: // the indexer is already due
			}
		}
	case fnErr == nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen):
		// fn succeeded but the commit did not reach the file: a storage
		// failure (ENOSPC, EIO), not the caller's fault and maybe passing.
		s.failures.Add(1)
		s.lastWrite.Store(&err)
		return fmt.Errorf("%w (%v)", store.ErrUnavailable, err)
	}
	return err
}

// WriteStats returns the committed changes, the transactions (fsyncs)
// that carried them, and the time those spent writing and syncing.
func (s *Store) WriteStats() store.WriteCounts {
	return store.WriteCounts{Changes: s.changes.Load(), Commits: s.commits.Load(), Committing: time.Duration(s.committing.Load())}
}

// WriteError is nil while commits succeed; after a failed commit it is that
// failure, until a commit succeeds again.
func (s *Store) WriteError() error {
	if p := s.lastWrite.Load(); p != nil {
		return *p
	}
	return nil
}

// WriteFailures counts commits that failed to reach the file, the n-gram
// indexer's included.
func (s *Store) WriteFailures() uint64 { return s.failures.Load() }

// Generation counts committed Updates that changed what resolving a
// token reads.
func (s *Store) Generation() uint64 { return s.gen.Load() }
