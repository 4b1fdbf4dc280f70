package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Sessions are opened by a password login (api/authentication/login) and
// kept in the store (store.Session), so every replica sharing the store
// knows them and a restart does not end them; only a hash of each secret is
// stored. A session ends when it has been idle longer than its user's
// timeout, when the user's password changes, when the user is deactivated,
// or at logout.

// touchEvery is how stale a session's last use may be before a request
// writes it again: at most one write a minute per session, so browsing costs
// no write per request. Idle timeouts are measured to within this.
const touchEvery = time.Minute

// maxSessionsPerUser bounds a user's sessions: a login beyond it ends the
// least recently used one, so the table stays bounded by the users.
const maxSessionsPerUser = 20

// openSession starts a session for u and returns its secret. Ended sessions
// of u are removed on the way.
func (a *Authenticator) openSession(ctx context.Context, u store.User, now time.Time) (string, error) {
	secret := store.NewSessionSecret()
	err := a.Store.Update(ctx, func(tx store.Tx) error {
		list, err := tx.SessionsOf(u.ID)
		if err != nil {
			return err
		}
		slices.SortFunc(list, func(x, y store.Session) int { return x.LastSeen.Compare(y.LastSeen) })
		for i, s := range list {
			ended := now.Sub(s.LastSeen) >= store.MaxSessionTimeout || s.Password != u.PasswordHash
			if ended || len(list)-i >= maxSessionsPerUser {
				if err := tx.DeleteSession(s.Hash); err != nil {
					return err
				}
			}
		}
		return tx.PutSession(store.Session{Hash: store.HashToken(secret), UserID: u.ID, Password: u.PasswordHash, Created: now, LastSeen: now})
	})
	return secret, err
}

// touch records that the session of hash was used at now.
func (a *Authenticator) touch(ctx context.Context, hash string, now time.Time) error {
	return a.Store.Update(ctx, func(tx store.Tx) error {
		s, err := tx.Session(hash)
		if store.IsNotFound(err) {
			return nil // ended meanwhile
		}
		if err != nil {
			return err
		}
		s.LastSeen = now
		return tx.PutSession(s)
	})
}

// SessionOpen reports whether secret names a session that has not been
// closed (it may have gone idle).
func (a *Authenticator) SessionOpen(ctx context.Context, secret string) (bool, error) {
	open := false
	err := a.Store.View(ctx, func(tx store.Tx) error {
		_, err := tx.Session(store.HashToken(secret))
		open = err == nil
		if store.IsNotFound(err) {
			return nil
		}
		return err
	})
	return open, err
}

// Logout ends the session of secret; unknown secrets are ignored.
func (a *Authenticator) Logout(ctx context.Context, secret string) error {
	return a.Store.Update(ctx, func(tx store.Tx) error { return tx.DeleteSession(store.HashToken(secret)) })
}

// XSRFToken is the anti-forgery token of a session: derived from its secret,
// so it is bound to that session and needs no storage, and it does not
// reveal the secret.
func XSRFToken(sessionSecret string) string {
	sum := sha256.Sum256([]byte("scimgate xsrf\x00" + sessionSecret))
	return hex.EncodeToString(sum[:20])
}
