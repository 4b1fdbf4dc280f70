package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/postgres"
	"github.com/scimgate/scimgate/webapi"
)

// config is the serve command's configuration, from flags and SCIMGATE_*
// environment variables (flags win).
type config struct {
	Addr string
	// MetricsAddr, when set, serves /metrics there instead of on Addr.
	MetricsAddr string
	DB          string
	BaseURL     string
	TLSCert     string
	TLSKey      string
	LogFormat   string
	LogLevel    string
	// LockoutThreshold failed password logins lock a login for
	// LockoutMinutes; tokens are unaffected. 0 disables the lockout.
	LockoutThreshold int
	LockoutMinutes   int
	// AuditRetentionDays is how long audit entries are kept; 0 keeps them.
	AuditRetentionDays int
	// Policy is the local-account policy: password rules and expiry,
	// session idle timeout.
	Policy store.Policy
	// TrustedProxies lists the proxies (CIDR) whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; without any, the client is the TCP
	// peer and only scimgate's own TLS counts as HTTPS.
	TrustedProxies string
	proxies        []*net.IPNet
	// SonarQubeVersion and Edition are what the platform actions report.
	SonarQubeVersion string
	Edition          string
	// SCIMAlias serves SCIM at /scim/v2 as well as /api/scim/v2.
	SCIMAlias bool
	badEnv    []string // boolean variables that did not parse
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

const dbUsage = "store: a bbolt file path, or a postgres:// URL (env SCIMGATE_DB)"

// openStore opens the store db names: a PostgreSQL database for a
// postgres:// URL, else the bbolt file at that path.
func openStore(ctx context.Context, db string) (store.Store, error) {
	if postgres.IsURL(db) {
		return postgres.Open(ctx, db)
	}
	return bolt.Open(db)
}

// dbName is db as logs and messages may show it: no password.
func dbName(db string) string {
	if postgres.IsURL(db) {
		return postgres.Redact(db)
	}
	return db
}

// dbFlag declares the -db flag every command that opens the store shares.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", env("SCIMGATE_DB", "./scimgate.db"), dbUsage)
}

func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", env("SCIMGATE_ADDR", "127.0.0.1:9000"), "listen address host:port (env SCIMGATE_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("SCIMGATE_METRICS_ADDR", ""), "serve /metrics on this host:port instead of beside the APIs (env SCIMGATE_METRICS_ADDR)")
	fs.StringVar(&c.DB, "db", env("SCIMGATE_DB", "./scimgate.db"), dbUsage)
	fs.StringVar(&c.BaseURL, "base-url", env("SCIMGATE_BASE_URL", ""), "public URL of this server, for SCIM meta.location (env SCIMGATE_BASE_URL; default http(s)://<addr>)")
	fs.StringVar(&c.TLSCert, "tls-cert", env("SCIMGATE_TLS_CERT", ""), "TLS certificate file, PEM (env SCIMGATE_TLS_CERT); with -tls-key serves HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", env("SCIMGATE_TLS_KEY", ""), "TLS private key file, PEM (env SCIMGATE_TLS_KEY)")
	fs.StringVar(&c.LogFormat, "log-format", env("SCIMGATE_LOG_FORMAT", "text"), "log format: text or json (env SCIMGATE_LOG_FORMAT)")
	fs.StringVar(&c.LogLevel, "log-level", env("SCIMGATE_LOG_LEVEL", "info"), "log level: debug, info, warn or error (env SCIMGATE_LOG_LEVEL)")
	fs.IntVar(&c.LockoutThreshold, "lockout-threshold", envInt("SCIMGATE_LOCKOUT_THRESHOLD", 5), "failed password logins that lock a login, 0 to 5; 0 disables (env SCIMGATE_LOCKOUT_THRESHOLD)")
	fs.IntVar(&c.AuditRetentionDays, "audit-retention-days", envInt("SCIMGATE_AUDIT_RETENTION_DAYS", 365), "days audit entries are kept, pruned hourly; 0 keeps them forever (env SCIMGATE_AUDIT_RETENTION_DAYS)")
	fs.IntVar(&c.LockoutMinutes, "lockout-minutes", envInt("SCIMGATE_LOCKOUT_MINUTES", 10), "how long failures count and a lock lasts, in minutes (env SCIMGATE_LOCKOUT_MINUTES)")
	def := store.DefaultPolicy()
	fs.IntVar(&c.Policy.PasswordMinLength, "password-min-length", envInt("SCIMGATE_PASSWORD_MIN_LENGTH", def.PasswordMinLength), "minimum length of local passwords, 8 to 128 (env SCIMGATE_PASSWORD_MIN_LENGTH)")
	fs.IntVar(&c.Policy.PasswordExpirationDays, "password-expiration-days", envInt("SCIMGATE_PASSWORD_EXPIRATION_DAYS", 0), "days after which local passwords expire, 0 for never (env SCIMGATE_PASSWORD_EXPIRATION_DAYS)")
	fs.DurationVar(&c.Policy.SessionTimeout, "session-timeout", envDuration("SCIMGATE_SESSION_TIMEOUT", def.SessionTimeout), "idle time after which a session ends, 60s to 168h (env SCIMGATE_SESSION_TIMEOUT)")
	fs.StringVar(&c.SonarQubeVersion, "sonarqube-version", env("SCIMGATE_SONARQUBE_VERSION", webapi.DefaultVersion), "SonarQube version reported by api/server/version, api/system/status and api/system/info: the Web API level clients should expect (env SCIMGATE_SONARQUBE_VERSION)")
	fs.StringVar(&c.Edition, "edition", env("SCIMGATE_EDITION", "Community"), "edition reported by api/system/info (env SCIMGATE_EDITION)")
	fs.BoolVar(&c.SCIMAlias, "scim-alias", c.envBool("SCIMGATE_SCIM_ALIAS", true), "also serve the SCIM API at /scim/v2, the root many IdP guides assume (env SCIMGATE_SCIM_ALIAS)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", env("SCIMGATE_TRUSTED_PROXIES", ""), "comma-separated CIDR ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (env SCIMGATE_TRUSTED_PROXIES)")
}

// envDuration reads a duration variable such as "30m"; a malformed value
// becomes -1, which validate reports.
func envDuration(name string, def time.Duration) time.Duration {
	v := env(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return -1
	}
	return d
}

// envBool reads a boolean variable; a malformed value keeps the default
// and is reported by validate.
func (c *config) envBool(name string, def bool) bool {
	v := env(name, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		c.badEnv = append(c.badEnv, name)
		return def
	}
	return b
}

// envInt reads an integer variable; a malformed value becomes -1, which
// validate reports.
func envInt(name string, def int) int {
	v := env(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// validate checks the configuration and fills in defaults; every problem is
// reported at once, naming the flag and variable to fix.
func (c *config) validate() error {
	var errs []error
	if host, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		errs = append(errs, fmt.Errorf("-addr/SCIMGATE_ADDR %q is not host:port", c.Addr))
	} else if host != "" && net.ParseIP(host) == nil && strings.ContainsAny(host, "/ ") {
		errs = append(errs, fmt.Errorf("-addr/SCIMGATE_ADDR host %q is not valid", host))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("-metrics-addr/SCIMGATE_METRICS_ADDR %q is not host:port", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr {
			errs = append(errs, fmt.Errorf("-metrics-addr/SCIMGATE_METRICS_ADDR must differ from -addr/SCIMGATE_ADDR"))
		}
	}
	if !versionRe.MatchString(c.SonarQubeVersion) {
		errs = append(errs, fmt.Errorf("-sonarqube-version/SCIMGATE_SONARQUBE_VERSION %q must be a version such as 10.7.0.96327", c.SonarQubeVersion))
	}
	for _, name := range c.badEnv {
		errs = append(errs, fmt.Errorf("%s must be true or false", name))
	}
	if c.DB == "" {
		errs = append(errs, errors.New("-db/SCIMGATE_DB must name the store file"))
	}
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		errs = append(errs, errors.New("-tls-cert and -tls-key (SCIMGATE_TLS_CERT, SCIMGATE_TLS_KEY) go together"))
	case c.TLSCert != "":
		for _, f := range []string{c.TLSCert, c.TLSKey} {
			if _, err := os.Stat(f); err != nil {
				errs = append(errs, fmt.Errorf("TLS file: %v", err))
			}
		}
	}
	if c.BaseURL == "" {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		c.BaseURL = scheme + "://" + c.Addr
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		errs = append(errs, fmt.Errorf("-base-url/SCIMGATE_BASE_URL %q must be an absolute http(s) URL", c.BaseURL))
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("-log-format/SCIMGATE_LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	if c.LockoutThreshold < 0 || c.LockoutThreshold > store.MaxLockoutThreshold {
		errs = append(errs, fmt.Errorf("-lockout-threshold/SCIMGATE_LOCKOUT_THRESHOLD must be 0 to 5"))
	}
	if c.LockoutMinutes < 1 || c.LockoutMinutes > 7*24*60 {
		errs = append(errs, fmt.Errorf("-lockout-minutes/SCIMGATE_LOCKOUT_MINUTES must be 1 to 10080"))
	}
	if c.AuditRetentionDays < 0 {
		errs = append(errs, fmt.Errorf("-audit-retention-days/SCIMGATE_AUDIT_RETENTION_DAYS must be 0 or more"))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("-log-level/SCIMGATE_LOG_LEVEL %q must be debug, info, warn or error", c.LogLevel))
	}
	for _, msg := range c.Policy.Validate() {
		errs = append(errs, fmt.Errorf("%s (-password-min-length, -password-expiration-days, -session-timeout / SCIMGATE_PASSWORD_MIN_LENGTH, SCIMGATE_PASSWORD_EXPIRATION_DAYS, SCIMGATE_SESSION_TIMEOUT)", msg))
	}
	if pw := os.Getenv("SCIMGATE_ADMIN_PASSWORD"); pw != "" {
		if msgs := c.Policy.PasswordErrors("admin", pw); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("SCIMGATE_ADMIN_PASSWORD does not meet the password policy: %s", strings.Join(msgs, "; ")))
		}
	}
	c.proxies = nil
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("-trusted-proxies/SCIMGATE_TRUSTED_PROXIES: %q is not a CIDR range", p))
			continue
		}
		c.proxies = append(c.proxies, n)
	}
	return errors.Join(errs...)
}

var versionRe = regexp.MustCompile(`^\d+(\.\d+){1,3}$`)

func (c *config) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
