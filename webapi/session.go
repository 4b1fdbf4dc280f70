package webapi

import (
	"crypto/subtle"
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
)

// Session cookies: the session secret (HttpOnly) and SonarQube's XSRF pair,
// a readable cookie the client echoes in the X-XSRF-TOKEN header on POSTs.
const (
	sessionCookie = "SCIMGATE-SESSION"
	xsrfCookie    = "XSRF-TOKEN"
	xsrfHeader    = "X-XSRF-TOKEN"
)

func validXSRF(r *http.Request) bool {
	ck, err := r.Cookie(xsrfCookie)
	h := r.Header.Get(xsrfHeader)
	return err == nil && h != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(h)) == 1
}

// clientIP is the caller's address as the Echo's IPExtractor sees it.
func clientIP(c echo.Context) netip.Addr { return store.ParseIP(c.RealIP()) }

func setCookie(c echo.Context, name, value string, httpOnly bool, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: httpOnly, MaxAge: maxAge,
		Secure: c.IsTLS(), SameSite: http.SameSiteLaxMode})
}

// login opens a session: 200 with the session and XSRF cookies, or 401
// with an empty body (locked, wrong or untrusted alike).
func login(cl *call) error {
	c := cl.c
	caller, secret, err := cl.api.auth.Login(c.Request().Context(), cl.str("login"), cl.str("password"), clientIP(c))
	switch {
	case err == store.ErrPasswordExpired:
		return writeErrors(c, http.StatusUnauthorized, store.ErrorMessage(err))
	case store.ErrorCode(err) == store.EUnauthenticated:
		return c.NoContent(http.StatusUnauthorized)
	case err != nil:
		return err
	}
	setCookie(c, sessionCookie, secret, true, 0)
	setCookie(c, xsrfCookie, store.NewSessionSecret(), false, 0)
	cl.api.log.Info("webapi: session opened", "login", caller.Login)
	return c.NoContent(http.StatusOK)
}

// logout ends the session of the cookie, if any, and clears the cookies.
func logout(cl *call) error {
	if ck, err := cl.c.Request().Cookie(sessionCookie); err == nil {
		cl.api.auth.Sessions.Close(ck.Value)
	}
	setCookie(cl.c, sessionCookie, "", true, -1)
	setCookie(cl.c, xsrfCookie, "", false, -1)
	return cl.c.NoContent(http.StatusOK)
}
