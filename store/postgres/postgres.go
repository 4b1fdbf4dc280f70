// Package postgres implements store.Store on PostgreSQL, so that several
// scimgate replicas can share one store. Every Update is one SERIALIZABLE
// transaction, retried on serialization failures and deadlocks; every View
// is one REPEATABLE READ, READ ONLY snapshot.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/groupcommit"
)

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	conns *conns // the pool's connections for transactions (conns.go)

	writers  chan struct{} // bounds this replica's concurrent write transactions
	failures atomic.Uint64 // writes that did not reach the database
	changes  atomic.Uint64 // committed Updates
	commits  atomic.Uint64 // committed write transactions (commit)
	// committing is the time write transactions' last round trips took
	// (the writes queued for it and COMMIT), in nanoseconds.
	committing atomic.Int64
	group      groupcommit.Queue[*call]
	missed     atomic.Uint64 // generations handed out while the database was unreachable
	gen        genReads
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.WriteHealth = (*Store)(nil)
)

// IsURL reports whether db names a PostgreSQL database (a postgres:// or
// postgresql:// URL) rather than a bbolt file.
func IsURL(db string) bool {
	for _, p := range []string{"postgres://", "postgresql://"} {
		if len(db) >= len(p) && db[:len(p)] == p {
			return true
		}
	}
	return false
}

// Open connects to the database of url (a postgres:// URL; pool_max_conns
// and the other pgxpool parameters are honoured) and creates or migrates
// the schema. Replicas may open the same database at once: migrations run
// under an advisory lock.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "scimgate"
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A request waits this long for a database that is down, then
		// gets 503: never forever.
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redact(cfg), err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", redact(cfg), err)
	}
	_, err = migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("init store %s: %w", redact(cfg), err)
	}
	return &Store{pool: pool, conns: newConns(pool), writers: make(chan struct{}, maxWriters)}, nil
}

// Redact returns url without its password (or "postgres://..." when it does
// not parse): what logs and messages may show.
func Redact(url string) string {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return "postgres://..."
	}
	return redact(cfg)
}

// redact names the database without its password, for messages.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("postgres://%s@%s/%s", c.User, net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), c.Database)
}

// Close closes every connection.
func (s *Store) Close() error {
	s.conns.close()
	s.pool.Close()
	return nil
}

// Ping reports whether the database answers: what /readyz asks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("%w (%v)", store.ErrUnavailable, err)
	}
	return nil
}

// PoolSize is the pool's maximum number of connections.
func (s *Store) PoolSize() int { return int(s.pool.Config().MaxConns) }

// The transactions' first statements. Each is sent together with the
// transaction's first query, in one round trip (see tx.rows).
const (
	beginRead  = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
	beginWrite = "BEGIN ISOLATION LEVEL SERIALIZABLE"
)

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.run(ctx, beginRead, fn)
}

// run runs fn in one transaction, committed only if fn returns nil. Errors
// of the database come back through dbError; fn's own pass through, unless
// the transaction broke under fn (then that is the cause). A committed
// write that changed what resolving a token reads moves the generation in
// the same round trip as its COMMIT, after it: a replica that reads the
// old generation reads it before the write is acknowledged. A write that
// changed only users or memberships asks then whether one of those users
// holds a token, reading what is committed by then: a token created
// meanwhile moved the generation itself.
func (s *Store) run(ctx context.Context, begin string, fn func(store.Tx) error) error {
	conn, commitFirst, err := s.conns.acquire(ctx)
	if err != nil {
		return dbError(err)
	}
	t := newTx(ctx, conn, begin, commitFirst)
	defer s.release(t)
	if err := fn(t); err != nil || t.failed != nil {
		if t.failed != nil || !t.readOnly {
			t.rollback()
		}
		if t.failed != nil {
			return dbError(t.failed)
		}
		return err
	}
	if t.readOnly && len(t.queued) == 0 {
		return nil
	}
	return s.commit(t)
}

// release gives t's connection back. A View's transaction is committed
// with the connection's next one (conns.go); an earlier one that t did not
// end (it sent nothing) ends now, so that no snapshot outlives its time
// aside; a connection left in any other transaction, or broken, is closed.
func (s *Store) release(t *tx) {
	if t.commitFirst {
		t.rollback()
	}
	s.conns.release(t.conn, t.readOpen)
}

// commit commits t (see run).
func (s *Store) commit(t *tx) error {
	if t.begin != "" && len(t.queued) == 0 {
		return nil // fn read and wrote nothing: there is no transaction
	}
	last := []stmt{{sql: "COMMIT"}}
	switch {
	case t.readOnly:
	case t.access:
		last = append(last, stmt{sql: "SELECT nextval('generation')"})
	case len(t.holders) > 0:
		last = append(last, stmt{sql: "SELECT nextval('generation') WHERE EXISTS (SELECT 1 FROM tokens WHERE user_id = ANY($1))", args: []any{t.holders}})
	}
	// The statements fn queued go with the COMMIT, in one round trip.
	start := time.Now()
	br, err := t.send(last...)
	t.readOpen = false
	if err != nil {
		t.rollback()
		return dbError(err)
	}
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return dbError(err)
	}
	if !t.readOnly {
		s.commits.Add(1)
		s.committing.Add(int64(time.Since(start)))
	}
	if len(last) > 1 {
		if _, err := br.Exec(); err != nil {
			s.missed.Add(1)
		}
	}
	return nil
}

// maxWriters bounds the write transactions one replica runs at once; more
// writers wait their turn, and each transaction carries the writes queued
// meanwhile (commit.go). Fewer, larger transactions cost the database less
// than more, smaller ones, and conflict less: with 100k users, 64 wrk
// clients and one PostgreSQL on the same 2 cores, 2 against 4 (served in
// turn, two rounds): through two replicas POST 2,721 and 2,494/s with 4,
// 3,444 and 3,126/s with 2, PATCH 2,333 and 2,348/s against 2,917 and
// 3,148/s (p99 78-110 ms against 53-60 ms); through one replica POST 4,127
// and 3,970/s against 4,368 and 4,179/s, PATCH 3,168 and 3,231/s against
// 3,857 and 3,836/s (p99 52-54 ms against 32 ms). One writer did better
// still through two replicas (POST 4,423/s against 3,607, PATCH 3,288
// against 3,035) and worse through one (4,121 against 4,426, 2,982 against
// 3,620): what counts is the writers of all replicas together, for the
// database's cores.
const maxWriters = 2

// maxAttempts bounds the runs of one Update's fn on serialization
// failures; the request's context bounds them in time.
const maxAttempts = 100

// updateAlone runs fn in a SERIALIZABLE transaction of its own, committed
// only if fn returns nil. A serialization failure or deadlock (SQLSTATE
// 40001, 40P01), or a unique violation raced by a concurrent transaction,
// runs fn again in a new transaction after a short random pause.
func (s *Store) updateAlone(ctx context.Context, fn func(store.Tx) error) error {
	select {
	case s.writers <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writers }()
	for attempt := 1; ; attempt++ {
		err := s.run(ctx, beginWrite, fn)
		if err == nil {
			s.changes.Add(1)
			return nil
		}
		if retryable(err) && attempt < maxAttempts {
			// Random exponential backoff, up to 32 ms, so that transactions
			// that conflicted do not meet again at once.
			pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 5)))
			select {
			case <-time.After(pause):
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if errors.Is(err, store.ErrUnavailable) {
			s.failures.Add(1)
		}
		return err
	}
}

// retryable reports whether err is a conflict with a concurrent transaction
// that running again resolves.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01", "23505":
		return true
	}
	return false
}

// dbError turns a failure to reach the database (no connection, a
// connection lost, the server shutting down or out of connections) into
// store.ErrUnavailable, so that the APIs answer 503 with Retry-After. SQL
// errors and the context's pass through.
func dbError(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "57", "53": // connection exception, operator intervention, insufficient resources
		default:
			return err
		}
	}
	return fmt.Errorf("%w (%v)", store.ErrUnavailable, err)
}

// Generation reads the database's generation sequence, which committed
// Updates that change what resolving a token reads move, on any replica. While the database cannot be
// read it returns a new value each time, so nothing cached is trusted.
func (s *Store) Generation() uint64 {
	g := &s.gen
	g.mu.Lock()
	if g.running { // wait for the read that starts after the running one
		r := g.next
		if r == nil {
			r = &genRead{done: make(chan struct{})}
			g.next = r
		}
		g.mu.Unlock()
		<-r.done
		return s.generationOf(r)
	}
	g.running = true
	g.mu.Unlock()
	r := &genRead{done: make(chan struct{})}
	s.readGeneration(r)
	return s.generationOf(r)
}

// genReads lets concurrent callers of Generation share one query: a caller
// waits for a query sent after it asked (so it sees every write
// acknowledged before), and one query answers every caller that waited for
// it. Under load that is one query a round trip instead of one a request.
type genReads struct {
	mu      sync.Mutex
	running bool     // a query is in flight
	next    *genRead // the query sent when the running one ends, with its waiters
}

// genRead is one query of the generation and its answer.
type genRead struct {
	done chan struct{}
	v    int64
	err  error
}

// readGeneration runs r's query, then the query callers asked for
// meanwhile, if any, in a goroutine of its own.
func (s *Store) readGeneration(r *genRead) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	r.err = s.pool.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM generation`).Scan(&r.v)
	cancel()
	close(r.done)
	s.gen.mu.Lock()
	next := s.gen.next
	s.gen.next, s.gen.running = nil, next != nil
	s.gen.mu.Unlock()
	if next != nil {
		go s.readGeneration(next)
	}
}

// generationOf is r's answer; while the database is unreachable every
// caller gets a value of its own, which no cache entry holds.
func (s *Store) generationOf(r *genRead) uint64 {
	if r.err != nil {
		return 1<<63 | s.missed.Add(1)
	}
	return uint64(r.v)
}

// Backup writes a consistent copy of the whole store to w as a bbolt file,
// which `scimgate restore` and `scimgate migrate` read: one REPEATABLE READ
// snapshot, while others keep writing. For routine backups of a PostgreSQL
// store use its own tools (pg_dump); this one makes a portable copy.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp("", "scimgate-backup-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	dst, err := bolt.Open(dir + "/backup.db")
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	if _, err := store.Copy(ctx, s, dst); err != nil {
		return 0, err
	}
	return dst.Backup(ctx, w)
}

// WriteError is always nil: unlike a full disk under bbolt, a database
// that could not be reached leaves no lasting state here. Readiness follows
// the database itself (/readyz reads it), and recovers when it answers.
func (s *Store) WriteError() error { return nil }

// WriteStats returns the committed changes, the transactions that
// committed them, and the time their last round trips took (the writes
// queued for it and COMMIT).
func (s *Store) WriteStats() store.WriteCounts {
	return store.WriteCounts{Changes: s.changes.Load(), Commits: s.commits.Load(), Committing: time.Duration(s.committing.Load())}
}

// WriteFailures counts the changes that failed to reach the database.
func (s *Store) WriteFailures() uint64 { return s.failures.Load() }
