package bolt

import (
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Group commit. bbolt runs one write transaction at a time and each commit
// is fsync'd, so concurrent writers share transactions: a writer queues its
// function, and one transaction at a time takes every function queued
// while the previous one ran and commits them together. A lone writer
// commits at once; under load a transaction carries what arrived during
// the last commit, so batches grow with the load and never wait on a
// timer.
//
// bbolt's own DB.Batch cuts the stream by time instead (a batch closes
// MaxBatchDelay after its first writer and then queues for the lock):
// with 64 writers and 100k users its batches of about 12 changes each
// waited behind several others, 284 commits/s and 3.4k PATCH/s at 20 ms
// p50, with a third of the cores idle.

// maxBatch bounds the writers one transaction carries. A function that
// fails rolls its transaction back and the others run again without it,
// so a batch with failures costs up to the square of its size; under the
// benchmarks' 64 clients batches carry 25-30 writers.
const maxBatch = 128

// call is one writer's function and where its outcome goes.
type call struct {
	fn  func(*bolt.Tx) error
	err chan error
}

// errAlone sends a function that failed inside a shared transaction back
// to its writer, to run alone: the failure, or its absence when the cause
// was another function, is then that writer's own.
var errAlone = errors.New("run alone")

// update runs fn in a write transaction shared with the writers queued
// beside it, and returns once it is committed (or fn failed).
func (s *Store) update(fn func(*bolt.Tx) error) error {
	c := &call{fn: fn, err: make(chan error, 1)}
	if s.group.Add(c, 1) {
		go s.commitQueued()
	}
	err := <-c.err
	if err == errAlone {
		err = s.commitTimed(fn)
	}
	return err
}

// commitTimed runs fn in a write transaction of its own and, once it is
// committed, counts the commit and the time it took (after fn ran).
func (s *Store) commitTimed(fn func(*bolt.Tx) error) error {
	var ran time.Time
	err := s.db.Update(func(btx *bolt.Tx) error {
		err := fn(btx)
		ran = time.Now()
		return err
	})
	if err == nil {
		s.commits.Add(1)
		s.committing.Add(int64(time.Since(ran)))
	}
	return err
}

// commitQueued commits the queue, one transaction at a time, until no
// writer is left waiting.
func (s *Store) commitQueued() {
	for calls := s.group.Take(maxBatch); calls != nil; calls = s.group.Take(maxBatch) {
		s.commit(calls)
	}
}

// commit runs calls in one transaction, counted among the commits. When
// one of them fails, the transaction is rolled back, that one goes back
// to its writer to run alone, and the others run again without it.
func (s *Store) commit(calls []*call) {
	for len(calls) > 0 {
		failed := -1
		err := s.commitTimed(func(btx *bolt.Tx) error {
			for i, c := range calls {
				if err := safely(c.fn, btx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].err <- errAlone
			calls = slices.Delete(calls, failed, failed+1)
			continue
		}
		for _, c := range calls {
			c.err <- err
		}
		return
	}
}

// safely runs fn, turning a panic into an error: the writer that panicked
// runs alone and panics in its own goroutine, not in the committer's.
func safely(fn func(*bolt.Tx) error, btx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(btx)
}
