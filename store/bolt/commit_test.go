package bolt

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A transaction carries at most maxBatch writers: 300 queued at once go
// in three commits, every one of them committed.
func TestGroupCommitBatchBound(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "batch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, before := s.WriteStats()
	const n = 300
	calls := make([]*call, n)
	ran := 0
	for i := range calls {
		calls[i] = &call{fn: func(*bolt.Tx) error { ran++; return nil }, err: make(chan error, 1)}
	}
	s.group.mu.Lock()
	s.group.queue, s.group.running = calls, true
	s.group.mu.Unlock()
	s.commitQueued() // this goroutine commits them, as update's would
	for i, c := range calls {
		if err := <-c.err; err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if _, after := s.WriteStats(); after-before != (n+maxBatch-1)/maxBatch || ran != n {
		t.Errorf("%d writers ran %d times in %d commits, want %d commits of at most %d", n, ran, after-before, (n+maxBatch-1)/maxBatch, maxBatch)
	}
	if s.group.running || len(s.group.queue) != 0 {
		t.Errorf("queue left running=%v with %d writers", s.group.running, len(s.group.queue))
	}
}
