package scim_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/scimgate/scimgate/store"
)

// The SCIM API applies the account policy to tokens: an admin whose token is
// limited to other hosts is refused. It takes no passwords at all, expired
// or not.
func TestAccountPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := func(fn func(u *store.User)) {
		t.Helper()
		err := e.store.Update(context.Background(), func(tx store.Tx) error {
			u, err := tx.UserByLogin("admin")
			if err != nil {
				return err
			}
			fn(&u)
			_, err = store.SaveUser(tx, u)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	password := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:Admin-pass-123"))
	if r := e.doAuth("GET", "/Users", nil, password); r.status != 401 {
		t.Fatalf("admin password accepted by SCIM: %d", r.status)
	}
	set(func(u *store.User) { u.Policy.TrustedHosts = []string{"10.0.0.0/8"} })
	for _, auth := range []string{"Bearer " + e.token, password} {
		if r := e.doAuth("GET", "/Users", nil, auth); r.status != 401 || r.body["detail"] != "Authentication is required" {
			t.Errorf("from an untrusted host: %d %v", r.status, r.body)
		}
	}
	days := 1
	set(func(u *store.User) {
		u.Policy.TrustedHosts = []string{"127.0.0.1/32"}
		u.Policy.PasswordExpirationDays = &days
		u.PasswordChanged = store.Now().AddDate(0, 0, -2)
	})
	if r := e.doAuth("GET", "/Users", nil, "Bearer "+e.token); r.status != 200 {
		t.Errorf("token from a trusted host: %d", r.status)
	}
	if r := e.doAuth("GET", "/Users", nil, password); r.status != 401 || r.body["detail"] != "Authentication is required" {
		t.Errorf("expired password: %d %v", r.status, r.body)
	}
}
