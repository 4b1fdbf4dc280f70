// Package scim serves the SCIM 2.0 API (RFC 7643/7644) at /api/scim/v2 (and
// /scim/v2) over the store. github.com/elimity-com/scim serves discovery
// (ResourceTypes, Schemas; ServiceProviderConfig with the flags corrected to
// what is served), validates POST and PUT bodies against its schemas and
// calls our ResourceHandlers. Reads, PATCH, .search and Bulk are ours: the
// library's filter.Validator evaluates one decoded resource at a time, while
// lists here answer indexed equalities from the store's indexes, stream
// sorted pages from ordered indexes and skip decoding what a filter does not
// name; its PATCH path parser costs about 150 µs per operation. Every rule
// (names, deactivation, last administrators, memberships) is the store's:
// this package maps SCIM documents to store types and store errors to SCIM
// errors (errors.go), and audits refusals where they are answered.
package scim

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	scimlib "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// Prefix is where the SCIM API is mounted, as in SonarQube.
const Prefix = "/api/scim/v2"

// AliasPrefix is the SCIM root many IdP setup guides and auto-discovery
// assume; the same API is served there too unless turned off.
const AliasPrefix = "/scim/v2"

const (
	contentType     = "application/scim+json"
	defaultCount    = 100
	maxCount        = 1000
	defaultMaxBytes = 1 << 20
)

// Options configure the SCIM API.
type Options struct {
	// BaseURL is the absolute URL clients reach Prefix at, used in
	// meta.location and Location headers, e.g. "https://idm.example.com/api/scim/v2".
	BaseURL string
	// Prefix is the path the API is mounted at: Prefix (the default) or
	// AliasPrefix.
	Prefix string
	// MaxBodyBytes bounds request bodies (default 1 MiB); larger ones get 413.
	MaxBodyBytes int64
	Logger       *slog.Logger
	// Auth checks credentials (tokens, passwords with lockout and expiry,
	// trusted hosts); share one between both APIs. Sessions are not
	// accepted here. Client addresses come from echo's RealIP.
	Auth *auth.Authenticator
}

// allowStringValues sets, once, the library's process-global acceptance of
// "True"/"False" strings for booleans.
var allowStringValues sync.Once

// Handler serves the SCIM API.
type Handler struct {
	prefix  string
	labels  map[string][3]string // route labels by endpoint: list, {id}, .search
	store   store.Store
	baseURL string
	maxBody int64
	log     *slog.Logger
	lib     scimlib.Server
	auth    *auth.Authenticator
}

// New builds the SCIM API over s.
func New(s store.Store, opts Options) (*Handler, error) {
	h := &Handler{prefix: cmp.Or(opts.Prefix, Prefix), store: s, baseURL: strings.TrimRight(opts.BaseURL, "/"), maxBody: opts.MaxBodyBytes, log: opts.Logger, auth: opts.Auth}
	if h.maxBody <= 0 {
		h.maxBody = defaultMaxBytes
	}
	h.labels = map[string][3]string{}
	for _, e := range endpoints {
		h.labels[e] = [3]string{h.prefix + "/" + e, h.prefix + "/" + e + "/{id}", h.prefix + "/" + e + "/.search"}
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.auth == nil {
		h.auth = auth.New(s, store.DefaultPolicy(), nil)
	}
	// Entra sends booleans as "True"/"False" strings. Process-global.
	allowStringValues.Do(func() { schema.SetAllowStringValues(true) })
	lib, err := scimlib.NewServer(&scimlib.ServerArgs{
		ServiceProviderConfig: &scimlib.ServiceProviderConfig{
			DocumentationURI: optional.NewString("https://github.com/scimgate/scimgate#readme"),
			AuthenticationSchemes: []scimlib.AuthenticationScheme{{
				Type: scimlib.AuthenticationTypeOauthBearerToken, Name: "Bearer token",
				Description: "A user token of an administrator, sent as Authorization: Bearer <token>", Primary: true,
			}, {
				Type: scimlib.AuthenticationTypeHTTPBasic, Name: "HTTP Basic",
				Description: "Basic with a user token of an administrator as the user name and an empty password; passwords are not accepted",
			}},
			MaxResults:       maxCount,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scimlib.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Description:      optional.NewString("User Account"),
			Schema:           userSchema,
			SchemaExtensions: []scimlib.SchemaExtension{{Schema: enterpriseSchema}},
			Handler:          users{h},
		}, {
			ID: optional.NewString("Group"), Name: "Group", Endpoint: "/Groups",
			Description: optional.NewString("Group"),
			Schema:      groupSchema,
			Handler:     groups{h},
		}},
	}, scimlib.WithBaseURL(h.baseURL))
	if err != nil {
		return nil, err
	}
	h.lib = lib
	return h, nil
}

// Register mounts the API on e under its prefix, behind authentication.
func (h *Handler) Register(e *echo.Echo) {
	g := e.Group(h.prefix, h.authenticate)
	g.Any("", h.serve)
	g.Any("/*", h.serve)
}

func (h *Handler) location(endpoint, id string) string {
	return h.baseURL + "/" + endpoint + "/" + id
}

type callerKey struct{}

// caller returns the authenticated user of a request.
func caller(r *http.Request) store.Caller {
	c, _ := r.Context().Value(callerKey{}).(store.Caller)
	return c
}

// authenticate admits administrators' tokens only: provisioning rewrites who
// may log in, and passwords are not accepted here.
func (h *Handler) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		caller, err := h.auth.AuthenticateToken(r.Context(), auth.Credentials{Header: r.Header.Get("Authorization"), IP: store.ParseIP(c.RealIP())})
		if store.ErrorCode(err) == store.EUnauthenticated {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="scimgate"`)
			writeError(c.Response(), scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: "Authentication is required"})
			return nil
		}
		if err != nil {
			writeError(c.Response(), h.asScim(err))
			return nil
		}
		if !caller.Admin {
			writeError(c.Response(), scimerrors.ScimError{Status: http.StatusForbidden, Detail: "Insufficient privileges"})
			return nil
		}
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), callerKey{}, caller)))
		return next(c)
	}
}

// endpoints maps lower-cased endpoint names to their canonical spelling: the
// Microsoft Postman collection asks for /users.
var endpoints = map[string]string{
	"users": "Users", "groups": "Groups", "schemas": "Schemas",
	"resourcetypes": "ResourceTypes", "serviceproviderconfig": "ServiceProviderConfig", "bulk": "Bulk",
}

// serve answers one request, then audits it if it was a refused write.
func (h *Handler) serve(c echo.Context) error {
	a := &answer{ResponseWriter: c.Response()}
	c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), answerKey{}, a)))
	r := h.route(c, a)
	if a.refusal != nil && r.Method != http.MethodGet {
		h.auditRefusal(r, *a.refusal)
	}
	return nil
}

// route routes one request: reads and PATCH to our own handlers, other
// writes and discovery to the library after bodies are bounded and
// normalised. It returns the request as it ended up (with the actor).
func (h *Handler) route(c echo.Context, w http.ResponseWriter) *http.Request {
	r := c.Request()
	setContentType(w)
	rest := strings.Trim(strings.TrimPrefix(r.URL.EscapedPath(), h.prefix), "/")
	var buf [3]string // at most three segments are looked at
	segs := buf[:0]
	if rest != "" {
		for seg := range strings.SplitSeq(rest, "/") {
			if segs = append(segs, seg); len(segs) == len(buf) {
				break
			}
		}
	}
	if len(segs) == 0 || len(segs) > 2 {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Specified endpoint does not exist."})
		return r
	}
	endpoint, ok := endpoints[strings.ToLower(segs[0])]
	if !ok {
		writeError(w, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Specified endpoint does not exist."})
		return r
	}
	segs[0] = endpoint
	switch labels := h.labels[endpoint]; {
	case len(segs) == 2 && segs[1] == ".search":
		c.SetPath(labels[2])
	case len(segs) == 2:
		c.SetPath(labels[1])
	default:
		c.SetPath(labels[0])
	}
	resource := endpoint == "Users" || endpoint == "Groups"
	if endpoint == "Bulk" {
		if r.Method != http.MethodPost || len(segs) != 1 {
			w.Header().Set("Allow", "POST")
			writeError(w, scimerrors.ScimError{Status: http.StatusMethodNotAllowed, Detail: "Bulk takes POST at /Bulk."})
			return r
		}
		h.bulk(c)
		return r
	}
	if resource && len(segs) == 2 && segs[1] == ".search" && r.Method == http.MethodPost {
		h.search(w, h.withActor(r, c), endpoint)
		return r
	}
	var allow string
	switch {
	case !resource:
		allow = "GET"
	case len(segs) == 1:
		allow = "GET, POST"
	case endpoint == "Users":
		allow = "GET, PUT, PATCH"
	default:
		allow = "GET, PUT, PATCH, DELETE"
	}
	if !allows(allow, r.Method) {
		w.Header().Set("Allow", allow)
		detail := fmt.Sprintf("Method %s is not allowed here; allowed: %s.", r.Method, allow)
		if r.Method == http.MethodDelete && endpoint == "Users" {
			detail = "Users cannot be deleted. Deprovision them with PATCH active=false (reversible); in Entra ID, untick the Delete target action."
		}
		writeError(w, scimerrors.ScimError{Status: http.StatusMethodNotAllowed, Detail: detail})
		return r
	}
	r = h.withActor(r, c)
	if resource && len(segs) == 2 {
		id, err := url.PathUnescape(segs[1])
		if err != nil || !store.ValidID(id) {
			writeError(w, h.asScim(notFound(segs[1])))
			return r
		}
		segs[1] = id
	}
	switch {
	case resource && r.Method == http.MethodGet && len(segs) == 1:
		h.list(w, r, r.URL.Query(), endpoint)
		return r
	case resource && r.Method == http.MethodGet:
		h.get(w, r, endpoint, segs[1])
		return r
	case resource && r.Method == http.MethodPatch:
		h.patch(w, r, endpoint, segs[1])
		return r
	}
	if r.Method != http.MethodGet {
		if err := h.prepareBody(r, endpoint); err != nil {
			writeError(w, h.asScim(err))
			return r
		}
	}
	if endpoint == "ServiceProviderConfig" {
		h.serviceProviderConfig(w, r)
		return r
	}
	lib := r.Clone(r.Context()) // a copy: the request log keeps the full path
	lib.URL.Path, lib.URL.RawPath = "/"+strings.Join(segs, "/"), ""
	h.lib.ServeHTTP(w, lib)
	return r
}

// withActor returns r carrying the audit actor, and sets it on c.
func (h *Handler) withActor(r *http.Request, c echo.Context) *http.Request {
	endpoint, _, _ := strings.Cut(strings.Trim(strings.TrimPrefix(r.URL.Path, h.prefix), "/"), "/")
	if e, ok := endpoints[strings.ToLower(endpoint)]; ok {
		endpoint = e
	}
	r = r.WithContext(store.WithActor(r.Context(), store.Actor{Login: caller(r).Login, Token: caller(r).TokenName, API: "scim", Op: r.Method + " /" + endpoint}))
	c.SetRequest(r)
	return r
}

// IsRoute reports whether p is one of the route patterns the handler sets
// as the request's path (echo's Context.Path) for metrics:
// "/api/scim/v2/Users/{id}" whatever the id.
func IsRoute(p string) bool {
	rest, ok := strings.CutPrefix(p, Prefix+"/")
	if !ok {
		if rest, ok = strings.CutPrefix(p, AliasPrefix+"/"); !ok {
			return false
		}
	}
	endpoint, suffix, _ := strings.Cut(rest, "/")
	return endpoints[strings.ToLower(endpoint)] == endpoint && (suffix == "" || suffix == "{id}" || suffix == ".search")
}

// serviceProviderConfig answers what is served, not the library's fixed
// flags: ETags and If-Match, sorting and bulk are supported.
func (h *Handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	r = r.Clone(r.Context())
	r.URL.Path, r.URL.RawPath = "/ServiceProviderConfig", ""
	h.lib.ServeHTTP(rec, r)
	var doc map[string]any
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
		writeError(w, scimerrors.ScimErrorInternal)
		return
	}
	doc["etag"] = map[string]bool{"supported": true}
	doc["sort"] = map[string]bool{"supported": true}
	doc["bulk"] = map[string]any{"supported": true, "maxOperations": maxBulkOperations, "maxPayloadSize": h.maxBody}
	doc["filter"] = map[string]any{"supported": true, "maxResults": maxCount}
	writeJSON(w, http.StatusOK, doc)
}

// allows reports whether method is in the comma-separated list allow.
func allows(allow, method string) bool {
	for m := range strings.SplitSeq(allow, ", ") {
		if m == method {
			return true
		}
	}
	return false
}
