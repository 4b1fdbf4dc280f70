package webapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// Session cookies: the session secret (HttpOnly) and SonarQube's XSRF pair,
// a readable cookie the client echoes in the X-XSRF-TOKEN header on POSTs.
// The console (package console) opens and reads the same session.
const (
	sessionCookie = "SCIMGATE-SESSION"
	xsrfCookie    = "XSRF-TOKEN"
	xsrfHeader    = "X-XSRF-TOKEN"
)

// SessionSecret is the session secret the request's cookie carries ("" if
// none).
func SessionSecret(r *http.Request) string {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		return ck.Value
	}
	return ""
}

// SetSession sets the cookies of the session of secret: the secret itself
// (HttpOnly) and its XSRF token.
func SetSession(c echo.Context, secret string) {
	setCookie(c, sessionCookie, secret, true, 0)
	setCookie(c, xsrfCookie, auth.XSRFToken(secret), false, 0)
}

// ClearSession expires both session cookies.
func ClearSession(c echo.Context) {
	setCookie(c, sessionCookie, "", true, -1)
	setCookie(c, xsrfCookie, "", false, -1)
}

// validXSRF reports whether the request's X-XSRF-TOKEN header is the token
// of its own session (store.XSRFToken), compared in constant time: a token
// from another session, or a cookie pair an attacker planted, does not pass.
func validXSRF(r *http.Request, session string) bool {
	h := r.Header.Get(xsrfHeader)
	return h != "" && session != "" && subtle.ConstantTimeCompare([]byte(auth.XSRFToken(session)), []byte(h)) == 1
}

// SameOrigin refuses requests a browser sent on behalf of another site:
// Sec-Fetch-Site cross-site, or an Origin whose host is not this one. Login
// and logout check it, so another site cannot log a visitor in to an
// account of its choosing (login CSRF) or out of theirs.
func SameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not sent by a browser's cross-origin form or fetch
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// clientIP is the caller's address as the Echo's IPExtractor sees it.
func clientIP(c echo.Context) netip.Addr { return store.ParseIP(c.RealIP()) }

func setCookie(c echo.Context, name, value string, httpOnly bool, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: httpOnly, MaxAge: maxAge,
		Secure: IsHTTPS(c.Request()), SameSite: http.SameSiteLaxMode})
}

type httpsKey struct{}

// WithHTTPS marks a request as received over HTTPS: by scimgate's own TLS,
// or by a trusted reverse proxy that said so (X-Forwarded-Proto). Cookies
// of such requests are Secure.
func WithHTTPS(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), httpsKey{}, true))
}

// IsHTTPS reports whether r came over HTTPS (see WithHTTPS).
func IsHTTPS(r *http.Request) bool {
	on, _ := r.Context().Value(httpsKey{}).(bool)
	return on || r.TLS != nil
}

// login opens a session: 200 with the session and XSRF cookies, or 401
// with an empty body (locked, wrong or untrusted alike).
func login(cl *call) error {
	c := cl.c
	if !SameOrigin(c.Request()) {
		return c.NoContent(http.StatusUnauthorized)
	}
	caller, secret, err := cl.api.auth.Login(c.Request().Context(), cl.str("login"), cl.str("password"), clientIP(c))
	switch {
	case err == auth.ErrPasswordExpired:
		return writeErrors(c, http.StatusUnauthorized, store.ErrorMessage(err))
	case store.ErrorCode(err) == store.EUnauthenticated:
		return c.NoContent(http.StatusUnauthorized)
	case err != nil:
		return err
	}
	SetSession(c, secret)
	cl.api.log.Info("webapi: session opened", "login", caller.Login)
	return c.NoContent(http.StatusOK)
}

// logout ends the session of the cookie, if any, and clears the cookies. A
// live session must come with its XSRF token, like any POST of a session.
func logout(cl *call) error {
	r := cl.c.Request()
	if !SameOrigin(r) {
		return cl.c.NoContent(http.StatusUnauthorized)
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		open, err := cl.api.auth.SessionOpen(r.Context(), ck.Value)
		if err != nil {
			return err
		}
		if open && !validXSRF(r, ck.Value) {
			return cl.c.NoContent(http.StatusUnauthorized)
		}
		if err := cl.api.auth.Logout(r.Context(), ck.Value); err != nil {
			return err
		}
	}
	ClearSession(cl.c)
	return cl.c.NoContent(http.StatusOK)
}
