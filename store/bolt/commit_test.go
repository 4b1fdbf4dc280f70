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
	before := s.WriteStats().Commits
	const n = 300
	calls := make([]*call, n)
	ran := 0
	for i := range calls {
		calls[i] = &call{fn: func(*bolt.Tx) error { ran++; return nil }, err: make(chan error, 1)}
		if start := s.group.Add(calls[i], 1); start != (i == 0) {
			t.Fatalf("writer %d started a committer: %v", i, start)
		}
	}
	s.commitQueued() // this goroutine commits them, as update's would
	for i, c := range calls {
		if err := <-c.err; err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if after := s.WriteStats().Commits; after-before != (n+maxBatch-1)/maxBatch || ran != n {
		t.Errorf("%d writers ran %d times in %d commits, want %d commits of at most %d", n, ran, after-before, (n+maxBatch-1)/maxBatch, maxBatch)
	}
	// The committer stopped when the queue emptied: the next writer starts one.
	probe := &call{fn: func(*bolt.Tx) error { return nil }, err: make(chan error, 1)}
	if !s.group.Add(probe, 1) {
		t.Fatal("the emptied queue left a committer counted as running")
	}
	s.commitQueued()
	if err := <-probe.err; err != nil {
		t.Error(err)
	}
}
