// Package groupcommit is the queue of a group commit, shared by the
// backends (store/bolt, store/postgres): writers queue their changes, and
// up to a given number of committers each take every change queued
// meanwhile and commit them in one transaction. Batches grow with the
// load and never wait on a timer.
package groupcommit

import "sync"

// Queue holds the writers waiting for a shared transaction. The zero value
// is an empty queue.
type Queue[C any] struct {
	mu      sync.Mutex
	calls   []C
	running int // committers taking from the queue
}

// Add queues c and reports whether the caller must start a committer
// (fewer than committers are running); that committer counts as running
// from now on.
func (q *Queue[C]) Add(c C, committers int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.calls = append(q.calls, c)
	if q.running < committers {
		q.running++
		return true
	}
	return false
}

// Take removes and returns up to n queued calls, oldest first. When none
// is queued it returns nil and counts the calling committer out: it must
// stop (a later Add starts another).
func (q *Queue[C]) Take(n int) []C {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(len(q.calls), n)
	if n == 0 {
		q.running--
		return nil
	}
	calls := q.calls[:n:n]
	q.calls = q.calls[n:]
	return calls
}
