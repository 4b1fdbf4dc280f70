package main

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a strings.Builder safe for the flusher and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
	n  int // writes
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.b.Write(p)
}

func (s *syncBuffer) read() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.n
}

// Lines come out in order, batched into few writes, within the flush
// interval, and all of them by Close.
func TestLogWriter(t *testing.T) {
	var out syncBuffer
	l := newLogWriter(&out)
	for i := 0; i < 100; i++ {
		if _, err := l.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if s, _ := out.read(); strings.Count(s, "line\n") == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lines not written within the flush interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, writes := out.read(); writes > 3 {
		t.Errorf("100 lines took %d writes", writes)
	}
	if _, err := l.Write([]byte("last\n")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.read(); !strings.HasSuffix(s, "line\nlast\n") {
		t.Errorf("Close lost the last line: %q", s[len(s)-20:])
	}
	// A full buffer is written at once, without waiting for the interval.
	var big syncBuffer
	l = newLogWriter(&big)
	defer l.Close()
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < logBufferMax/len(line)+1; i++ {
		l.Write([]byte(line))
	}
	if s, writes := big.read(); writes < 1 || len(s) < logBufferMax {
		t.Errorf("a full buffer: %d writes, %d bytes out before the interval", writes, len(s))
	}
}
