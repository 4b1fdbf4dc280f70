package auth

import (
	"cmp"
	"context"
	"encoding/base64"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/scimgate/scimgate/store"
)

// ErrPasswordExpired is returned, with the store.Caller, when a correct password
// has expired: adapters refuse the request unless it changes that password.
var ErrPasswordExpired = &store.Error{Code: store.EUnauthenticated, Msg: "Your password has expired. Change it with api/users/change_password."}

var errUnauthenticated = store.Errorf(store.EUnauthenticated, "Authentication is required")

// Authenticator resolves credentials to a store.Caller under the instance policy:
// tokens, passwords (with lockout and expiry), sessions (with idle timeout)
// and per-user trusted hosts. Every failure is store.EUnauthenticated with no hint
// of which part was wrong.
type Authenticator struct {
	Store   store.Store
	Policy  store.Policy
	Lockout *Lockout // nil: no lockout
	// OnError, when set, hears of background writes that failed (the last
	// connection times).
	OnError func(error)
	// Background runs those writes; nil: each in a goroutine of its own, so
	// no request waits for one. Tests may queue them instead, so that an
	// answer never depends on whether the write landed first.
	Background func(write func())
	// WriteTimeout bounds each of those writes, so that a database that
	// stopped answering (or a lock held on the user) cannot hold one, nor a
	// shutdown waiting for it (Wait), for ever; 0: 10 seconds.
	WriteTimeout time.Duration

	tokens tokenCache
	seen   connections
	wg     sync.WaitGroup // background writes
}

// Wait returns once the background writes started so far (last connection
// times) have ended, each within WriteTimeout: call it before closing the
// store.
func (a *Authenticator) Wait() { a.wg.Wait() }

// New returns an Authenticator over s; lock may be nil.
func New(s store.Store, p store.Policy, lock *Lockout) *Authenticator {
	return &Authenticator{Store: s, Policy: p, Lockout: lock}
}

// Credentials is what one request presents.
type Credentials struct {
	Header  string     // the Authorization header
	Session string     // the session cookie
	IP      netip.Addr // the client's address, for trusted hosts
}

// Authenticate resolves the Authorization header if there is one, else the
// session.
func (a *Authenticator) Authenticate(ctx context.Context, cr Credentials) (store.Caller, error) {
	if cr.Header == "" && cr.Session != "" {
		return a.session(ctx, cr)
	}
	login, password, basic, ok := parseAuthorization(cr.Header)
	if !ok {
		return store.Caller{}, errUnauthenticated
	}
	if !basic || password == "" {
		return a.token(ctx, login, cr.IP)
	}
	return a.password(ctx, login, password, cr.IP)
}

// AuthenticateToken resolves a token only: Bearer <token>, or Basic with the
// token as user name and no password. The provisioning API takes no
// passwords, so it is no password-guessing surface and no administrator's
// password ends up in an IdP's configuration.
func (a *Authenticator) AuthenticateToken(ctx context.Context, cr Credentials) (store.Caller, error) {
	secret, password, _, ok := parseAuthorization(cr.Header)
	if !ok || password != "" {
		return store.Caller{}, errUnauthenticated
	}
	c, err := a.token(ctx, secret, cr.IP)
	if err == nil && c.TokenType != store.TokenUser && c.TokenType != "" {
		return store.Caller{}, errUnauthenticated // analysis tokens do not provision
	}
	return c, err
}

// Login checks a login and password and opens a session; it returns the
// session's secret.
func (a *Authenticator) Login(ctx context.Context, login, password string, ip netip.Addr) (store.Caller, string, error) {
	c, err := a.password(ctx, login, password, ip)
	if err != nil {
		return c, "", err
	}
	c.Via = "session"
	secret, err := a.openSession(ctx, c.User, store.Now())
	return c, secret, err
}

// Unlock lifts the password lockout of login, for a caller that may change
// that user (an administrator, or a user administrator over a user holding
// nothing more), and records it in the audit trail.
func (a *Authenticator) Unlock(ctx context.Context, caller store.Caller, login string) error {
	err := a.Store.View(ctx, func(tx store.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil || u.Login != login {
			return store.Errorf(store.ENotFound, "User '%s' doesn't exist", login)
		}
		return store.MayChange(tx, caller, u)
	})
	if err != nil {
		return err
	}
	if err := store.RecordEvent(ctx, a.Store, "user", "unlocked", login, ""); err != nil {
		return err
	}
	return a.clearFailures(ctx, login)
}

func (a *Authenticator) password(ctx context.Context, login, password string, ip netip.Addr) (store.Caller, error) {
	if ok, err := a.reserve(ctx, login); err != nil || !ok {
		store.CheckPassword("", password) // answer as slowly as a real check
		if err != nil {
			return store.Caller{}, err
		}
		return store.Caller{}, errUnauthenticated
	}
	matched := false
	c, err := a.check(ctx, ip, "password", func(tx store.Tx) (store.User, error) {
		u, err := userByPassword(tx, login, password)
		matched = err == nil
		return u, err
	})
	if matched { // the reserved attempt was right (an untrusted host is no failed guess)
		if err := a.clearFailures(ctx, login); err != nil {
			return store.Caller{}, err
		}
	}
	if err == nil {
		a.connected(c.User, "", nil)
	}
	if err == nil && a.Policy.PasswordExpired(c.User, store.Now()) {
		return c, ErrPasswordExpired
	}
	return c, err
}

// token resolves a token, from the cache while nothing it read has
// changed since it was last resolved (the store's generation).
func (a *Authenticator) token(ctx context.Context, secret string, ip netip.Addr) (store.Caller, error) {
	if secret == "" {
		return store.Caller{}, errUnauthenticated
	}
	hash, now := store.HashToken(secret), store.Now()
	gen := a.Store.Generation()
	if e, ok := a.tokens.get(hash, gen, now); ok {
		if !e.caller.Trusts(ip) {
			return store.Caller{}, errUnauthenticated
		}
		a.connected(e.caller.User, hash, e.last)
		return e.caller, nil
	}
	var tok store.Token
	c, err := a.check(ctx, ip, "token", func(tx store.Tx) (store.User, error) {
		u, t, err := tokenUser(tx, hash, now)
		tok = t
		return u, err
	})
	c.TokenType, c.TokenName = tok.Type, tok.Name
	if err == nil {
		a.tokens.put(hash, tokenEntry{gen: gen, caller: c, expires: tok.Expires, last: tok.LastConnection})
		a.connected(c.User, hash, tok.LastConnection)
	}
	return c, err
}

func (a *Authenticator) session(ctx context.Context, cr Credentials) (store.Caller, error) {
	hash, now := store.HashToken(cr.Session), store.Now()
	var s store.Session
	c, err := a.check(ctx, cr.IP, "session", func(tx store.Tx) (store.User, error) {
		var err error
		if s, err = tx.Session(hash); err != nil {
			return store.User{}, errUnauthenticated
		}
		u, err := tx.User(s.UserID)
		if err != nil || !u.Active || u.PasswordHash != s.Password || now.Sub(s.LastSeen) >= a.Policy.SessionTimeoutOf(u) {
			return store.User{}, errUnauthenticated
		}
		return u, nil
	})
	if store.ErrorCode(err) == store.EUnauthenticated {
		if s.Hash != "" { // it ended: idle, password changed, deactivated or untrusted host
			if err := a.Logout(ctx, cr.Session); err != nil {
				return store.Caller{}, err
			}
		}
		return store.Caller{}, errUnauthenticated
	}
	if err != nil {
		return c, err
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		if err := a.touch(ctx, hash, now); err != nil {
			return store.Caller{}, err
		}
	}
	if a.Policy.PasswordExpired(c.User, now) {
		return c, ErrPasswordExpired // a session obeys expiry as the password does
	}
	a.connected(c.User, "", nil)
	return c, nil
}

// connections remembers which users and tokens had their last connection
// written within the hour, so that each is written at most hourly by this
// process, as SonarQube does.
type connections struct {
	mu sync.Mutex
	m  map[seenKey]time.Time
}

// seenKey names a user ('u') or a token ('t', by hash) in connections.
type seenKey struct {
	kind byte
	id   string
}

// due reports whether key's last connection should be written at now, and
// if so marks it written.
func (c *connections) due(key seenKey, last *time.Time, now time.Time) bool {
	if last != nil && now.Sub(*last) < time.Hour {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.m[key]; ok && now.Sub(t) < time.Hour {
		return false
	}
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = map[seenKey]time.Time{}
	}
	c.m[key] = now
	return true
}

// connected records a successful sign-in of u (with the token of hash, if
// any): the last connection of each is written at most once an hour, in
// the background, so the request never waits for it. It does not change the
// user's version (nothing SCIM shows) and is not audited.
func (a *Authenticator) connected(u store.User, hash string, tokenLast *time.Time) {
	now := store.Now()
	user := a.seen.due(seenKey{'u', u.ID}, u.LastConnection, now)
	token := hash != "" && a.seen.due(seenKey{'t', hash}, tokenLast, now)
	if !user && !token {
		return
	}
	a.wg.Add(1)
	write := func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(a.WriteTimeout, 10*time.Second))
		defer cancel()
		err := a.Store.Update(ctx, func(tx store.Tx) error {
			if user {
				cur, err := tx.User(u.ID)
				if err != nil {
					return err
				}
				cur.LastConnection = &now
				if err := tx.PutUser(cur); err != nil {
					return err
				}
			}
			if token {
				t, err := tx.Token(hash)
				if store.IsNotFound(err) {
					return nil // revoked meanwhile
				}
				if err != nil {
					return err
				}
				t.LastConnection = &now
				return tx.PutToken(t)
			}
			return nil
		})
		if err != nil && a.OnError != nil {
			a.OnError(err)
		}
	}
	if a.Background != nil {
		a.Background(write)
	} else {
		go write()
	}
}

// check resolves the user in one read transaction, then applies the trusted
// hosts and reads the admin permission.
func (a *Authenticator) check(ctx context.Context, ip netip.Addr, via string, find func(store.Tx) (store.User, error)) (store.Caller, error) {
	c := store.Caller{Via: via}
	err := a.Store.View(ctx, func(tx store.Tx) error {
		u, err := find(tx)
		if err != nil {
			return err
		}
		if !u.Trusts(ip) {
			return errUnauthenticated
		}
		c.User = u
		c.Admin, err = store.HasPermission(tx, u.ID, store.PermAdmin)
		return err
	})
	return c, err
}

func parseAuthorization(header string) (login, password string, basic, ok bool) {
	scheme, value, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return "", "", false, false
	}
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "bearer":
		return value, "", false, true
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return "", "", false, false
		}
		login, password, ok := strings.Cut(string(raw), ":")
		return login, password, true, ok
	}
	return "", "", false, false
}

// tokenCache remembers resolved tokens, each valid while the store's
// generation is the one it was resolved at and the token has not expired.
// Every write that changes what resolving a token reads moves the
// generation (see store.Store), so a revoked token, a deactivated user or
// a withdrawn permission takes effect at once, while an IdP provisioning
// users without tokens leaves the cache in place.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]tokenEntry
}

type tokenEntry struct {
	gen     uint64
	caller  store.Caller
	expires *time.Time
	last    *time.Time // the token's last connection
}

// maxCachedTokens bounds the cache; when full it starts over.
const maxCachedTokens = 10000

func (c *tokenCache) get(hash string, gen uint64, now time.Time) (tokenEntry, bool) {
	c.mu.RLock()
	e, ok := c.m[hash]
	c.mu.RUnlock()
	if !ok || e.gen != gen || e.expires != nil && !now.Before(*e.expires) {
		return tokenEntry{}, false
	}
	return e, true
}

func (c *tokenCache) put(hash string, e tokenEntry) {
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedTokens {
		c.m = map[string]tokenEntry{}
	}
	c.m[hash] = e
	c.mu.Unlock()
}

// tokenUser resolves the hash of a token to its active user.
func tokenUser(tx store.Tx, hash string, now time.Time) (store.User, store.Token, error) {
	t, err := tx.Token(hash)
	if err != nil || !store.SameHash(t.Hash, hash) {
		return store.User{}, t, errUnauthenticated
	}
	if t.Expires != nil && !now.Before(*t.Expires) {
		return store.User{}, t, errUnauthenticated
	}
	u, err := tx.User(t.UserID)
	if err != nil || !u.Active {
		return store.User{}, t, errUnauthenticated
	}
	return u, t, nil
}

func userByPassword(tx store.Tx, login, password string) (store.User, error) {
	u, err := tx.UserByLogin(login)
	if err != nil || u.Login != login || !u.Active || !u.Local {
		store.CheckPassword("", password) // same cost as a real check
		return store.User{}, errUnauthenticated
	}
	if !store.CheckPassword(u.PasswordHash, password) {
		return store.User{}, errUnauthenticated
	}
	return u, nil
}
