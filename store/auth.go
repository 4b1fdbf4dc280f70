package store

import (
	"context"
	"encoding/base64"
	"strings"
)

// Caller is an authenticated user and whether it holds global admin.
type Caller struct {
	User
	Admin bool
}

// AuthenticateHeader resolves an HTTP Authorization header: "Bearer <token>",
// Basic "<token>:" or Basic "<login>:<password>", in one read transaction.
// Any failure is EUnauthenticated, with no hint of which part was wrong.
// Password logins go through lock (nil: no lockout); tokens do not.
func AuthenticateHeader(ctx context.Context, s Store, lock *Lockout, header string) (Caller, error) {
	login, password, basic, ok := parseAuthorization(header)
	if !ok {
		return Caller{}, errUnauthenticated
	}
	byPassword := basic && password != ""
	if byPassword && lock.Locked(login) {
		CheckPassword("", password) // answer as slowly as a real check
		return Caller{}, errUnauthenticated
	}
	var c Caller
	err := s.View(ctx, func(tx Tx) error {
		u, err := authenticate(tx, login, password, basic)
		if err != nil {
			return err
		}
		c.User = u
		c.Admin, err = HasPermission(tx, u.ID, PermAdmin)
		return err
	})
	if byPassword {
		if ErrorCode(err) == EUnauthenticated {
			lock.Fail(login)
		} else if err == nil {
			lock.Succeed(login)
		}
	}
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
