package store

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Policy is the instance's rules for local accounts. SCIM-managed users have
// no password and are never subject to it.
type Policy struct {
	PasswordMinLength      int           // at least 8; default 12
	PasswordExpirationDays int           // 0: passwords never expire
	SessionTimeout         time.Duration // idle time after which a session ends
}

// Limits of the policy settings.
const (
	MinPasswordLength     = 8
	MaxPasswordLength     = 128
	MaxPasswordExpiryDays = 3650
	MinSessionTimeout     = time.Minute
	MaxSessionTimeout     = 7 * 24 * time.Hour
	MaxTrustedHosts       = 50
)

// DefaultPolicy is SonarQube's: 12 characters, no expiry, 3 days idle.
func DefaultPolicy() Policy {
	return Policy{PasswordMinLength: 12, SessionTimeout: 72 * time.Hour}
}

// UserPolicy overrides the instance policy for one local user; zero values
// inherit it.
type UserPolicy struct {
	PasswordExpirationDays *int // 0: never
	SessionTimeout         time.Duration
	TrustedHosts           []string // IPs and CIDR ranges; empty: anywhere
	LockoutThreshold       *int     // failures that lock, 0 to 5; 0: never
}

// PasswordErrors returns every rule password breaks, in a fixed order, with
// SonarQube's messages where it has one.
func (p Policy) PasswordErrors(login, password string) []string {
	var out []string
	if n := utf8.RuneCountInString(password); n < p.PasswordMinLength {
		out = append(out, fmt.Sprintf("Password must be at least %d characters long", p.PasswordMinLength))
	}
	classes := []struct {
		has func(rune) bool
		msg string
	}{
		{func(r rune) bool { return 'A' <= r && r <= 'Z' }, "Password must contain at least one uppercase character"},
		{func(r rune) bool { return 'a' <= r && r <= 'z' }, "Password must contain at least one lowercase character"},
		{func(r rune) bool { return '0' <= r && r <= '9' }, "Password must contain at least one digit"},
		{func(r rune) bool { return !isAlnum(r) }, "Password must contain at least one special character"},
	}
	for _, c := range classes {
		if !strings.ContainsFunc(password, c.has) {
			out = append(out, c.msg)
		}
	}
	if repeats(password, 3) {
		out = append(out, "password should not repeat same characters")
	}
	if login != "" && strings.Contains(strings.ToLower(password), strings.ToLower(login)) {
		out = append(out, "password contains login name")
	}
	return out
}

func isAlnum(r rune) bool {
	return 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
}

// repeats reports whether s holds n identical characters in a row.
func repeats(s string, n int) bool {
	run, prev := 0, rune(-1)
	for _, r := range s {
		if r == prev {
			run++
		} else {
			run, prev = 1, r
		}
		if run >= n {
			return true
		}
	}
	return false
}

// PasswordExpired reports whether u's password has expired at now.
func (p Policy) PasswordExpired(u User, now time.Time) bool {
	days := p.PasswordExpirationDays
	if u.Policy.PasswordExpirationDays != nil {
		days = *u.Policy.PasswordExpirationDays
	}
	if days <= 0 || u.Managed {
		return false
	}
	changed := u.PasswordChanged
	if changed.IsZero() {
		changed = u.Created
	}
	return !now.Before(changed.AddDate(0, 0, days))
}

// MaxLockoutThreshold is the highest lockout threshold, instance or user.
const MaxLockoutThreshold = 5

// SessionTimeoutOf returns the idle timeout of u's sessions.
func (p Policy) SessionTimeoutOf(u User) time.Duration {
	if u.Policy.SessionTimeout > 0 {
		return u.Policy.SessionTimeout
	}
	return p.SessionTimeout
}

// ParseTrustedHosts validates and normalises a list of IP addresses and CIDR
// ranges ("10.0.0.0/8", "192.0.2.7", "2001:db8::/32").
func ParseTrustedHosts(list []string) ([]string, error) {
	if len(list) > MaxTrustedHosts {
		return nil, Errorf(EInvalid, "At most %d trusted hosts can be set", MaxTrustedHosts)
	}
	var out []string
	for _, h := range list {
		p, err := parseHost(h)
		if err != nil {
			return nil, Errorf(EInvalid, "Trusted host '%s' is not a valid IP address or CIDR range", h)
		}
		out = append(out, p.String())
	}
	return out, nil
}

func parseHost(h string) (netip.Prefix, error) {
	if strings.Contains(h, "/") {
		p, err := netip.ParsePrefix(h)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(h)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseIP parses a client address; the zero Addr when it cannot be read
// (users with trusted hosts are then refused).
func ParseIP(s string) netip.Addr {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// Trusts reports whether u may authenticate from ip: always when u has no
// trusted hosts, otherwise only from one of them.
func (u User) Trusts(ip netip.Addr) bool {
	if len(u.Policy.TrustedHosts) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, h := range u.Policy.TrustedHosts {
		if p, err := parseHost(h); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// Validate checks the instance policy against its limits.
func (p Policy) Validate() []string {
	var out []string
	if p.PasswordMinLength < MinPasswordLength || p.PasswordMinLength > MaxPasswordLength {
		out = append(out, fmt.Sprintf("password minimum length must be %d to %d", MinPasswordLength, MaxPasswordLength))
	}
	if p.PasswordExpirationDays < 0 || p.PasswordExpirationDays > MaxPasswordExpiryDays {
		out = append(out, fmt.Sprintf("password expiration must be 0 (never) to %d days", MaxPasswordExpiryDays))
	}
	if p.SessionTimeout < MinSessionTimeout || p.SessionTimeout > MaxSessionTimeout {
		out = append(out, "session timeout must be 60s to 168h (7 days)")
	}
	return out
}
