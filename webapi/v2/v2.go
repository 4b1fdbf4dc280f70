// Package v2 serves SonarQube's REST API v2 for users, groups and group
// memberships (SonarQube 10.4+ shapes): /api/v2/users-management/users,
// /api/v2/authorizations/groups and /api/v2/authorizations/group-memberships.
// It calls the same use cases as the v1 Web API and SCIM (package store), so
// provisioned users and groups are refused here exactly as there. One table
// of routes drives routing, parameter checks and the OpenAPI document served
// at /api/v2/api-docs.
package v2

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// API serves the REST API v2.
type API struct {
	store  store.Store
	auth   *auth.Authenticator
	log    *slog.Logger
	routes []route
}

// access is who may call a route.
type access int

const (
	anyone   access = iota // anonymous callers too
	loggedIn               // any authenticated user
	admin                  // global "admin"
)

// param is a query parameter of a route.
type param struct {
	Name, Desc string
	Type       string // "string", "integer" or "boolean"
	Default    string
	Max        int  // integers: largest value; 0 none
	AdminOnly  bool // only administrators may use it
}

// route is one endpoint: the table of these routes, checks and documents.
type route struct {
	Method, Path string // echo path, {id} as :id
	Summary      string
	Access       access
	Params       []param
	Body         any    // a value of the request body's type, for the document; nil: none
	MergePatch   bool   // the body is application/merge-patch+json
	Status       int    // success status
	Result       string // what a success answers, for the document
	Handle       func(*call) error
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// New returns the REST API v2 over s; authn checks credentials as for v1.
func New(s store.Store, authn *auth.Authenticator, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	a := &API{store: s, auth: authn, log: log}
	a.routes = append(append(append([]route{}, userRoutes...), groupRoutes...), membershipRoutes...)
	a.routes = append(a.routes, route{Method: http.MethodGet, Path: "/api/v2/api-docs", Summary: "This API's OpenAPI 3 document",
		Access: anyone, Status: http.StatusOK, Result: "the document", Handle: func(cl *call) error { return cl.c.JSON(http.StatusOK, a.openAPI()) }})
	return a
}

// Register mounts every route on e, and answers other /api/v2 paths 404.
func (a *API) Register(e *echo.Echo) {
	for _, r := range a.routes {
		r := r
		e.Add(r.Method, r.Path, func(c echo.Context) error { return a.serve(c, r) })
	}
	e.Any("/api/v2/*", func(c echo.Context) error {
		return writeMessage(c, http.StatusNotFound, "Unknown url: "+c.Request().URL.Path)
	})
}

// call is one request being served.
type call struct {
	api    *API
	c      echo.Context
	caller *store.Caller // nil: anonymous
	route  route
}

// errorBody is SonarQube's v2 error.
type errorBody struct {
	Message string `json:"message"`
}

// refusalKey is where an answer's message waits, for the audit trail.
const refusalKey = "scimgate.v2.refusal"

func writeMessage(c echo.Context, status int, msg string) error {
	c.Set(refusalKey, msg)
	return c.JSON(status, errorBody{msg})
}

// auditRefusal records a refused write of an authenticated caller in the
// audit trail with its message, as v1 and SCIM do.
func (a *API) auditRefusal(c echo.Context, r route) {
	status := c.Response().Status
	msg, _ := c.Get(refusalKey).(string)
	if status < 400 || status >= 500 || status == http.StatusUnauthorized || msg == "" {
		return
	}
	kind := "group"
	if strings.HasPrefix(r.Path, usersPath) {
		kind = "user"
	}
	ctx := context.WithoutCancel(c.Request().Context())
	if err := store.RecordRefusal(ctx, a.store, kind, c.Param("id"), msg); err != nil {
		a.log.Error("audit: cannot record a refusal", "err", err)
	}
}

// fail maps a use case's error to SonarQube's v2 status and body, in one
// place.
func (a *API) fail(c echo.Context, err error) error {
	if err == nil {
		return nil
	}
	var he *httpError
	if errors.As(err, &he) {
		return writeMessage(c, he.status, he.msg)
	}
	msg := store.ErrorMessage(err)
	switch store.ErrorCode(err) {
	case store.EInvalid, store.EConflict, store.EManaged:
		var se *store.Error
		if errors.As(err, &se) && len(se.All) > 1 {
			msg = strings.Join(se.All, ", ")
		}
		return writeMessage(c, http.StatusBadRequest, msg)
	case store.ENotFound:
		return writeMessage(c, http.StatusNotFound, msg)
	case store.EForbidden:
		return writeMessage(c, http.StatusForbidden, msg)
	case store.EUnauthenticated:
		return writeMessage(c, http.StatusUnauthorized, msg)
	case store.EUnavailable:
		c.Response().Header().Set("Retry-After", "5")
		return writeMessage(c, http.StatusServiceUnavailable, msg)
	}
	a.log.Error("api v2: internal error", "path", c.Path(), "err", err)
	return writeMessage(c, http.StatusInternalServerError, "An error has occurred. Please contact your administrator")
}

// serve authenticates, checks access and parameters, then runs the route.
func (a *API) serve(c echo.Context, r route) error {
	cl := &call{api: a, c: c, route: r}
	req := c.Request()
	cr := auth.Credentials{Header: req.Header.Get("Authorization"), IP: store.ParseIP(c.RealIP())}
	if ck, err := req.Cookie("SCIMGATE-SESSION"); err == nil && cr.Header == "" {
		cr.Session = ck.Value
	}
	if cr.Header != "" || cr.Session != "" {
		caller, err := a.auth.Authenticate(req.Context(), cr)
		switch {
		case err == auth.ErrPasswordExpired:
			return writeMessage(c, http.StatusUnauthorized, store.ErrorMessage(err))
		case err != nil:
			return c.NoContent(http.StatusUnauthorized) // bad credentials: no hint, as v1
		case caller.TokenType != "" && caller.TokenType != store.TokenUser:
			return writeMessage(c, http.StatusForbidden, "Insufficient privileges") // analysis tokens only analyse
		case caller.Via == "session" && r.Method != http.MethodGet &&
			subtle.ConstantTimeCompare([]byte(auth.XSRFToken(cr.Session)), []byte(req.Header.Get("X-XSRF-TOKEN"))) != 1:
			return c.NoContent(http.StatusUnauthorized)
		}
		cl.caller = &caller
		c.SetRequest(req.WithContext(store.WithActor(req.Context(), store.Actor{Login: caller.Login, API: "webapi", Op: r.Method + " " + r.Path})))
		if r.Method != http.MethodGet {
			defer a.auditRefusal(c, r)
		}
	}
	switch {
	case r.Access >= loggedIn && cl.caller == nil:
		return writeMessage(c, http.StatusUnauthorized, "Authentication is required")
	case r.Access == admin && !cl.caller.Admin:
		return writeMessage(c, http.StatusForbidden, "Insufficient privileges")
	}
	q := c.Request().URL.Query()
	for _, p := range r.Params {
		v, present := q[p.Name]
		if !present {
			continue
		}
		if p.AdminOnly && !cl.isAdmin() {
			return writeMessage(c, http.StatusForbidden, "Parameter "+p.Name+" requires Administer System permission.")
		}
		switch p.Type {
		case "integer":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 0 || p.Max > 0 && n > p.Max {
				msg := "Value of parameter '" + p.Name + "' (" + v[0] + ") must be a non-negative integer"
				if p.Max > 0 {
					msg += " of at most " + strconv.Itoa(p.Max)
				}
				return writeMessage(c, http.StatusBadRequest, msg)
			}
		case "boolean":
			if v[0] != "true" && v[0] != "false" {
				return writeMessage(c, http.StatusBadRequest, "Value of parameter '"+p.Name+"' ("+v[0]+") must be true or false")
			}
		}
	}
	return a.fail(c, r.Handle(cl))
}

func (cl *call) isAdmin() bool { return cl.caller != nil && cl.caller.Admin }

// callerOf is the caller as the use cases take it.
func (cl *call) callerOf() store.Caller {
	if cl.caller == nil {
		return store.Caller{}
	}
	return *cl.caller
}

// query returns a query parameter, or its default.
func (cl *call) query(name string) string {
	if v, ok := cl.c.Request().URL.Query()[name]; ok {
		return v[0]
	}
	for _, p := range cl.route.Params {
		if p.Name == name {
			return p.Default
		}
	}
	return ""
}

func (cl *call) has(name string) bool {
	_, ok := cl.c.Request().URL.Query()[name]
	return ok
}

func (cl *call) int(name string) int {
	n, _ := strconv.Atoi(cl.query(name))
	return n
}

// decode reads the JSON body into v: 415 for another content type, 400 for
// a body that is not JSON of v's shape.
func (cl *call) decode(v any) error {
	want := "application/json"
	if cl.route.MergePatch {
		want = "application/merge-patch+json"
	}
	mt, _, err := mime.ParseMediaType(cl.c.Request().Header.Get("Content-Type"))
	if err != nil || mt != want && !(cl.route.MergePatch && mt == "application/json") {
		return &httpError{http.StatusUnsupportedMediaType, "Content-Type must be " + want}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(cl.c.Response(), cl.c.Request().Body, maxBody))
	if err != nil {
		return &httpError{http.StatusRequestEntityTooLarge, "The request body is too large"}
	}
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil || d.More() {
		return &httpError{http.StatusBadRequest, "The request body is not valid JSON of the expected shape"}
	}
	return nil
}

// httpError is an answer of the adapter itself (content type, body shape).
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// page is SonarQube's v2 page object.
type page struct {
	PageIndex int `json:"pageIndex"`
	PageSize  int `json:"pageSize"`
	Total     int `json:"total"`
}

// pager collects the items of one page while counting all of them.
type pager struct {
	index, size, offset, total int
}

func (cl *call) pager() *pager {
	p := &pager{index: max(cl.int("pageIndex"), 1), size: cl.int("pageSize")}
	p.offset = int(^uint(0) >> 2)
	if p.size == 0 || p.index-1 <= p.offset/p.size {
		p.offset = (p.index - 1) * p.size
	}
	return p
}

// take counts one item and reports whether it is on the page.
func (p *pager) take() bool {
	p.total++
	return p.total > p.offset && p.total <= p.offset+p.size
}

func (p *pager) page() page { return page{p.index, p.size, p.total} }

var pageParams = []param{
	{Name: "pageIndex", Desc: "1-based page index", Type: "integer", Default: "1"},
	{Name: "pageSize", Desc: "Page size, at most 500", Type: "integer", Default: "50", Max: 500},
}
