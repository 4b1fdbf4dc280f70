package auth

import (
	"context"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Lockout refuses password logins of a login after Threshold failures within
// Duration, until Duration has passed since the last failure. Tokens are not
// affected, and a locked login answers exactly as a wrong password does, so
// the lock reveals nothing to an unauthenticated caller. The counts live in
// the store (store.Failures): a lock holds on every replica sharing it and
// across restarts. Only logins of existing users are counted, so the counts
// are bounded by the users.
type Lockout struct {
	Threshold int           // failures that lock; 0 locks nobody unless a user sets its own
	Duration  time.Duration // how long failures count and a lock lasts
}

// NewLockout returns a lockout policy; threshold 0 locks nobody unless a
// user sets its own threshold (UserPolicy.LockoutThreshold).
func NewLockout(threshold int, duration time.Duration) *Lockout {
	return &Lockout{Threshold: threshold, Duration: duration}
}

// active reports whether failures are counted: when the instance locks, or
// when some user may (per-user thresholds).
func (l *Lockout) active() bool { return l != nil && l.Duration > 0 }

// current returns f as it counts at now: nothing once Duration has passed
// since the last failure.
func (l *Lockout) current(f store.Failures, now time.Time) store.Failures {
	if now.Sub(f.Last) >= l.Duration {
		return store.Failures{}
	}
	return f
}

// Locked reports whether u's password logins are refused now, reading tx.
func (a *Authenticator) Locked(tx store.Tx, u store.User) (bool, error) {
	th := a.threshold(u)
	if !a.Lockout.active() || th <= 0 {
		return false, nil
	}
	f, err := tx.Failures(u.Login)
	return a.Lockout.current(f, store.Now()).Count >= th, err
}

// threshold is u's lockout threshold: its own, else the instance's.
func (a *Authenticator) threshold(u store.User) int {
	if u.Policy.LockoutThreshold != nil {
		return *u.Policy.LockoutThreshold
	}
	if a.Lockout == nil {
		return 0
	}
	return a.Lockout.Threshold
}

// reserve counts one password attempt of login before it is checked and
// reports whether it may be checked: false when the threshold is reached
// within Duration (the login is locked). The attempt counts as a failure
// until succeed clears it. Reserving before the slow hash check, in one
// transaction, means at most threshold guesses are ever evaluated for a
// login inside the window, however many arrive at once on however many
// replicas.
func (a *Authenticator) reserve(ctx context.Context, login string) (bool, error) {
	if !a.Lockout.active() {
		return true, nil
	}
	ok := true
	err := a.Store.Update(ctx, func(tx store.Tx) error {
		ok = true
		u, err := tx.UserByLogin(login)
		if store.IsNotFound(err) || err == nil && u.Login != login {
			return nil // no such user: the check fails anyway, and nothing is counted
		}
		th := a.threshold(u)
		if err != nil || th <= 0 {
			return err
		}
		f, err := tx.Failures(login)
		if err != nil {
			return err
		}
		now := store.Now()
		if f = a.Lockout.current(f, now); f.Count >= th {
			ok = false
			return nil
		}
		return tx.PutFailures(login, store.Failures{Count: f.Count + 1, Last: now})
	})
	return ok, err
}

// clearFailures forgets the failures of login: after a right password, or
// an administrator's unlock.
func (a *Authenticator) clearFailures(ctx context.Context, login string) error {
	if !a.Lockout.active() {
		return nil
	}
	return a.Store.Update(ctx, func(tx store.Tx) error {
		f, err := tx.Failures(login)
		if err != nil || f.Count == 0 {
			return err
		}
		return tx.PutFailures(login, store.Failures{})
	})
}
