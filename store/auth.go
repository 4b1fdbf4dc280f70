package store

import (
	"context"
	"encoding/base64"
	"strings"
)

// AuthenticateHeader resolves an HTTP Authorization header: "Bearer <token>",
// Basic "<token>:" or Basic "<login>:<password>". Any failure is
// EUnauthenticated, with no hint of which part was wrong.
func AuthenticateHeader(ctx context.Context, s Store, header string) (User, error) {
	scheme, value, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return User{}, errUnauthenticated
	}
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "bearer":
		return Authenticate(ctx, s, value, "", false)
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return User{}, errUnauthenticated
		}
		login, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return User{}, errUnauthenticated
		}
		return Authenticate(ctx, s, login, password, true)
	}
	return User{}, errUnauthenticated
}
