package groupcommit

import (
	"slices"
	"testing"
)

// Up to the given number of committers start; each takes what is queued,
// at most n at a time, oldest first, and is counted out when it finds the
// queue empty.
func TestQueue(t *testing.T) {
	var q Queue[int]
	var started []bool
	for i := range 5 {
		started = append(started, q.Add(i, 2))
	}
	if want := []bool{true, true, false, false, false}; !slices.Equal(started, want) {
		t.Fatalf("Add started committers %v, want %v", started, want)
	}
	for _, want := range [][]int{{0, 1}, {2, 3}, {4}, nil} {
		if got := q.Take(2); !slices.Equal(got, want) {
			t.Fatalf("Take(2) = %v, want %v", got, want)
		}
	}
	// One committer was counted out: the next writer starts one, the
	// one after joins the committer still running.
	if !q.Add(5, 2) || q.Add(6, 2) {
		t.Fatal("after one committer stopped, Add did not start exactly one")
	}
	if got := q.Take(10); !slices.Equal(got, []int{5, 6}) {
		t.Fatalf("Take(10) = %v, want [5 6]", got)
	}
}
