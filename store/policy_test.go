package store_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
)

func TestPasswordErrors(t *testing.T) {
	p := store.DefaultPolicy()
	cases := []struct {
		login, pw string
		want      []string
	}{
		{"bob", "Str0ng!Passw0rd", nil},
		{"bob", "Sh0rt!a", []string{"Password must be at least 12 characters long"}},
		{"bob", "lowercase-only1", []string{"Password must contain at least one uppercase character"}},
		{"bob", "UPPERCASE-ONLY1", []string{"Password must contain at least one lowercase character"}},
		{"bob", "No-digits-here", []string{"Password must contain at least one digit"}},
		{"bob", "NoSpecials1234", []string{"Password must contain at least one special character"}},
		{"bob", "Unicode-é-is-fine1", nil},
		{"bob", "Paaa-ss-12345", []string{"password should not repeat same characters"}},
		{"bob", "Paa-ss-11-2345", nil}, // two in a row is allowed
		{"bob", "My-BOB-pass-123", []string{"password contains login name"}},
		{"x", "", []string{
			"Password must be at least 12 characters long",
			"Password must contain at least one uppercase character",
			"Password must contain at least one lowercase character",
			"Password must contain at least one digit",
			"Password must contain at least one special character",
		}},
	}
	for _, tc := range cases {
		if got := p.PasswordErrors(tc.login, tc.pw); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("PasswordErrors(%q, %q) = %q, want %q", tc.login, tc.pw, got, tc.want)
		}
	}
	p.PasswordMinLength = 20
	if got := p.PasswordErrors("bob", "Str0ng!Passw0rd"); len(got) != 1 || got[0] != "Password must be at least 20 characters long" {
		t.Errorf("configured minimum: %q", got)
	}
}

func TestParseTrustedHosts(t *testing.T) {
	got, err := store.ParseTrustedHosts([]string{"10.1.2.3/16", "192.0.2.7", "::ffff:192.0.2.8", "2001:db8::1/32"})
	want := []string{"10.1.0.0/16", "192.0.2.7/32", "192.0.2.8/32", "2001:db8::/32"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTrustedHosts = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "example.com", "10.0.0.1/", "1.2.3"} {
		_, err := store.ParseTrustedHosts([]string{bad})
		if store.ErrorCode(err) != store.EInvalid || !strings.Contains(err.Error(), "'"+bad+"'") {
			t.Errorf("ParseTrustedHosts(%q): %v", bad, err)
		}
	}
	if _, err := store.ParseTrustedHosts(make([]string, store.MaxTrustedHosts+1)); err == nil {
		t.Error("too many trusted hosts accepted")
	}
}

func TestPolicyValidate(t *testing.T) {
	if errs := store.DefaultPolicy().Validate(); len(errs) != 0 {
		t.Errorf("default policy invalid: %q", errs)
	}
	bad := store.Policy{PasswordMinLength: 4, PasswordExpirationDays: -1, SessionTimeout: 30 * time.Second}
	if errs := bad.Validate(); len(errs) != 3 {
		t.Errorf("want 3 problems, got %q", errs)
	}
}

func TestRandomPasswordMeetsPolicy(t *testing.T) {
	for _, n := range []int{store.MinPasswordLength, 12, 40, store.MaxPasswordLength} {
		p := store.DefaultPolicy()
		p.PasswordMinLength = n
		for i := 0; i < 200; i++ {
			if pw := store.RandomPassword(n); len(p.PasswordErrors("admin", pw)) > 0 {
				t.Fatalf("RandomPassword(%d) = %q breaks %q", n, pw, p.PasswordErrors("admin", pw))
			}
		}
	}
}
