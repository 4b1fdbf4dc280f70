package webapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// maxBodyBytes bounds form bodies; Web API parameters are small.
const maxBodyBytes = 1 << 20

// access is who may call an action.
type access int

const (
	anyone    access = iota // anonymous callers too
	loggedIn                // any authenticated user
	userAdmin               // "admin", or "useradmin" within its own permissions (see store.Guard)
	admin                   // global "admin" permission
)

// param declares one parameter; declarations are checked in order, which is
// the order SonarQube reads them in, so the first error reported matches.
type param struct {
	Key       string
	Desc      string
	Required  bool
	MinLen    int
	MaxLen    int
	Values    []string // possible values
	Default   string
	Multi     bool
	Int       bool
	MaxValue  int // for integers; 0 = none
	MinValue  int // for integers, reported as SonarQube's paging message
	Internal  bool
	Since     string
	Example   string
	Untrimmed bool
}

// action is one Web API action: the table of these drives routing,
// validation and api/webservices/list.
type action struct {
	path     string // controller path and key, set when registered
	Key      string
	Post     bool
	AnyVerb  bool // GET and POST alike (api/authentication/validate)
	Since    string
	Desc     string
	Internal bool
	Access   access
	Params   []param
	Handle   func(*call) error
}

// controller groups actions under a path such as "api/users".
type controller struct {
	Path   string
	Since  string
	Desc   string
	Action []action
}

// call is one request being served.
type call struct {
	api    *API
	c      echo.Context
	caller *store.User // nil when anonymous
	admin  bool
	// expired: the caller's password has expired; only changing it is allowed.
	expired bool
	values  map[string][]string
	params  []param
}

func (a *API) register(e *echo.Echo, ctl controller) {
	for _, act := range ctl.Action {
		act := act
		act.path = ctl.Path + "/" + act.Key
		e.Any("/"+ctl.Path+"/"+act.Key, func(c echo.Context) error { return a.serve(c, act) })
	}
}

// serve checks method, authentication, privileges and parameters, then runs
// the action, mapping its error to SonarQube's format in one place.
func (a *API) serve(c echo.Context, act action) error {
	r := c.Request()
	want := http.MethodGet
	if act.Post {
		want = http.MethodPost
	}
	if r.Method != want && !(act.AnyVerb && (r.Method == http.MethodGet || r.Method == http.MethodPost)) {
		if r.Method == http.MethodGet || r.Method == http.MethodPost {
			return writeErrors(c, http.StatusMethodNotAllowed, "HTTP method "+want+" is required")
		}
		return writeErrors(c, http.StatusMethodNotAllowed, "HTTP method "+r.Method+" is not allowed")
	}
	cl := &call{api: a, c: c}
	if answered, err := a.authenticate(cl, act); answered {
		return err
	}
	if cl.caller != nil {
		r = r.WithContext(store.WithActor(r.Context(), store.Actor{Login: cl.caller.Login, API: "webapi", Op: act.path}))
		c.SetRequest(r)
		if act.Post {
			defer a.auditRefusal(cl, act)
		}
	}
	switch {
	case act.Access >= loggedIn && cl.caller == nil:
		return writeErrors(c, http.StatusUnauthorized, "Authentication is required")
	case act.Access == admin && !cl.admin:
		return writeErrors(c, http.StatusForbidden, "Insufficient privileges")
	case act.Access == userAdmin && !cl.admin:
		ok, err := cl.holds(store.PermUserAdmin)
		if err != nil {
			return a.fail(c, err)
		}
		if !ok {
			return writeErrors(c, http.StatusForbidden, "Insufficient privileges")
		}
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return writeErrors(c, http.StatusRequestEntityTooLarge, "The request body is too large")
		}
		return writeErrors(c, http.StatusBadRequest, "The request parameters cannot be read")
	}
	cl.values, cl.params = r.Form, act.Params
	if err := cl.validate(); err != nil {
		return a.fail(c, err)
	}
	return a.fail(c, act.Handle(cl))
}

// auditRefusal records a refused write of an authenticated caller in the
// audit trail, with the message the caller got, where it happened.
func (a *API) auditRefusal(cl *call, act action) {
	c := cl.c
	status := c.Response().Status
	msg, _ := c.Get(refusalKey).(string)
	if status < 400 || status >= 500 || status == http.StatusUnauthorized || msg == "" {
		return
	}
	name := "/" + act.path
	for _, k := range []string{"login", "name", "groupName", "currentName", "project", "projectKey", "templateName", "templateId", "key", "organization", "from", "id"} {
		if v := cl.c.Request().Form.Get(k); v != "" {
			name = v
			break
		}
	}
	ctx := context.WithoutCancel(c.Request().Context())
	if err := store.RecordRefusal(ctx, a.store, refusalKind(act.path), name, msg); err != nil {
		a.log.Error("audit: cannot record a refusal", "err", err)
	}
}

// refusalKind names what an action is about, for the audit trail.
func refusalKind(path string) string {
	switch ctl, _, _ := strings.Cut(strings.TrimPrefix(path, "api/"), "/"); ctl {
	case "user_groups":
		return "group"
	case "permissions":
		return "permission"
	case "user_tokens":
		return "token"
	case "projects", "project_tags", "project_badges", "components":
		return "project"
	case "organizations":
		return "organization"
	}
	return "user"
}

// authenticate resolves the caller from the Authorization header or the
// session cookie. Bad credentials get 401 with an empty body; a session used
// for a POST must echo its XSRF cookie in the X-XSRF-TOKEN header. answered
// reports that the request has been answered (refused).
func (a *API) authenticate(cl *call, act action) (answered bool, err error) {
	c, r := cl.c, cl.c.Request()
	cr := auth.Credentials{Header: r.Header.Get("Authorization"), IP: clientIP(c)}
	if ck, err := r.Cookie(sessionCookie); err == nil && cr.Header == "" {
		cr.Session = ck.Value
	}
	if cr.Header == "" && cr.Session == "" || act.path == "api/authentication/login" || act.path == "api/authentication/logout" {
		return false, nil // logging in or out must work with stale credentials
	}
	caller, err := a.auth.Authenticate(r.Context(), cr)
	if err != nil && act.path == "api/authentication/validate" {
		return true, c.JSON(http.StatusOK, map[string]bool{"valid": false}) // SonarQube answers 200 here, never 401
	}
	if caller.Via == "session" && act.Post && !validXSRF(r, cr.Session) {
		return true, c.NoContent(http.StatusUnauthorized) // expired or not: a session's POST carries its token
	}
	switch {
	case err == auth.ErrPasswordExpired && act.path == "api/users/change_password":
		cl.expired = true
	case err == auth.ErrPasswordExpired:
		return true, writeErrors(c, http.StatusUnauthorized, store.ErrorMessage(err))
	case store.ErrorCode(err) == store.EUnauthenticated:
		return true, c.NoContent(http.StatusUnauthorized) // bad credentials: empty body, no hint
	case err != nil:
		return true, a.fail(c, err)
	}
	if caller.TokenType != "" && caller.TokenType != store.TokenUser && act.path != "api/authentication/validate" {
		return true, writeErrors(c, http.StatusForbidden, "Insufficient privileges") // analysis tokens only analyse
	}
	cl.caller, cl.admin = &caller.User, caller.Admin && !cl.expired
	return false, nil
}

// holds reports whether the caller holds a global permission.
func (cl *call) holds(perm string) (bool, error) {
	var ok bool
	err := cl.view(func(tx store.Tx) error {
		var err error
		ok, err = store.HasPermission(tx, cl.caller.ID, perm)
		return err
	})
	return ok, err
}

// validate applies SonarQube's parameter checks in declaration order.
func (cl *call) validate() error {
	for _, p := range cl.params {
		vals, present := cl.values[p.Key]
		if !present || len(vals) == 0 {
			if p.Required {
				return invalid("The '%s' parameter is missing", p.Key)
			}
			continue
		}
		for _, raw := range vals {
			if !utf8.ValidString(raw) || strings.ContainsRune(raw, 0) {
				return invalid("Value of parameter '%s' is not valid text", p.Key)
			}
			v := raw
			if !p.Untrimmed && !p.Multi {
				v = strings.TrimSpace(raw)
			}
			if len(p.Values) > 0 && !contains(p.Values, v) {
				return invalid("Value of parameter '%s' (%s) must be one of: [%s]", p.Key, v, strings.Join(p.Values, ", "))
			}
			if n := utf8.RuneCountInString(raw); p.MaxLen > 0 && n > p.MaxLen {
				return invalid("'%s' length (%d) is longer than the maximum authorized (%d)", p.Key, n, p.MaxLen)
			}
			if n := utf8.RuneCountInString(v); p.MinLen > 0 && n < p.MinLen {
				return invalid("'%s' length (%d) is shorter than the minimum authorized (%d)", p.Key, n, p.MinLen)
			}
			if p.Int {
				n, err := strconv.Atoi(v)
				if err != nil {
					return invalid("'%s' value '%s' cannot be parsed as an integer", p.Key, v)
				}
				if p.MaxValue > 0 && n > p.MaxValue {
					return invalid("'%s' value (%d) must be less than %d", p.Key, n, p.MaxValue)
				}
			}
		}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (cl *call) decl(key string) param {
	for _, p := range cl.params {
		if p.Key == key {
			return p
		}
	}
	panic("webapi: undeclared parameter " + key)
}

// has reports whether the request carries the parameter (an empty value
// counts as present, as in SonarQube).
func (cl *call) has(key string) bool {
	cl.decl(key)
	_, ok := cl.values[key]
	return ok
}

// str returns a parameter's value, trimmed, or its default.
func (cl *call) str(key string) string {
	p := cl.decl(key)
	vals, ok := cl.values[key]
	if !ok || len(vals) == 0 {
		return p.Default
	}
	if p.Untrimmed {
		return vals[0]
	}
	return strings.TrimSpace(vals[0])
}

func (cl *call) multi(key string) []string {
	cl.decl(key)
	return cl.values[key]
}

func (cl *call) bool(key string) bool {
	v := cl.str(key)
	return v == "true" || v == "yes"
}

func (cl *call) int(key string) int {
	n, _ := strconv.Atoi(cl.str(key))
	return n
}

// page returns the 1-based page index and page size.
func (cl *call) page() (int, int, error) {
	p, ps := cl.int("p"), cl.int("ps")
	if p < 1 {
		return 0, 0, invalid("Page index must be strictly positive. Got %d", p)
	}
	if ps < 0 {
		return 0, 0, invalid("Page size must be positive. Got %d", ps)
	}
	return p, ps, nil
}

func pagingParams(defSize, maxSize int) []param {
	return []param{
		{Key: "p", Desc: "1-based page number", Default: "1", Int: true, Example: "42"},
		{Key: "ps", Desc: "Page size. Must be greater than 0 and less or equal than " + strconv.Itoa(maxSize), Default: strconv.Itoa(defSize), Int: true, MaxValue: maxSize, Example: "20"},
	}
}

// isSelfOrAdmin reports whether the caller may see u's private fields.
func (cl *call) isSelfOrAdmin(u store.User) bool {
	return cl.admin || cl.caller != nil && cl.caller.ID == u.ID
}

// paging is SonarQube's paging object.
type paging struct {
	PageIndex int `json:"pageIndex"`
	PageSize  int `json:"pageSize"`
	Total     int `json:"total"`
}

// window collects items [offset, offset+size) while counting all of them.
type window struct {
	offset, size, total int
}

// newWindow returns the window of page p (from 1) of size ps. An offset too
// large to compute is past every item: the page is empty, never page 1.
func newWindow(p, ps int) *window {
	offset := math.MaxInt / 2
	if ps == 0 || p-1 <= offset/ps {
		offset = (p - 1) * ps
	}
	return &window{offset: offset, size: ps}
}

// take counts one item and reports whether it belongs to the page.
func (w *window) take() bool {
	w.total++
	return w.total > w.offset && w.total <= w.offset+w.size
}

// list pages l through w: keep decides which users count (see
// store.Listing.Page).
func (w *window) list(l store.Listing, keep func(store.User) (bool, error)) ([]store.User, error) {
	page, total, err := l.Page(keep, w.offset, w.size)
	w.total = total
	return page, err
}

func (w *window) paging(p int) paging { return paging{PageIndex: p, PageSize: w.size, Total: w.total} }
