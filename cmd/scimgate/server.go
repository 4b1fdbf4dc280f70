package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scimgate/scimgate/scim"
	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/webapi"
	"github.com/scimgate/scimgate/webapi/console"
	v2 "github.com/scimgate/scimgate/webapi/v2"
)

// server is the HTTP side: both APIs over one audited store, plus health,
// readiness and metrics.
type server struct {
	echo     *echo.Echo
	proxies  []*net.IPNet
	raw      store.Store // the backend, for its write health
	store    store.Store // audited
	log      *slog.Logger
	metrics  *metrics
	auth     *auth.Authenticator
	draining atomic.Bool // set on shutdown: /readyz answers 503
}

// serverOptions is what newServer needs beyond the store.
type serverOptions struct {
	BaseURL string
	Policy  store.Policy
	Lockout *auth.Lockout // nil: no lockout
	Proxies []*net.IPNet  // whose X-Forwarded-For and X-Forwarded-Proto are believed
	// MetricsApart: /metrics is served on its own listener (see
	// metricsHandler), not beside the APIs.
	MetricsApart bool
	// Version and Edition are what the platform actions report (empty:
	// webapi's defaults).
	Version, Edition string
	// NoSCIMAlias: SCIM is served at /api/scim/v2 only, not also at /scim/v2.
	NoSCIMAlias bool
}

// newServer wires both APIs over raw, the backend store, sharing one
// authenticator (policy, lockout, sessions).
func newServer(raw store.Store, o serverOptions, log *slog.Logger) (*server, error) {
	s := &server{log: log, proxies: o.Proxies, raw: raw}
	s.metrics = newMetrics(raw)
	s.store = store.Audited(raw, s.metrics.audited)
	s.auth = auth.New(s.store, o.Policy, o.Lockout)
	s.auth.OnError = func(err error) { log.Warn("cannot record a last connection", "err", err) }
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(o.Proxies)
	s.echo = e
	e.HTTPErrorHandler = errorHandler(log)
	// Recover is innermost, so a panicking request is still answered in its
	// API's format, logged and counted.
	recoverer := middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true})
	e.Use(s.requestLog, s.https, retryAfter, s.metrics.middleware, recoverer)
	prefixes := []string{scim.Prefix}
	if !o.NoSCIMAlias {
		prefixes = append(prefixes, scim.AliasPrefix)
	}
	for _, prefix := range prefixes { // meta.location follows the root the client used
		h, err := scim.New(s.store, scim.Options{BaseURL: o.BaseURL + prefix, Prefix: prefix, Logger: log, Auth: s.auth})
		if err != nil {
			return nil, err
		}
		h.Register(e)
	}
	api := webapi.New(s.store, s.auth, log)
	if o.Version != "" {
		api.Version = o.Version
	}
	if o.Edition != "" {
		api.Edition = o.Edition
	}
	api.Register(e)
	v2.New(s.store, s.auth, log).Register(e)
	console.New(s.store, s.auth, log).Register(e)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", s.ready)
	if !o.MetricsApart {
		e.GET("/metrics", echo.WrapHandler(s.metricsHandler()))
	}
	return s, nil
}

// metricsHandler serves the Prometheus metrics.
func (s *server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

// https marks the requests that came over HTTPS, through scimgate's own TLS
// or from a trusted proxy saying X-Forwarded-Proto: https (anyone else's
// header is ignored), so their cookies are Secure, and answers them with
// HSTS.
func (s *server) https(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") && s.fromProxy(r) {
			c.SetRequest(webapi.WithHTTPS(r))
			c.Response().Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// fromProxy reports whether the TCP peer of r is a trusted proxy.
func (s *server) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil {
		return false
	}
	for _, p := range s.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// errorHandler answers what no handler answered (unknown paths outside the
// APIs' own catch-alls, wrong methods, panics) in the format of the API the
// path belongs to: SCIM's error, SonarQube's {"errors":[...]}, else text.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status := http.StatusInternalServerError
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status = he.Code
		}
		msg := http.StatusText(status)
		if status >= 500 {
			if clientGone(c) {
				log.Debug("request failed: the client went away", "path", c.Request().URL.Path, "err", err)
			} else {
				log.Error("request failed", "path", c.Request().URL.Path, "err", err)
			}
			msg = "An error has occurred. Please contact your administrator"
		}
		path := c.Request().URL.Path
		switch {
		case strings.HasPrefix(path, scim.Prefix) || strings.HasPrefix(path, scim.AliasPrefix):
			scim.WriteError(c.Response(), status, msg)
		case strings.HasPrefix(path, "/api/"):
			_ = c.JSON(status, map[string]any{"errors": []map[string]string{{"msg": msg}}})
		default:
			_ = c.String(status, msg)
		}
	}
}

// retryAfter adds Retry-After to every 503 that lacks one (SCIM errors are
// written by the library): the store could not write, and may later.
func retryAfter(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Before(func() {
			if c.Response().Status == http.StatusServiceUnavailable && c.Response().Header().Get("Retry-After") == "" {
				c.Response().Header().Set("Retry-After", webapi.RetryAfter)
			}
		})
		return next(c)
	}
}

// ipExtractor returns the client address: the TCP peer, or with trusted
// proxies the first X-Forwarded-For hop not among them. Headers from anyone
// else are ignored, so trusted hosts cannot be spoofed.
func ipExtractor(proxies []*net.IPNet) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		opts = append(opts, echo.TrustIPRange(p))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// ready answers 200 when the store answers and the server is not draining.
func (s *server) ready(c echo.Context) error {
	if s.draining.Load() {
		return c.String(http.StatusServiceUnavailable, "shutting down")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.store.View(ctx, func(tx store.Tx) error { _, err := tx.CountUsers(); return err }); err != nil {
		return c.String(http.StatusServiceUnavailable, "store unavailable")
	}
	if wh, ok := s.raw.(store.WriteHealth); ok && wh.WriteError() != nil {
		c.Response().Header().Set("Retry-After", webapi.RetryAfter)
		return c.String(http.StatusServiceUnavailable, "store not writable: the last write failed (storage full or failing); ready again after a write succeeds")
	}
	return c.String(http.StatusOK, "ready")
}

var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestLog logs one line per request: id, method, path (never the query
// or headers: they may carry secrets), status, latency and the caller.
func (s *server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := c.Request().Header.Get("X-Request-Id")
		if !requestIDRe.MatchString(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header().Set("X-Request-Id", id)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		ctx := c.Request().Context()
		if !s.log.Enabled(ctx, slog.LevelInfo) {
			return nil
		}
		// A record without a caller's program counter (LogAttrs would
		// unwind the stack for one, every request).
		now := time.Now()
		r := slog.NewRecord(now, slog.LevelInfo, "request", 0)
		r.AddAttrs(slog.String("id", id), slog.String("method", c.Request().Method), slog.String("path", c.Request().URL.Path),
			slog.Int("status", recordedStatus(c)), slog.Duration("latency", now.Sub(start)),
			slog.String("caller", store.ActorFrom(ctx).Login), slog.String("remote", c.RealIP()))
		s.log.Handler().Handle(ctx, r) // as LogAttrs: a log that fails does not fail the request
		return nil
	}
}

// statusClientClosed is what the request log and the metrics record for a
// server error answered to a client that went away first (nginx's 499):
// the store call its request's context cancelled failed, the 500 reaches
// nobody, and counted as a server error it would alert an operator to a
// client's timeout.
const statusClientClosed = 499

// clientGone reports whether c's client closed its connection before the
// answer (the server cancels the request's context then; shutting down
// lets requests finish, and timeouts end contexts with another error).
func clientGone(c echo.Context) bool {
	return errors.Is(c.Request().Context().Err(), context.Canceled)
}

// recordedStatus is the status the request log and the metrics record.
func recordedStatus(c echo.Context) int {
	if st := c.Response().Status; st < 500 || !clientGone(c) {
		return st
	}
	return statusClientClosed
}

func routeLabel(c echo.Context) string {
	p := c.Path() // the route's pattern; the SCIM handler sets its own (Users/{id}...)
	switch {
	case p == "" || p == "/api/*":
		return "unknown"
	case strings.HasPrefix(p, scim.Prefix) || strings.HasPrefix(p, scim.AliasPrefix):
		if scim.IsRoute(p) {
			return p
		}
		return "unknown"
	}
	return p
}
