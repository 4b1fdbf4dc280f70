package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Group commit. Each write transaction costs the database a snapshot, a
// commit record and a WAL flush, and this process a round trip for its
// COMMIT; concurrent writers therefore share transactions, as under bbolt
// (store/bolt/commit.go; the queue is store/groupcommit's): a writer
// queues its function, and up to
// maxWriters committers each take every function queued meanwhile and run
// them one after the other in one SERIALIZABLE transaction. Their result
// is what running them one at a time in that order gives, so the shared
// transaction is serializable as each of its own would be.
//
// A function that fails is undone without undoing the others when none of
// its writes reached the database yet (writes wait in tx.queued for the
// next statement, and a failing function usually fails on what it read
// before writing): its queued statements are dropped. Otherwise the
// transaction rolls back, that function runs alone and the others run
// again without it. Outcomes reach the writers only once the transaction
// committed: a refusal that rested on a function beside it, whose write
// then did not commit, is never reported. A transaction that meets a
// serialization failure runs again, functions and all, up to
// batchAttempts times; when it still fails, or fails otherwise (a lost
// connection, an error of one function's statement), every function runs
// again in a transaction of its own, with updateAlone's retries.

// maxBatch bounds the functions one transaction carries. PostgreSQL
// tracks a serializable transaction's reads by row, and by page or by
// table once it read many on one table (max_pred_locks_per_relation, 32
// pages by default): a larger transaction conflicts with more of the
// others. Under 64 clients transactions carry 3 to 5 functions on
// average; the bound caps the rare long one.
const maxBatch = 16

// batchAttempts bounds the runs of a shared transaction that met a
// serialization failure, before its functions run alone. Conflicts between
// creates on two replicas fail about one shared transaction in twenty;
// running them again together kept 2,700 creates/s where sending all of
// their functions to run alone gave 2,400.
const batchAttempts = 3

// call is one writer's function and where its outcome goes.
type call struct {
	ctx context.Context
	fn  func(store.Tx) error
	res error      // fn's outcome in the running transaction
	err chan error // the outcome, once committed, or errAlone
}

// errAlone sends a function back to its writer to run in a transaction of
// its own (see updateAlone).
var errAlone = errors.New("run alone")

// Update runs fn in a SERIALIZABLE transaction, shared with concurrent
// writers, committed only if fn returns nil. Conflicts with concurrent
// transactions (serialization failures, deadlocks, unique violations raced
// by another transaction) run fn again: fn must assign, not accumulate,
// state it leaves outside (the store.Store contract).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &call{ctx: ctx, fn: fn, err: make(chan error, 1)}
	if s.group.Add(c, maxWriters) {
		go s.commitQueued()
	}
	err := <-c.err
	if err == errAlone {
		return s.updateAlone(ctx, fn)
	}
	if err == nil {
		s.changes.Add(1)
	}
	return err
}

// commitQueued commits the queue, a transaction at a time, until no writer
// is left waiting.
func (s *Store) commitQueued() {
	for calls := s.group.Take(maxBatch); calls != nil; calls = s.group.Take(maxBatch) {
		s.commitCalls(calls)
	}
}

// commitCalls runs calls in one transaction and hands each its outcome.
func (s *Store) commitCalls(calls []*call) {
	for attempt := 1; len(calls) > 0; {
		alone, err := s.runCalls(calls)
		if alone >= 0 {
			calls[alone].err <- errAlone
			calls = slices.Delete(calls, alone, alone+1)
			continue
		}
		if err != nil && retryable(err) && attempt < batchAttempts {
			time.Sleep(time.Duration(rand.Int64N(int64(time.Millisecond) << attempt)))
			attempt++
			continue
		}
		for _, c := range calls {
			if err != nil {
				c.err <- errAlone
			} else {
				c.err <- c.res
			}
		}
		return
	}
}

// runCalls runs the calls' functions in one transaction and commits it. It
// returns the index of a function that failed after its writes reached
// the database (the transaction is rolled back), or -1 and the outcome of
// the transaction; each call's own outcome is in its res.
func (s *Store) runCalls(calls []*call) (alone int, err error) {
	ctx, cancel := anyLive(calls)
	defer cancel()
	select {
	case s.writers <- struct{}{}:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	defer func() { <-s.writers }()
	conn, commitFirst, err := s.conns.acquire(ctx)
	if err != nil {
		return -1, dbError(err)
	}
	t := newTx(ctx, conn, beginWrite, commitFirst)
	defer s.release(t)
	if len(calls) > 1 {
		for _, c := range calls {
			if id := store.TouchedUser(c.ctx); id != "" {
				t.readAheadUser(id)
			}
			if login := store.CreatedLogin(c.ctx); login != "" {
				t.readAheadLogin(login)
			}
		}
	}
	for i, c := range calls {
		if c.res = c.ctx.Err(); c.res != nil {
			continue
		}
		// The function's statements go out under its writer's context.
		t.ctx = c.ctx
		queued, sends, wrote := len(t.queued), t.sends, t.wrote
		c.res = safely(c.fn, t)
		switch {
		case t.failed != nil:
			t.ctx = ctx
			t.rollback()
			return -1, t.failed
		case c.res == nil || t.wrote == wrote:
			// Done, or failed having written nothing: what it queued
			// (reads ahead) is harmless and its memo entries hold.
		case t.sends == sends:
			// Failed with its writes still queued: they never go out,
			// and the memo forgets what they changed.
			t.queued = t.queued[:queued]
			t.memo = newMemo()
		default:
			t.ctx = ctx
			t.rollback()
			return i, nil
		}
		if errors.Is(c.res, errPanic) {
			c.res = errAlone // it panics again in its own goroutine
		}
	}
	t.ctx = ctx
	return -1, s.commit(t)
}

// errPanic marks a function that panicked (see safely).
var errPanic = errors.New("panic")

// safely runs fn, turning a panic into an error: the writer that panicked
// runs alone and panics in its own goroutine, not in the committer's.
func safely(fn func(store.Tx) error, t *tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return fn(t)
}

// anyLive returns a context that ends when every call's context has ended
// (each writer gave up), so that one writer going away does not end the
// transaction of the others.
func anyLive(calls []*call) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(calls[0].ctx))
	var left atomic.Int64
	left.Store(int64(len(calls)))
	stops := make([]func() bool, len(calls))
	for i, c := range calls {
		stops[i] = context.AfterFunc(c.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}
