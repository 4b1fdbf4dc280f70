package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
)

// cli runs one command and returns its exit code and outputs.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// seededDB returns a store file with admin and one managed user, closed.
func seededDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scimgate.db")
	st, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, _, err := store.Bootstrap(ctx, st, adminPass); err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		_, err := store.NewUser(tx, store.User{Login: "okta.user", Name: "Okta User", Active: true, Managed: true, ExternalID: "00u1"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigValidation(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-addr", "nonsense"}, "-addr/SCIMGATE_ADDR"},
		{[]string{"-tls-cert", "cert.pem"}, "-tls-cert and -tls-key"},
		{[]string{"-tls-cert", "/nonexistent/cert.pem", "-tls-key", "/nonexistent/key.pem"}, "TLS file"},
		{[]string{"-base-url", "ftp://x"}, "-base-url/SCIMGATE_BASE_URL"},
		{[]string{"-log-format", "xml"}, "-log-format/SCIMGATE_LOG_FORMAT"},
		{[]string{"-log-level", "loud"}, "-log-level/SCIMGATE_LOG_LEVEL"},
		{[]string{"-audit-retention-days", "-1"}, "-audit-retention-days"},
		{[]string{"-lockout-threshold", "9"}, "-lockout-threshold"},
		{[]string{"-password-min-length", "6"}, "password minimum length must be 8 to 128"},
		{[]string{"-password-expiration-days", "-2"}, "password expiration must be 0 (never) to 3650 days"},
		{[]string{"-session-timeout", "10s"}, "session timeout must be 60s to 168h"},
		{[]string{"-trusted-proxies", "10.0.0.1"}, "-trusted-proxies/SCIMGATE_TRUSTED_PROXIES: \"10.0.0.1\" is not a CIDR range"},
	} {
		code, _, errOut := cli(t, append([]string{"serve", "-db", db}, tc.args...)...)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("serve %v: exit %d, %q; want 2 mentioning %q", tc.args, code, errOut, tc.want)
		}
	}
	t.Setenv("SCIMGATE_LOG_FORMAT", "yaml")
	if code, _, errOut := cli(t, "serve", "-db", db); code != 2 || !strings.Contains(errOut, "yaml") {
		t.Errorf("bad SCIMGATE_LOG_FORMAT: %d %q", code, errOut)
	}
	t.Setenv("SCIMGATE_SESSION_TIMEOUT", "soon")
	t.Setenv("SCIMGATE_ADMIN_PASSWORD", "admin")
	code, _, errOut := cli(t, "serve", "-db", db)
	for _, want := range []string{"session timeout must be", "SCIMGATE_ADMIN_PASSWORD does not meet the password policy: Password must be at least 12 characters long;"} {
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, %q; want 2 mentioning %q", code, errOut, want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("an invalid configuration still created the store")
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for name := range commands() {
		args := append(strings.Fields(name), "-h")
		if code, _, errOut := cli(t, args...); code != 0 || !strings.Contains(errOut, "Usage of") && name != "version" {
			t.Errorf("%s -h: exit %d, %q", name, code, errOut)
		}
	}
}

func TestTokenCommands(t *testing.T) {
	db := seededDB(t)
	code, out, errOut := cli(t, "token", "create", "-db", db, "-name", "okta")
	secret := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(secret, "squ_") {
		t.Fatalf("token create: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, "token", "create", "-db", db, "-name", "okta"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("duplicate token: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, "token", "create", "-db", db, "-name", "x", "-login", "ghost"); code != 1 || !strings.Contains(errOut, "User with login 'ghost' doesn't exist") {
		t.Errorf("unknown login: %d %q", code, errOut)
	}
	if code, out, _ := cli(t, "token", "list", "-db", db); code != 0 || !strings.Contains(out, "okta") || strings.Contains(out, secret) {
		t.Errorf("token list: %d %q", code, out)
	}
	st, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.New(st, store.DefaultPolicy(), nil).Authenticate(context.Background(), auth.Credentials{Header: "Bearer " + secret}); err != nil {
		t.Errorf("created token does not authenticate: %v", err)
	}
	// While the store is open (as by a running server), commands fail clearly.
	code, _, errOut = cli(t, "token", "revoke", "-db", db, "-name", "okta")
	if code != 1 || !strings.Contains(errOut, "locked") {
		t.Errorf("revoke on a locked store: %d %q", code, errOut)
	}
	st.Close()
	if code, _, errOut := cli(t, "token", "revoke", "-db", db, "-name", "okta"); code != 0 {
		t.Fatalf("revoke: %d %q", code, errOut)
	}
	if code, out, _ := cli(t, "token", "list", "-db", db); code != 0 || strings.Contains(out, "okta") {
		t.Errorf("revoked token still listed: %q", out)
	}
	if code, out, _ := cli(t, "audit", "-db", db); code != 0 || !strings.Contains(out, "token") || !strings.Contains(out, "revoked") || !strings.Contains(out, "cli") {
		t.Errorf("CLI changes not in the audit trail: %q", out)
	}
}

func TestUserCommands(t *testing.T) {
	db := seededDB(t)
	code, out, _ := cli(t, "user", "list", "-db", db, "-managed", "true")
	if code != 0 || !strings.Contains(out, "okta.user") || strings.Contains(out, "admin") {
		t.Errorf("user list -managed true: %d %q", code, out)
	}
	code, out, _ = cli(t, "user", "list", "-db", db)
	if code != 0 || !strings.Contains(out, "admin") || !strings.Contains(out, "00u1") {
		t.Errorf("user list: %d %q", code, out)
	}
	code, out, _ = cli(t, "user", "show", "-db", db, "admin")
	if code != 0 || !strings.Contains(out, "permissions:") || !strings.Contains(out, "admin") || !strings.Contains(out, "sonar-administrators") {
		t.Errorf("user show admin: %d %q", code, out)
	}
	if code, _, errOut := cli(t, "user", "show", "-db", db, "ghost"); code != 1 || !strings.Contains(errOut, "no user") {
		t.Errorf("user show ghost: %d %q", code, errOut)
	}
	if code, _, _ := cli(t, "user", "list", "-db", db, "-active", "maybe"); code != 2 {
		t.Errorf("bad -active accepted")
	}
}

// A hot backup taken from a running server during concurrent provisioning
// restores into a consistent store holding every user acknowledged before it.
func TestBackupAndRestore(t *testing.T) {
	db := seededDB(t)
	_, out, _ := cli(t, "token", "create", "-db", db, "-name", "ops")
	token := strings.TrimSpace(out)
	addr := freeAddr(t)
	stop := serveInBackground(t, addr, db, io.Discard, io.Discard)
	base := "http://" + addr
	create := func(name string) int {
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `"}`
		req, err := http.NewRequest("POST", base+"/api/scim/v2/Users", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < 20; i++ {
		if st := create(fmt.Sprintf("pre%d", i)); st != 201 {
			t.Fatalf("create: %d", st)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				create(fmt.Sprintf("during%d-%d", w, i))
			}
		}()
	}
	backupFile := filepath.Join(t.TempDir(), "backup.db")
	code, out, errOut := cli(t, "backup", "-server", base, "-token", token, "-o", backupFile)
	wg.Wait()
	if code != 0 {
		t.Fatalf("online backup: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, "backup", "-db", db, "-o", filepath.Join(t.TempDir(), "x.db")); code != 1 || !strings.Contains(errOut, "-server") {
		t.Errorf("offline backup of a running server's store: %d %q", code, errOut)
	}
	if code, _, errOut := cli(t, "restore", "-db", db, "-i", backupFile); code != 1 || !strings.Contains(errOut, "stop the server") {
		t.Errorf("restore under a running server: %d %q", code, errOut)
	}
	create("after-backup")
	if code := stop(); code != 0 {
		t.Fatal("serve exit", code)
	}
	if code, out, errOut := cli(t, "restore", "-db", db, "-i", backupFile); code != 0 {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	st, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Check(); err != nil {
		t.Fatalf("restored store fails the check: %v", err)
	}
	must(t, st.View(context.Background(), func(tx store.Tx) error {
		for i := 0; i < 20; i++ {
			if _, err := tx.UserByLogin(fmt.Sprintf("pre%d", i)); err != nil {
				t.Errorf("pre%d missing from the backup", i)
			}
		}
		if _, err := tx.UserByLogin("after-backup"); err == nil {
			t.Error("a user created after the backup is in it")
		}
		return nil
	}))
	bad := filepath.Join(t.TempDir(), "garbage.db")
	must(t, os.WriteFile(bad, []byte("not a store"), 0o600))
	st.Close()
	if code, _, errOut := cli(t, "restore", "-db", db, "-i", bad); code != 1 || !strings.Contains(errOut, "not changed") {
		t.Errorf("restore of garbage: %d %q", code, errOut)
	}
}

// The audit trail shows who provisioned, deactivated and was refused, and
// metrics count the same events.
func TestAuditTrailAndMetrics(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	admin := basicAuth("admin", adminPass)
	scimAuth := g.bearer("okta")
	st, u, raw := g.req("POST", "/api/scim/v2/Users", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"audited"}`, scimAuth)
	if st != 201 {
		t.Fatal(st, raw)
	}
	g.req("PATCH", "/api/scim/v2/Users/"+u["id"].(string), "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, scimAuth)
	if st, _, _ := g.req("POST", "/api/users/deactivate", "application/x-www-form-urlencoded", "login=audited", admin); st != 400 {
		t.Fatalf("Web API deactivate of a managed user: %d", st)
	}
	st, body, raw := g.req("GET", "/api/scimgate/audit?name=audited", "", "", admin)
	if st != 200 {
		t.Fatal(st, raw)
	}
	var entries []store.AuditEntry
	rawEntries, err := json.Marshal(body["entries"])
	if err != nil {
		t.Fatal(err)
	}
	must(t, json.Unmarshal(rawEntries, &entries))
	var seen []string
	for _, e := range entries {
		seen = append(seen, e.API+" "+e.Kind+" "+e.Action)
		if e.Actor != "admin" {
			t.Errorf("entry without the caller: %+v", e)
		}
	}
	want := []string{"webapi user refused", "scim user updated", "scim user created"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("audit for 'audited' = %v, want %v", seen, want)
	}
	if len(entries) == 3 && (entries[1].Before == nil || !entries[1].Before.Active || entries[1].After.Active || !entries[1].After.Managed) {
		t.Errorf("deprovisioning entry before/after: %+v", entries[1])
	}
	if len(entries) == 3 && entries[0].Detail != "Operation not allowed when the instance is externally managed." {
		t.Errorf("refusal detail = %q", entries[0].Detail)
	}
	if st, _, _ := g.req("GET", "/api/scimgate/audit", "", "", basicAuth("nobody", "x")); st != 401 {
		t.Errorf("audit without credentials: %d", st)
	}
	res, err := http.Get(g.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, want := range []string{
		`scimgate_http_requests_total{method="POST",route="/api/scim/v2/Users",status="201"} 1`,
		`scimgate_http_requests_total{method="PATCH",route="/api/scim/v2/Users/{id}",status="200"} 1`,
		`scimgate_changes_total{action="created",api="scim",kind="user"} 1`,
		`scimgate_store_users 2`,
		`scimgate_http_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The writes above were committed, and committing took some time.
	for _, name := range []string{"scimgate_store_commits_total", "scimgate_store_commit_seconds_total"} {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(metrics)
		if m == nil {
			t.Errorf("/metrics lacks %s", name)
		} else if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || v <= 0 {
			t.Errorf("/metrics: %s is %s, want a positive count", name, m[1])
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if res, err := http.Get(g.srv.URL + p); err != nil || res.StatusCode != 200 {
			t.Errorf("%s: %v %v", p, res, err)
		}
	}
}

// Logs carry request id, method, path, status and caller, never secrets.
func TestRequestLogHasNoSecrets(t *testing.T) {
	st := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(context.Background(), st, adminPass); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	s, err := newServer(st, serverOptions{BaseURL: "http://example.test", Policy: store.DefaultPolicy(), Lockout: auth.NewLockout(5, time.Minute)}, slog.New(slog.NewJSONHandler(lockedWriter{&logs, &mu}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.echo)
	defer srv.Close()
	for _, auth := range []string{basicAuth("admin", adminPass), "Bearer squ_secret-token-value", basicAuth("admin", "wrong-password-xyz")} {
		req, err := http.NewRequest("POST", srv.URL+"/api/users/change_password?password=query-secret", strings.NewReader("login=admin&password=New-secret-pass-1&previousPassword="+adminPass))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Request-Id", "req-42")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for _, secret := range []string{adminPass, "squ_secret-token-value", "wrong-password-xyz", "New-secret-pass-1", "query-secret", "Authorization", "Basic "} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{`"id":"req-42"`, `"method":"POST"`, `"path":"/api/users/change_password"`, `"status":204`, `"caller":"admin"`, `"status":401`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

// The client address behind trusted hosts is the TCP peer, unless the peer
// is a configured proxy: then the first forwarded hop outside the proxies.
func TestClientAddress(t *testing.T) {
	_, proxies, err := net.ParseCIDR("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		proxies []*net.IPNet
		xff     string
		want    string
	}{
		{"no proxies: the peer", nil, "10.1.2.3", "127.0.0.1"},
		{"trusted proxy: the forwarded client", []*net.IPNet{proxies}, "10.1.2.3", "10.1.2.3"},
		{"trusted proxy: the first hop outside the proxies", []*net.IPNet{proxies}, "203.0.113.9, 10.1.2.3, 127.0.0.2", "10.1.2.3"},
		{"trusted proxy, no header: the peer", []*net.IPNet{proxies}, "", "127.0.0.1"},
	} {
		e := echo.New()
		e.IPExtractor = ipExtractor(tc.proxies)
		e.GET("/", func(c echo.Context) error { return c.String(200, c.RealIP()) })
		srv := httptest.NewServer(e)
		req, err := http.NewRequest("GET", srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		req.Header.Set("X-Real-Ip", "192.0.2.1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		srv.Close()
		if string(got) != tc.want {
			t.Errorf("%s: client %q, want %q", tc.name, got, tc.want)
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A request whose client goes away before the answer is logged and counted
// as 499, not as a server error, and its failed store call is not logged
// as an error: a client's timeout is not the server's failure.
func TestClientGoneIsNotAServerError(t *testing.T) {
	st := bolttest.MustOpen(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	s, err := newServer(st, serverOptions{BaseURL: "http://example.test", Policy: store.DefaultPolicy(), Lockout: auth.NewLockout(5, time.Minute)}, slog.New(slog.NewJSONHandler(lockedWriter{&logs, &mu}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	arrived, answered := make(chan struct{}), make(chan error, 1)
	s.echo.GET("/api/slow", func(c echo.Context) error {
		close(arrived)
		<-c.Request().Context().Done() // the client left
		err := st.View(c.Request().Context(), func(store.Tx) error { return nil })
		answered <- err
		return err // as an API returns a store call's failure: 500
	})
	srv := httptest.NewServer(s.echo)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-arrived; cancel() }()
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's request: %v, want it cancelled", err)
	}
	if err := <-answered; !errors.Is(err, context.Canceled) {
		t.Fatalf("the store call after the client left: %v, want context.Canceled", err)
	}
	scrape := func() string {
		res, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The request is logged and counted once its handler returned, a moment
	// after the store call's answer.
	metrics := scrape()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(metrics, `route="/api/slow",status=`) && time.Now().Before(deadline); metrics = scrape() {
		time.Sleep(10 * time.Millisecond)
	}
	if want := `scimgate_http_requests_total{method="GET",route="/api/slow",status="499"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
	if strings.Contains(metrics, `route="/api/slow",status="500"`) {
		t.Error("a client's departure counted as a server error")
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if !strings.Contains(out, `"path":"/api/slow","status":499`) {
		t.Errorf("log lacks the request with status 499:\n%s", out)
	}
	if strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("a client's departure logged as an error:\n%s", out)
	}
}
