package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Every request with a token reads the generation (store.Store), and a
// query of its own is a round trip, which on two shared cores costs about
// as much as a statement of the request's own transaction. So callers
// share reads, and a read also rides, as one more statement, with any
// transaction's next round trip on this replica: a caller waits for a read
// sent after it asked (so it sees every write acknowledged before), in a
// query of its own only when no transaction is open to carry it, or when
// none sent one within genWait.

// genQuery reads the generation; sequences are not transactional, so it
// reads the same inside any transaction as alone.
const genQuery = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM generation`

// genWait bounds how long a caller waits for a transaction's round trip
// to carry its read before sending a query of its own.
const genWait = time.Millisecond

// genReads is the replica's shared reading of the generation.
type genReads struct {
	mu      sync.Mutex
	running bool     // a query of its own is in flight
	next    *genRead // the read callers wait for, not sent yet
	waiting atomic.Bool
	open    atomic.Int64 // transactions open on this replica (see txOpened)
}

// genRead is one read of the generation and its answer.
type genRead struct {
	done  chan struct{}
	timed bool // a timer sends it on its own after genWait
	v     int64
	err   error
}

// Generation reads the database's generation sequence, which committed
// Updates that change what resolving a token reads move, on any replica.
// While the database cannot be read it returns a new value each time, so
// nothing cached is trusted.
func (s *Store) Generation() uint64 {
	g := &s.gen
	g.mu.Lock()
	r := g.next
	if r == nil {
		r = &genRead{done: make(chan struct{})}
		g.next = r
		g.waiting.Store(true)
	}
	switch {
	case g.running:
		// Sent when the running query ends, if no transaction took it.
	case g.open.Load() == 0:
		g.next = nil
		g.waiting.Store(false)
		g.running = true
		g.mu.Unlock()
		s.readGeneration(r)
		return s.generationOf(r)
	case !r.timed:
		r.timed = true
		time.AfterFunc(genWait, func() { s.sendIfWaiting(r) })
	}
	g.mu.Unlock()
	<-r.done
	return s.generationOf(r)
}

// sendIfWaiting sends r in a query of its own unless it was sent.
func (s *Store) sendIfWaiting(r *genRead) {
	g := &s.gen
	g.mu.Lock()
	if g.next != r || g.running {
		g.mu.Unlock()
		return
	}
	g.next = nil
	g.waiting.Store(false)
	g.running = true
	g.mu.Unlock()
	s.readGeneration(r)
}

// readGeneration runs r's query, then the read callers asked for
// meanwhile, if no transaction took it, in a goroutine of its own.
func (s *Store) readGeneration(r *genRead) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	r.err = s.pool.QueryRow(ctx, genQuery).Scan(&r.v)
	cancel()
	close(r.done)
	g := &s.gen
	g.mu.Lock()
	next := g.next
	g.next, g.running = nil, next != nil
	g.waiting.Store(false)
	g.mu.Unlock()
	if next != nil {
		go s.readGeneration(next)
	}
}

// take hands the read callers wait for, if any, to a transaction about to
// send a round trip, which carries it (see tx.send).
func (g *genReads) take() *genRead {
	if g == nil || !g.waiting.Load() {
		return nil
	}
	g.mu.Lock()
	r := g.next
	g.next = nil
	g.waiting.Store(false)
	g.mu.Unlock()
	return r
}

// answer reads r's row from a round trip that carried it.
func (r *genRead) answer(row pgx.Row) {
	r.err = row.Scan(&r.v)
	close(r.done)
}

// fail ends r unanswered: its callers trust no cache.
func (r *genRead) fail(err error) {
	r.err = err
	close(r.done)
}

// generationOf is r's answer; while the database is unreachable every
// caller gets a value of its own, which no cache entry holds.
func (s *Store) generationOf(r *genRead) uint64 {
	if r.err != nil {
		return 1<<63 | s.missed.Add(1)
	}
	return uint64(r.v)
}
