package console

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/webapi"
)

// loginView is the login page's data.
type loginView struct {
	Next, Login, Error string
	Expired            bool // the password is right but expired: change it
}

// safeNext keeps a post-login redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return next
}

func (c *Console) anonymous(ec echo.Context) *request {
	secure(ec)
	ec.Response().Header().Set("Cache-Control", "no-store")
	return &request{Context: ec, con: c}
}

func (c *Console) loginPage(ec echo.Context) error {
	r := c.anonymous(ec)
	return r.render(http.StatusOK, "login", "Sign in", "", loginView{Next: safeNext(ec.QueryParam("next"))})
}

// login checks the login and password (with the lockout and trusted hosts
// of any password login) and opens the session the Web API uses too. A
// wrong login, a wrong password and a locked account get the same answer.
func (c *Console) login(ec echo.Context) error {
	r := c.anonymous(ec)
	hr := ec.Request()
	v := loginView{Next: safeNext(ec.FormValue("next")), Login: strings.TrimSpace(ec.FormValue("login"))}
	if !webapi.SameOrigin(hr) {
		return r.failWith(http.StatusForbidden, "This form did not come from this console.")
	}
	password := ec.FormValue("password")
	if newPassword := ec.FormValue("new_password"); newPassword != "" {
		return c.changeExpired(r, v, password, newPassword, ec.FormValue("confirm"))
	}
	_, secret, err := c.auth.Login(hr.Context(), v.Login, password, store.ParseIP(ec.RealIP()))
	switch {
	case err == auth.ErrPasswordExpired:
		v.Expired, v.Error = true, "Your password has expired. Choose a new one."
		return r.render(http.StatusUnauthorized, "login", "Change your password", "", v)
	case store.ErrorCode(err) == store.EUnauthenticated:
		v.Error = "Wrong login or password, or the account is locked."
		return r.render(http.StatusUnauthorized, "login", "Sign in", "", v)
	case err != nil:
		return r.fail(err)
	}
	webapi.SetSession(ec, secret)
	c.log.Info("console: session opened", "login", v.Login)
	return ec.Redirect(http.StatusSeeOther, v.Next)
}

// changeExpired changes an expired password, proven by the current one,
// then signs in with the new one.
func (c *Console) changeExpired(r *request, v loginView, current, password, confirm string) error {
	hr := r.Request()
	v.Expired = true
	if password != confirm {
		v.Error = "The new passwords do not match."
		return r.render(http.StatusBadRequest, "login", "Change your password", "", v)
	}
	caller, _, err := c.auth.Login(hr.Context(), v.Login, current, store.ParseIP(r.RealIP()))
	if err != auth.ErrPasswordExpired && err != nil {
		v.Error = "Wrong login or password, or the account is locked."
		return r.render(http.StatusUnauthorized, "login", "Change your password", "", v)
	}
	ctx := store.WithActor(hr.Context(), store.Actor{Login: caller.Login, API: "console", Op: "POST " + Prefix + "/login"})
	if err := store.SetPassword(ctx, c.store, caller, c.auth.Policy, v.Login, &current, password); err != nil {
		v.Error = passwordMessage(err)
		return r.render(http.StatusBadRequest, "login", "Change your password", "", v)
	}
	_, secret, err := c.auth.Login(hr.Context(), v.Login, password, store.ParseIP(r.RealIP()))
	if err != nil {
		return r.fail(err)
	}
	webapi.SetSession(r.Context, secret)
	return r.Redirect(http.StatusSeeOther, v.Next)
}

// passwordMessage words SonarQube's password-change keys for people.
func passwordMessage(err error) string {
	switch msg := store.ErrorMessage(err); msg {
	case "old_password_incorrect":
		return "The current password is wrong."
	case "new_password_same_as_old":
		return "The new password must differ from the current one."
	default:
		return msg
	}
}

func logout(r *request) error {
	if err := r.con.auth.Logout(r.ctx(), r.secret); err != nil {
		return r.fail(err)
	}
	webapi.ClearSession(r.Context)
	return r.Redirect(http.StatusSeeOther, Prefix+"/login")
}

func home(r *request) error {
	if r.caller.Admin {
		return r.Redirect(http.StatusFound, Prefix+"/users")
	}
	return r.Redirect(http.StatusFound, Prefix+"/account")
}

func passwordPage(r *request) error {
	return r.render(http.StatusOK, "password", "Change your password", "account", struct{ Error string }{})
}

// changePassword changes the signed-in user's own password (also when it
// has expired: the session is then good for nothing else).
func changePassword(r *request) error {
	current, password := r.FormValue("current"), r.FormValue("new_password")
	if password != r.FormValue("confirm") {
		return r.render(http.StatusBadRequest, "password", "Change your password", "account", struct{ Error string }{"The new passwords do not match."})
	}
	if err := store.SetPassword(r.ctx(), r.con.store, r.caller, r.con.auth.Policy, r.caller.Login, &current, password); err != nil {
		if store.ErrorCode(err) == store.EInvalid {
			return r.render(http.StatusBadRequest, "password", "Change your password", "account", struct{ Error string }{passwordMessage(err)})
		}
		return r.fail(err)
	}
	// The change ended every session of the user, this one too: sign in again.
	webapi.ClearSession(r.Context)
	return r.Redirect(http.StatusSeeOther, Prefix+"/login?next="+Prefix+"/account")
}
