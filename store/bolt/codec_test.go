package bolt

import (
	"reflect"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
)

func TestCodecRoundTrip(t *testing.T) {
	now, days, three := time.Now().UTC(), 90, 3
	users := []store.User{
		{},
		{ID: "id", Login: "l", Name: "n", Email: "e", Active: true, Local: true, Managed: true, ExternalID: "x",
			ExternalLogin: "el", ExternalProvider: "p", SCMAccounts: []string{"a", "b"}, PasswordHash: "h",
			SCIM: []byte(`{"a":1}`), Created: now, Updated: now.Add(time.Second), LastConnection: &now, Version: 7,
			Locale: "fr", PasswordChanged: now, Policy: store.UserPolicy{PasswordExpirationDays: &days, SessionTimeout: time.Hour,
				TrustedHosts: []string{"10.0.0.0/8", "192.0.2.7/32"}, LockoutThreshold: &three}},
		{Login: "never", Policy: store.UserPolicy{PasswordExpirationDays: new(int)}},
	}
	for _, u := range users {
		if active, err := userActive(encodeUser(u)); err != nil || active != u.Active {
			t.Errorf("userActive = %v, %v; want %v", active, err, u.Active)
		}
		got, err := decodeUser(encodeUser(u))
		if err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("user round trip: %+v, %v; want %+v", got, err, u)
		}
	}
	g := store.Group{ID: "g", Name: "n", Description: "d", ExternalID: "x", Managed: true, Created: now, Updated: now, Version: 2, Organization: "acme"}
	if got, err := decodeGroup(encodeGroup(g)); err != nil || !reflect.DeepEqual(got, g) {
		t.Errorf("group round trip: %+v, %v", got, err)
	}
	tok := store.Token{Hash: "h", UserID: "u", Name: "n", Type: "T", Created: now, Expires: &now}
	if got, err := decodeToken(encodeToken(tok)); err != nil || !reflect.DeepEqual(got, tok) {
		t.Errorf("token round trip: %+v, %v", got, err)
	}
}

// Records written before the policy fields existed (format 1) still read.
func TestCodecReadsVersion1(t *testing.T) {
	now := time.Unix(1700000000, 5).UTC()
	e := encoder{b: []byte{1}}
	for _, s := range []string{"id", "login", "Name", "e@x"} {
		e.str(s)
	}
	e.bool(true)
	e.bool(true)
	e.bool(false)
	e.str("")
	e.str("login")
	e.str("sonarqube")
	e.strs([]string{"scm"})
	e.str("hash")
	e.bytes(nil)
	e.time(now)
	e.time(now)
	e.optTime(nil)
	e.uint(3)
	want := store.User{ID: "id", Login: "login", Name: "Name", Email: "e@x", Active: true, Local: true, ExternalLogin: "login",
		ExternalProvider: "sonarqube", SCMAccounts: []string{"scm"}, PasswordHash: "hash", Created: now, Updated: now, Version: 3}
	got, err := decodeUser(e.b)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1 record: %+v, %v; want %+v", got, err, want)
	}
	if again, err := decodeUser(encodeUser(got)); err != nil || !reflect.DeepEqual(again, want) {
		t.Fatalf("rewritten as version %d: %+v, %v", userVersion, again, err)
	}
}

func TestCodecReadsGroupVersion1(t *testing.T) {
	now := time.Unix(1700000000, 0).UTC()
	e := encoder{b: []byte{1}}
	e.str("g")
	e.str("devs")
	e.str("d")
	e.str("")
	e.bool(false)
	e.time(now)
	e.time(now)
	e.uint(4)
	want := store.Group{ID: "g", Name: "devs", Description: "d", Created: now, Updated: now, Version: 4}
	if got, err := decodeGroup(e.b); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("version 1 group: %+v, %v", got, err)
	}
}

// Truncated or foreign bytes are reported, never a panic or a half record.
func TestCodecCorrupt(t *testing.T) {
	full := encodeUser(store.User{ID: "id", Login: "login", SCMAccounts: []string{"x"}, SCIM: []byte("{}")})
	for i := 0; i < len(full); i++ {
		if _, err := decodeUser(full[:i]); err == nil {
			t.Fatalf("truncated at %d: no error", i)
		}
	}
	if _, err := decodeUser(append(full, 0)); err == nil {
		t.Error("trailing bytes accepted")
	}
	if _, err := decodeUser([]byte(`{"id":"x"}`)); err == nil {
		t.Error("JSON accepted as a record")
	}
}

func FuzzDecodeUser(f *testing.F) {
	f.Add(encodeUser(store.User{ID: "id", Login: "l", SCMAccounts: []string{"a"}}))
	f.Add([]byte{1, 200, 200, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := decodeUser(b)
		if err == nil {
			if again, err := decodeUser(encodeUser(u)); err != nil || !reflect.DeepEqual(again, u) {
				t.Fatalf("re-encoding %+v gives %+v, %v", u, again, err)
			}
		}
	})
}
