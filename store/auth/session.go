package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/scimgate/scimgate/store"
)

// Sessions holds the sessions opened by a password login
// (api/authentication/login). They live in memory, so a restart ends them;
// only a hash of each session secret is kept. A session ends when it has been
// idle longer than its user's timeout, when the user's password changes, or
// when the user is deactivated.
type Sessions struct {
	mu sync.Mutex
	m  map[string]*session // by store.HashToken(secret)
}

type session struct {
	userID   string
	password string // the user's password hash at login
	lastSeen time.Time
}

// maxSessions bounds the sessions held at once; beyond it, idle ones are
// dropped first, then the least recently used.
const maxSessions = 100000

// NewSessions returns an empty session table.
func NewSessions() *Sessions { return &Sessions{m: map[string]*session{}} }

// open starts a session for u and returns its secret.
func (s *Sessions) open(u store.User, now time.Time) string {
	secret := store.NewSessionSecret()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.prune(now)
	}
	s.m[store.HashToken(secret)] = &session{userID: u.ID, password: u.PasswordHash, lastSeen: now}
	return secret
}

// get returns a copy of the session of secret.
func (s *Sessions) get(secret string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[store.HashToken(secret)]
	if !ok {
		return session{}, false
	}
	return *v, true
}

func (s *Sessions) touch(secret string, now time.Time) {
	s.mu.Lock()
	if v, ok := s.m[store.HashToken(secret)]; ok {
		v.lastSeen = now
	}
	s.mu.Unlock()
}

// Open reports whether secret names a session that has not been closed
// (it may have gone idle).
func (s *Sessions) Open(secret string) bool {
	_, ok := s.get(secret)
	return ok
}

// XSRFToken is the anti-forgery token of a session: derived from its secret,
// so it is bound to that session and needs no storage, and it does not
// reveal the secret.
func XSRFToken(sessionSecret string) string {
	sum := sha256.Sum256([]byte("scimgate xsrf\x00" + sessionSecret))
	return hex.EncodeToString(sum[:20])
}

// Close ends the session of secret (logout); unknown secrets are ignored.
func (s *Sessions) Close(secret string) {
	s.mu.Lock()
	delete(s.m, store.HashToken(secret))
	s.mu.Unlock()
}

// Len returns the number of open sessions.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Sessions) prune(now time.Time) {
	prune(s.m, now, store.MaxSessionTimeout, maxSessions, func(v *session) time.Time { return v.lastSeen })
}

// prune deletes the entries of m last used ttl or more before now, then the
// least recently used one while m still holds max entries or more, so an
// in-memory table stays bounded.
func prune[V any](m map[string]V, now time.Time, ttl time.Duration, max int, last func(V) time.Time) {
	var oldest string
	for k, v := range m {
		if now.Sub(last(v)) >= ttl {
			delete(m, k)
		} else if oldest == "" || last(v).Before(last(m[oldest])) {
			oldest = k
		}
	}
	if len(m) >= max {
		delete(m, oldest)
	}
}
