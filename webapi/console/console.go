// Package console serves scimgate's admin console at /console (the root
// redirects there): server-rendered pages (html/template, embedded assets,
// nothing fetched from elsewhere) over the same use cases and rules as the
// APIs. Administrators see users, groups, projects, permissions, templates,
// the audit trail and the provisioning status; other users their own
// account. It signs in with the Web API's session (cookie and XSRF token),
// and every form carries that token.
package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/webapi"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// Console serves the admin console.
type Console struct {
	store store.Store
	auth  *auth.Authenticator
	log   *slog.Logger
	pages map[string]*template.Template
}

// New builds the console over s (the audited store the APIs use) and the
// APIs' authenticator.
func New(s store.Store, a *auth.Authenticator, log *slog.Logger) *Console {
	if log == nil {
		log = slog.Default()
	}
	c := &Console{store: s, auth: a, log: log, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if page == "layout" || page == "partials" {
			continue
		}
		c.pages[page] = template.Must(template.New(page).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html", name))
	}
	return c
}

// handler is one page or form handler.
type handler func(r *request) error

// access says who may use a route.
type access int

const (
	anyUser   access = iota // any signed-in user (their own account)
	adminOnly               // administrators
)

// Register mounts the console on e and redirects / to it.
func (c *Console) Register(e *echo.Echo) {
	e.GET("/", func(ec echo.Context) error { return ec.Redirect(http.StatusFound, Prefix+"/") })
	static, _ := fs.Sub(staticFiles, "static")
	e.GET(Prefix+"/static/*", func(ec echo.Context) error {
		secure(ec)
		ec.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return echo.WrapHandler(http.StripPrefix(Prefix+"/static/", http.FileServer(http.FS(static))))(ec)
	})
	e.GET(Prefix+"/login", c.loginPage)
	e.POST(Prefix+"/login", c.login)
	routes := []struct {
		method, path string
		access       access
		h            handler
	}{
		{"GET", "/", anyUser, home},
		{"POST", "/logout", anyUser, logout},
		{"GET", "/password", anyUser, passwordPage},
		{"POST", "/password", anyUser, changePassword},
		{"GET", "/account", anyUser, accountPage},
		{"POST", "/account/tokens", anyUser, createOwnToken},
		{"POST", "/account/tokens/revoke", anyUser, revokeOwnToken},
		{"GET", "/users", adminOnly, usersPage},
		{"GET", "/users/:id", adminOnly, userPage},
		{"POST", "/users/:id/edit", adminOnly, editUser},
		{"POST", "/users/:id/password", adminOnly, resetPassword},
		{"GET", "/users/:id/deactivate", adminOnly, confirmDeactivate},
		{"POST", "/users/:id/deactivate", adminOnly, deactivateUser},
		{"POST", "/users/:id/reactivate", adminOnly, reactivateUser},
		{"POST", "/users/:id/unlock", adminOnly, unlockUser},
		{"POST", "/users/:id/tokens", adminOnly, createToken},
		{"POST", "/users/:id/tokens/revoke", adminOnly, revokeToken},
		{"GET", "/groups", adminOnly, groupsPage},
		{"GET", "/groups/:id", adminOnly, groupPage},
		{"POST", "/groups/:id/edit", adminOnly, editGroup},
		{"POST", "/groups/:id/members", adminOnly, changeMember},
		{"GET", "/projects", adminOnly, projectsPage},
		{"GET", "/projects/:id", adminOnly, projectPage},
		{"POST", "/projects/:id/permissions", adminOnly, changeProjectPermission},
		{"GET", "/permissions", adminOnly, globalPermissionsPage},
		{"POST", "/permissions", adminOnly, changeGlobalPermission},
		{"GET", "/templates", adminOnly, templatesPage},
		{"GET", "/audit", adminOnly, auditPage},
		{"GET", "/provisioning", adminOnly, provisioningPage},
	}
	for _, rt := range routes {
		e.Add(rt.method, Prefix+rt.path, c.wrap(rt.method+" "+Prefix+rt.path, rt.access, rt.h))
	}
}

// request is one signed-in request.
type request struct {
	echo.Context
	con    *Console
	caller store.Caller
	secret string // the session's
}

// ctx is the request's context, carrying the caller as the audit's actor.
func (r *request) ctx() context.Context { return r.Request().Context() }

// secure sets the headers every console answer carries: no framing, no
// inline or foreign scripts and styles, no sniffing.
func secure(c echo.Context) {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}

// wrap signs the request in from its session, sends the signed-out to the
// login page and the expired to the password form, keeps non-administrators
// to their own account, and checks the origin and XSRF token of every POST.
func (c *Console) wrap(op string, acc access, h handler) echo.HandlerFunc {
	return func(ec echo.Context) error {
		secure(ec)
		ec.Response().Header().Set("Cache-Control", "no-store")
		hr := ec.Request()
		secret := webapi.SessionSecret(hr)
		caller, err := c.auth.Authenticate(hr.Context(), auth.Credentials{Session: secret, IP: store.ParseIP(ec.RealIP())})
		r := &request{Context: ec, con: c, caller: caller, secret: secret}
		switch {
		case err == auth.ErrPasswordExpired:
			if !strings.HasPrefix(op, "GET "+Prefix+"/password") && !strings.HasPrefix(op, "POST "+Prefix+"/password") && op != "POST "+Prefix+"/logout" {
				return ec.Redirect(http.StatusSeeOther, Prefix+"/password")
			}
		case store.ErrorCode(err) == store.EUnauthenticated || secret == "":
			next := ""
			if hr.Method == http.MethodGet {
				next = "?next=" + url.QueryEscape(hr.URL.RequestURI())
			}
			return ec.Redirect(http.StatusSeeOther, Prefix+"/login"+next)
		case err != nil:
			return r.fail(err)
		}
		if hr.Method == http.MethodPost {
			form := ec.FormValue("xsrf")
			if !webapi.SameOrigin(hr) || subtle.ConstantTimeCompare([]byte(form), []byte(auth.XSRFToken(secret))) != 1 {
				return r.failWith(http.StatusForbidden, "This form has expired or did not come from this console. Go back, reload the page and try again.")
			}
		}
		if acc == adminOnly && !caller.Admin {
			return r.failWith(http.StatusForbidden, "This page is for administrators. Your own account is under My account.")
		}
		ec.SetRequest(hr.WithContext(store.WithActor(hr.Context(), store.Actor{Login: caller.Login, API: "console", Op: op})))
		return h(r)
	}
}

// view is what every page template gets.
type view struct {
	Title  string
	Nav    string // the menu entry to mark current
	Caller store.Caller
	XSRF   string
	Notice string
	D      any // the page's own data
}

// render writes page with status.
func (r *request) render(status int, page, title, nav string, d any) error {
	t, ok := r.con.pages[page]
	if !ok {
		return fmt.Errorf("console: no page %q", page)
	}
	v := view{Title: title, Nav: nav, Caller: r.caller, D: d, Notice: notices[r.QueryParam("done")]}
	if r.secret != "" {
		v.XSRF = auth.XSRFToken(r.secret)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return err
	}
	return r.HTMLBlob(status, b.Bytes())
}

// notices are the messages a redirect after a successful form may show
// (?done=key): fixed texts, so a link cannot make the console say anything.
var notices = map[string]string{
	"saved": "Saved.", "deactivated": "The user was deactivated.", "reactivated": "The user was reactivated.",
	"unlocked": "The lockout was lifted.", "password": "The password was changed.", "revoked": "The token was revoked.",
	"added": "The member was added.", "removed": "The member was removed.", "granted": "The permission was granted.",
	"withdrawn": "The permission was withdrawn.",
}

// done redirects (303) to path after a successful form, with a notice.
func (r *request) done(path, notice string) error {
	return r.Redirect(http.StatusSeeOther, Prefix+path+"?done="+notice)
}

// fail answers a use case's error with an error page in the console's
// format: its message, and the status its code stands for.
func (r *request) fail(err error) error {
	status := map[string]int{store.ENotFound: 404, store.EForbidden: 403, store.EManaged: 400, store.EInvalid: 400,
		store.EConflict: 409, store.EUnauthenticated: 401, store.EUnavailable: 503}[store.ErrorCode(err)]
	if status == 0 {
		r.con.log.Error("console: internal error", "err", err)
		status = 500
	}
	if status == 503 {
		r.Response().Header().Set("Retry-After", webapi.RetryAfter)
	}
	return r.failWith(status, store.ErrorMessage(err))
}

func (r *request) failWith(status int, msg string) error {
	back := ""
	if u, err := url.Parse(r.Request().Referer()); err == nil && (u.Host == "" || u.Host == r.Request().Host) &&
		strings.HasPrefix(u.Path, Prefix+"/") {
		back = u.RequestURI() // only back to a page of this console
	}
	return r.render(status, "error", "Error", "", struct{ Message, Back string }{msg, back})
}

// form returns a trimmed form value.
func (r *request) form(name string) string { return strings.TrimSpace(r.FormValue(name)) }

// pageNumber is the 1-based page of ?p=, clamped to [1, 10000].
func (r *request) pageNumber() int {
	p, err := strconv.Atoi(r.QueryParam("p"))
	if err != nil || p < 1 {
		return 1
	}
	return min(p, 10000)
}

// pageSize is how many rows a list page shows.
const pageSize = 50

// pager is what a list page needs to link its pages. Total is -1 when the
// list stopped counting after the page (More: there is a next page).
type pager struct {
	Page, Total int
	More        bool
	Query       url.Values
}

// window keeps the rows of one page while counting them all.
type window struct {
	page, n int
}

// take counts a row and reports whether it is on the page.
func (w *window) take() bool {
	w.n++
	return w.n > (w.page-1)*pageSize && w.n <= w.page*pageSize
}

// past reports whether a row beyond the page has been counted: a list that
// need not count them all may stop there.
func (w *window) past() bool { return w.n > w.page*pageSize }

// pager links the pages; a list that stopped once past the page gives the
// total it knows otherwise (-1: unknown).
func (w *window) pager(q url.Values, total int) pager {
	if total < 0 && !w.past() {
		total = w.n // it did not stop: it counted them all
	}
	return pager{Page: w.page, Total: total, More: w.past() || total > w.page*pageSize, Query: q}
}

var funcs = template.FuncMap{
	"date": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return "never"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	// pageURL is the list's URL for page p, keeping its filters.
	"pageURL": func(pg pager, p int) string {
		q := url.Values{}
		for k, v := range pg.Query {
			q[k] = v
		}
		q.Set("p", strconv.Itoa(p))
		return "?" + q.Encode()
	},
	"pages": func(pg pager) int { return max(1, (pg.Total+pageSize-1)/pageSize) },
	"sub":   func(a, b int) int { return a - b },
	"add":   func(a, b int) int { return a + b },
	// tokenArgs and permArgs bundle what the shared "tokens" and
	// "permission-form" templates need.
	"tokenArgs": func(tokens []store.Token, xsrf, action string, edit bool) any {
		return struct {
			Tokens       []store.Token
			XSRF, Action string
			Edit         bool
		}{tokens, xsrf, action, edit}
	},
	"permArgs": func(xsrf, action string, all []string) any {
		return struct {
			XSRF, Action string
			All          []string
		}{xsrf, action, all}
	},
}

// errNoSuchPage is the 404 of an unknown id in a console URL.
var errNoSuchPage = store.Errorf(store.ENotFound, "There is nothing here: it may have been deleted.")

// notFound turns a lookup's ErrNotFound into errNoSuchPage.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) || store.IsNotFound(err) {
		return errNoSuchPage
	}
	return err
}
