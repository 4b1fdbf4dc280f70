package auth_test

import (
	"context"
	"encoding/base64"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
)

func basic(login, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+pw))
}

const adminPW = "Admin-pass-123"

var (
	ctx      = context.Background()
	loopback = netip.MustParseAddr("127.0.0.1")
)

// newAuth opens a bootstrapped store and an Authenticator whose clock the
// test moves; it returns a token of admin.
func newAuth(t *testing.T, p store.Policy, lock *auth.Lockout) (*auth.Authenticator, *time.Time, string) {
	t.Helper()
	store.PasswordCost = bcrypt.MinCost
	st := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(ctx, st, adminPW); err != nil {
		t.Fatal(err)
	}
	token := store.NewTokenSecret()
	mustUpdate(t, st, func(tx store.Tx) error {
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(token), UserID: admin.ID, Name: "t"})
	})
	now := new(time.Time)
	*now = time.Now().UTC().Truncate(time.Second)
	a := auth.New(st, p, lock)
	setClock(t, func() time.Time { return *now })
	t.Cleanup(a.Wait) // before the clock is restored: background writes read it
	return a, now, token
}

func TestLockout(t *testing.T) {
	const pw = adminPW
	lock := auth.NewLockout(3, 10*time.Minute)
	a, now, token := newAuth(t, store.DefaultPolicy(), lock)
	try := func(header string) error {
		_, err := a.Authenticate(ctx, auth.Credentials{Header: header, IP: loopback})
		return err
	}
	steps := []struct {
		name    string
		advance time.Duration
		header  string
		ok      bool
	}{
		{"right password", 0, basic("admin", pw), true},
		{"failure 1", 0, basic("admin", "x"), false},
		{"failure 2", time.Minute, basic("admin", "x"), false},
		{"success resets the count", 0, basic("admin", pw), true},
		{"failure 1 again", 0, basic("admin", "x"), false},
		{"failure 2 again", 0, basic("admin", "x"), false},
		{"failure 3 locks", 0, basic("admin", "x"), false},
		{"locked: right password refused", time.Minute, basic("admin", pw), false},
		{"tokens are not locked", 0, "Bearer " + token, true},
		{"token as basic login is not locked", 0, basic(token, ""), true},
		{"other logins are not locked", 0, basic("nobody", "x"), false},
		{"still locked before the duration", 8 * time.Minute, basic("admin", pw), false},
		{"unlocked after the duration", 3 * time.Minute, basic("admin", pw), true},
	}
	for _, s := range steps {
		*now = now.Add(s.advance)
		err := try(s.header)
		if (err == nil) != s.ok {
			t.Fatalf("%s: err = %v, want ok=%v", s.name, err, s.ok)
		}
		if err != nil && store.ErrorCode(err) != store.EUnauthenticated {
			t.Fatalf("%s: a lock must look like a wrong password, got %v", s.name, err)
		}
	}
	// An administrator can lift a lock at once.
	for i := 0; i < 3; i++ {
		if try(basic("admin", "x")) == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	if try(basic("admin", pw)) == nil {
		t.Fatal("not locked")
	}
	if !locked(t, a, "admin") {
		t.Fatal("Locked does not report the lock")
	}
	if err := a.Unlock(ctx, store.Caller{Admin: true}, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := try(basic("admin", pw)); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	// Threshold 0 disables the lockout.
	a.Lockout = auth.NewLockout(0, time.Minute)
	for i := 0; i < 10; i++ {
		if try(basic("admin", "x")) == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	if err := try(basic("admin", pw)); err != nil {
		t.Fatalf("disabled lockout locked: %v", err)
	}
}

// addLocal stores a local user with password pw, changed at changed.
func addLocal(t *testing.T, a *auth.Authenticator, login, pw string, changed time.Time, p store.UserPolicy) store.User {
	t.Helper()
	var u store.User
	err := a.Store.Update(ctx, func(tx store.Tx) error {
		hash, err := store.HashPassword(pw)
		if err != nil {
			return err
		}
		u, err = store.NewUser(tx, store.User{Login: login, Name: login, Active: true, Local: true,
			PasswordHash: hash, PasswordChanged: changed, Policy: p})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPasswordExpiry(t *testing.T) {
	p := store.DefaultPolicy()
	p.PasswordExpirationDays = 30
	a, now, _ := newAuth(t, p, nil)
	start := *now
	ninety, never := 90, 0
	addLocal(t, a, "inherits", "Bob-pass-1234", start, store.UserPolicy{})
	addLocal(t, a, "longer", "Bob-pass-1234", start, store.UserPolicy{PasswordExpirationDays: &ninety})
	addLocal(t, a, "never", "Bob-pass-1234", start, store.UserPolicy{PasswordExpirationDays: &never})
	cases := []struct {
		login   string
		after   time.Duration
		expired bool
	}{
		{"inherits", 30*24*time.Hour - time.Second, false},
		{"inherits", 30 * 24 * time.Hour, true},
		{"longer", 30 * 24 * time.Hour, false},
		{"longer", 90 * 24 * time.Hour, true},
		{"never", 5000 * 24 * time.Hour, false},
	}
	for _, tc := range cases {
		*now = start.Add(tc.after)
		c, err := a.Authenticate(ctx, auth.Credentials{Header: basic(tc.login, "Bob-pass-1234"), IP: loopback})
		switch {
		case tc.expired && err != auth.ErrPasswordExpired:
			t.Errorf("%s after %v: err = %v, want expired", tc.login, tc.after, err)
		case tc.expired && c.Login != tc.login:
			t.Errorf("%s: an expired password must still name its user (to change it), got %q", tc.login, c.Login)
		case !tc.expired && err != nil:
			t.Errorf("%s after %v: %v", tc.login, tc.after, err)
		}
		if _, _, err := a.Login(ctx, tc.login, "Bob-pass-1234", loopback); tc.expired && err != auth.ErrPasswordExpired {
			t.Errorf("%s: a session opened with an expired password: %v", tc.login, err)
		}
	}
	// A wrong password is a wrong password, expired or not.
	if _, err := a.Authenticate(ctx, auth.Credentials{Header: basic("inherits", "nope"), IP: loopback}); err == auth.ErrPasswordExpired || err == nil {
		t.Errorf("wrong password: %v", err)
	}
}

func TestSessions(t *testing.T) {
	p := store.DefaultPolicy()
	p.SessionTimeout = 10 * time.Minute
	a, now, _ := newAuth(t, p, nil)
	addLocal(t, a, "bob", "Bob-pass-1234", *now, store.UserPolicy{})
	addLocal(t, a, "carol", "Carol-pass-1234", *now, store.UserPolicy{SessionTimeout: time.Hour})
	open := func(login, pw string) string {
		t.Helper()
		c, secret, err := a.Login(ctx, login, pw, loopback)
		if err != nil || c.Login != login || c.Via != "session" || len(secret) != 64 {
			t.Fatalf("Login(%s): %+v %q %v", login, c, secret, err)
		}
		return secret
	}
	use := func(secret string) error {
		_, err := a.Authenticate(ctx, auth.Credentials{Session: secret, IP: loopback})
		return err
	}
	bob, carol := open("bob", "Bob-pass-1234"), open("carol", "Carol-pass-1234")
	steps := []struct {
		name    string
		advance time.Duration
		secret  string
		ok      bool
	}{
		{"fresh", 0, bob, true},
		{"used within the timeout", 9 * time.Minute, bob, true},
		{"use resets the idle clock", 9 * time.Minute, bob, true},
		{"per-user timeout is longer", 0, carol, true},
		{"idle past the instance timeout", 10 * time.Minute, bob, false},
		{"an ended session stays ended", 0, bob, false},
		{"idle within the per-user timeout", 40 * time.Minute, carol, true},
		{"idle past the per-user timeout", time.Hour, carol, false},
		{"unknown secret", 0, store.NewSessionSecret(), false},
	}
	for _, s := range steps {
		*now = now.Add(s.advance)
		if err := use(s.secret); (err == nil) != s.ok {
			t.Fatalf("%s: err = %v, want ok=%v", s.name, err, s.ok)
		}
	}
	if _, _, err := a.Login(ctx, "bob", "wrong", loopback); store.ErrorCode(err) != store.EUnauthenticated {
		t.Fatalf("login with a wrong password: %v", err)
	}

	// Changing the password, deactivation and logout end sessions.
	s1, s2, s3 := open("bob", "Bob-pass-1234"), open("bob", "Bob-pass-1234"), open("carol", "Carol-pass-1234")
	if err := a.Logout(ctx, s1); err != nil {
		t.Fatal(err)
	}
	if use(s1) == nil {
		t.Error("session survives logout")
	}
	mustUpdate(t, a.Store, func(tx store.Tx) error {
		u, err := tx.UserByLogin("bob")
		if err != nil {
			return err
		}
		if u.PasswordHash, err = store.HashPassword("Other-pass-1234"); err != nil {
			return err
		}
		_, err = store.SaveUser(tx, u)
		return err
	})
	if use(s2) == nil {
		t.Error("session survives a password change")
	}
	mustUpdate(t, a.Store, func(tx store.Tx) error {
		u, err := tx.UserByLogin("carol")
		if err != nil {
			return err
		}
		_, err = store.Deactivate(tx, "", u, false)
		return err
	})
	if use(s3) == nil {
		t.Error("session survives deactivation")
	}
}

func TestTrustedHosts(t *testing.T) {
	a, _, _ := newAuth(t, store.DefaultPolicy(), auth.NewLockout(3, time.Minute))
	hosts, err := store.ParseTrustedHosts([]string{"10.1.0.0/16", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	u := addLocal(t, a, "bob", "Bob-pass-1234", time.Time{}, store.UserPolicy{TrustedHosts: hosts})
	token := store.NewTokenSecret()
	mustUpdate(t, a.Store, func(tx store.Tx) error {
		return tx.PutToken(store.Token{Hash: store.HashToken(token), UserID: u.ID, Name: "t"})
	})
	creds := map[string]auth.Credentials{
		"password": {Header: basic("bob", "Bob-pass-1234")},
		"token":    {Header: "Bearer " + token},
	}
	for _, tc := range []struct {
		ip string
		ok bool
	}{
		{"10.1.2.3", true}, {"10.2.0.1", false}, {"192.0.2.7", true}, {"192.0.2.8", false},
		{"::ffff:10.1.0.9", true}, {"2001:db8::1", true}, {"2001:db9::1", false}, {"127.0.0.1", false},
	} {
		for via, cr := range creds {
			cr.IP = netip.MustParseAddr(tc.ip)
			if _, err := a.Authenticate(ctx, cr); (err == nil) != tc.ok {
				t.Errorf("%s from %s: err = %v, want ok=%v", via, tc.ip, err, tc.ok)
			}
		}
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Header: basic("bob", "Bob-pass-1234")}); err == nil {
		t.Error("unknown client address accepted for a user with trusted hosts")
	}
	// A session opened from a trusted host is refused from elsewhere.
	_, secret, err := a.Login(ctx, "bob", "Bob-pass-1234", netip.MustParseAddr("10.1.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Session: secret, IP: netip.MustParseAddr("10.9.0.1")}); err == nil {
		t.Error("session used from an untrusted host")
	}
	// A refusal for the host is not a failed password: it does not lock.
	for i := 0; i < 5; i++ {
		if _, err := a.Authenticate(ctx, auth.Credentials{Header: basic("bob", "Bob-pass-1234"), IP: loopback}); err == nil {
			t.Fatal("bob signed in from a host his policy does not trust")
		}
	}
	if locked(t, a, "bob") {
		t.Error("untrusted-host refusals locked the account")
	}
}

// Resolved tokens are remembered only while nothing is written: a revoked
// token, a deactivated user or an expired token is refused at once.
func TestTokenCacheFollowsWrites(t *testing.T) {
	a, now, adminToken := newAuth(t, store.DefaultPolicy(), nil)
	u := addLocal(t, a, "bob", "Bob-pass-1234", *now, store.UserPolicy{})
	secret := store.NewTokenSecret()
	expires := now.Add(time.Hour)
	put := func(tok store.Token) {
		t.Helper()
		if err := a.Store.Update(ctx, func(tx store.Tx) error { return tx.PutToken(tok) }); err != nil {
			t.Fatal(err)
		}
	}
	put(store.Token{Hash: store.HashToken(secret), UserID: u.ID, Name: "t", Expires: &expires})
	try := func(secret string) (store.Caller, error) {
		return a.Authenticate(ctx, auth.Credentials{Header: "Bearer " + secret, IP: loopback})
	}
	for i := 0; i < 2; i++ { // resolved, then cached
		if c, err := try(secret); err != nil || c.Login != "bob" || c.Admin {
			t.Fatalf("round %d: %+v %v", i, c, err)
		}
	}
	// A grant is a write: the cached caller is not reused.
	mustUpdate(t, a.Store, func(tx store.Tx) error { return tx.Grant(store.UserSubject(u.ID), store.PermAdmin) })
	if c, err := try(secret); err != nil || !c.Admin {
		t.Fatalf("after the grant: %+v %v", c, err)
	}
	// Admin through a group: joining and leaving it take effect at once, as
	// do deactivation and reactivation (each is cached before the change).
	mustUpdate(t, a.Store, func(tx store.Tx) error { return tx.Revoke(store.UserSubject(u.ID), store.PermAdmin) })
	var g store.Group
	mustUpdate(t, a.Store, func(tx store.Tx) error {
		var err error
		if g, err = store.NewGroup(tx, store.Group{Name: "admins"}); err != nil {
			return err
		}
		return tx.Grant(store.GroupSubject(g.ID), store.PermAdmin)
	})
	active := func(on bool) func(tx store.Tx) error {
		return func(tx store.Tx) error {
			v, err := tx.User(u.ID)
			if err != nil {
				return err
			}
			if on {
				_, err = store.Reactivate(tx, v)
			} else {
				_, err = store.Deactivate(tx, "", v, false)
			}
			return err
		}
	}
	for _, step := range []struct {
		name          string
		fn            func(tx store.Tx) error
		accepted, adm bool // the token after the step, and admin
	}{
		{"joined the admins", func(tx store.Tx) error { return tx.AddMember(g.ID, u.ID) }, true, true},
		{"left the admins", func(tx store.Tx) error { return tx.RemoveMember(g.ID, u.ID) }, true, false},
		{"deactivated", active(false), false, false}, // which deletes the token, as SonarQube does
	} {
		try(secret) // cache what holds before the step
		mustUpdate(t, a.Store, step.fn)
		c, err := try(secret)
		if (err == nil) != step.accepted || err == nil && c.Admin != step.adm {
			t.Fatalf("%s: %+v %v, want accepted %v, admin %v", step.name, c, err, step.accepted, step.adm)
		}
	}
	mustUpdate(t, a.Store, active(true))
	put(store.Token{Hash: store.HashToken(secret), UserID: u.ID, Name: "t", Expires: &expires})
	// Expiry is checked against the clock, cached or not.
	*now = now.Add(time.Hour)
	if _, err := try(secret); err == nil {
		t.Fatal("expired token accepted from the cache")
	}
	*now = now.Add(-time.Hour)
	mustUpdate(t, a.Store, func(tx store.Tx) error { return tx.DeleteToken(store.HashToken(secret)) })
	if _, err := try(secret); err == nil {
		t.Fatal("revoked token accepted")
	}
	// Trusted hosts apply to cached callers too.
	if _, err := try(adminToken); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Header: "Bearer " + adminToken, IP: netip.MustParseAddr("10.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, a.Store, func(tx store.Tx) error {
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		admin.Policy.TrustedHosts = []string{"127.0.0.1/32"}
		return tx.PutUser(admin)
	})
	if _, err := try(adminToken); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Header: "Bearer " + adminToken, IP: netip.MustParseAddr("10.0.0.1")}); err == nil {
		t.Fatal("cached caller used from an untrusted host")
	}
}

// A user's own lockout threshold replaces the instance's, stricter or looser.
func TestPerUserLockoutThreshold(t *testing.T) {
	lock := auth.NewLockout(5, 10*time.Minute)
	a, _, _ := newAuth(t, store.DefaultPolicy(), lock)
	one, never := 1, 0
	addLocal(t, a, "strict", "Night-owl-1234", time.Time{}, store.UserPolicy{LockoutThreshold: &one})
	addLocal(t, a, "exempt", "Night-owl-1234", time.Time{}, store.UserPolicy{LockoutThreshold: &never})
	try := func(login, pw string) error {
		_, err := a.Authenticate(ctx, auth.Credentials{Header: basic(login, pw), IP: loopback})
		return err
	}
	if try("strict", "wrong") == nil {
		t.Fatal("a wrong password was accepted")
	}
	if try("strict", "Night-owl-1234") == nil {
		t.Error("threshold 1: one failure did not lock")
	}
	for i := 0; i < 10; i++ {
		if try("exempt", "wrong") == nil {
			t.Fatal("a wrong password was accepted")
		}
	}
	if err := try("exempt", "Night-owl-1234"); err != nil {
		t.Errorf("threshold 0: locked after failures: %v", err)
	}
	// With the instance lockout off, a user's own threshold still applies.
	a.Lockout = auth.NewLockout(0, 10*time.Minute)
	if try("strict", "wrong") == nil {
		t.Fatal("a wrong password was accepted")
	}
	if try("strict", "Night-owl-1234") == nil {
		t.Error("per-user threshold ignored when the instance threshold is 0")
	}
}

// locked reports whether the user of login is locked; any error fails the test.
func locked(t *testing.T, a *auth.Authenticator, login string) bool {
	t.Helper()
	var on bool
	err := a.Store.View(ctx, func(tx store.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil {
			return err
		}
		on, err = a.Locked(tx, u)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return on
}

// Finding 2: reservations are atomic, so of many wrong passwords arriving
// at once exactly threshold are evaluated (each counts one failure); the
// rest are refused unevaluated and the right password is locked out too.
func TestLockoutReservesAtomically(t *testing.T) {
	a, _, _ := newAuth(t, store.DefaultPolicy(), auth.NewLockout(5, time.Minute))
	addLocal(t, a, "dora", "Dora-pass-1234", time.Time{}, store.UserPolicy{})
	var wg sync.WaitGroup
	for i := 0; i < 25; i++ { // each refusal still costs a full-cost bcrypt comparison
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(ctx, auth.Credentials{Header: basic("dora", "wrong"), IP: loopback}); store.ErrorCode(err) != store.EUnauthenticated {
				t.Errorf("wrong password: %v", err)
			}
		}()
	}
	wg.Wait()
	err := a.Store.View(ctx, func(tx store.Tx) error {
		f, err := tx.Failures("dora")
		if f.Count != 5 {
			t.Errorf("%d attempts evaluated, want 5", f.Count)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, auth.Credentials{Header: basic("dora", "Dora-pass-1234"), IP: loopback}); err == nil {
		t.Error("not locked after the burst")
	}
}

// mustUpdate runs fn in a write transaction; any error fails the test.
func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// setClock replaces store.Now, scimgate's one clock, for the rest of t.
func setClock(t *testing.T, now func() time.Time) {
	t.Helper()
	old := store.Now
	store.Now = now
	t.Cleanup(func() { store.Now = old })
}
