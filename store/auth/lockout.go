package auth

import (
	"sync"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Lockout refuses password logins of a login after Threshold failures within
// Duration, until Duration has passed since the last failure. Tokens are not
// affected, and a locked login answers exactly as a wrong password does, so
// the lock reveals nothing to an unauthenticated caller. The state is kept in
// memory: a restart unlocks everyone.
type Lockout struct {
	Threshold int           // failures that lock; 0 disables the lockout
	Duration  time.Duration // how long failures count and a lock lasts

	mu    sync.Mutex
	fails map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

// maxTracked bounds the logins tracked at once; beyond it, expired entries
// are dropped first, then the oldest.
const maxTracked = 100000

// NewLockout returns a lockout policy; threshold 0 locks nobody unless a
// user sets its own threshold (UserPolicy.LockoutThreshold).
func NewLockout(threshold int, duration time.Duration) *Lockout {
	return &Lockout{Threshold: threshold, Duration: duration, fails: map[string]*failures{}}
}

// active reports whether failures are counted: when the instance locks, or
// when some user may (per-user thresholds, see LockedAt).
func (l *Lockout) active() bool { return l != nil && l.Duration > 0 }

// LockedAt reports whether login is locked under threshold (0: never).
func (l *Lockout) LockedAt(login string, threshold int) bool {
	if !l.active() || threshold <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fails[login]
	return f != nil && f.count >= threshold && store.Now().Sub(f.last) < l.Duration
}

// Reserve counts one password attempt of login before it is checked and
// reports whether it may be checked: false when threshold attempts already
// count within Duration (the login is locked). The attempt counts as a
// failure until Succeed clears it. Reserving before the slow hash check, in
// one step under the lock, means at most threshold guesses are ever
// evaluated for a login inside the window, however many arrive at once.
func (l *Lockout) Reserve(login string, threshold int) bool {
	if !l.active() || threshold <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := store.Now()
	f := l.fails[login]
	if f == nil || now.Sub(f.last) >= l.Duration {
		if len(l.fails) >= maxTracked {
			l.prune(now)
		}
		f = &failures{}
		l.fails[login] = f
	}
	if f.count >= threshold {
		return false
	}
	f.count++
	f.last = now
	return true
}

// Succeed clears the failures of login after a successful password login.
func (l *Lockout) Succeed(login string) {
	if !l.active() {
		return
	}
	l.mu.Lock()
	delete(l.fails, login)
	l.mu.Unlock()
}

// Unlock clears login's failures: an administrator's way out.
func (l *Lockout) Unlock(login string) { l.Succeed(login) }

func (l *Lockout) prune(now time.Time) {
	prune(l.fails, now, l.Duration, maxTracked, func(f *failures) time.Time { return f.last })
}
