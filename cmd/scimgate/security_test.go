package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
)

// Regression tests of the second security review that need the whole
// server: bounded audit over HTTP (finding 3), HTTPS behind a proxy and
// metrics apart (16), a full disk (18).

// Finding 3: a refused request with a huge parameter leaves a bounded entry.
func TestRefusalAuditBounded(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	admin := basicAuth("admin", adminPass)
	form := "application/x-www-form-urlencoded"
	if st, _, raw := g.req("POST", "/api/users/create", form, "login=eve&name=Eve&password=Quiet-harbor-42", admin); st != 200 {
		t.Fatalf("create eve: %d %s", st, raw)
	}
	huge := strings.Repeat("x", 900<<10)
	if st, _, _ := g.req("POST", "/api/users/change_password", form, "login="+huge+"&password=Other-pass-1234", basicAuth("eve", "Quiet-harbor-42")); st < 400 {
		t.Fatalf("change_password of another user by eve: %d", st)
	}
	var entry store.AuditEntry
	err := g.store.View(context.Background(), func(tx store.Tx) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			if e.Action == "refused" {
				entry = e
				return nil
			}
		}
		return fmt.Errorf("no refusal recorded")
	})
	if err != nil {
		t.Fatal(err)
	}
	if entry.Actor != "eve" || len(entry.Name) > 255*4 || len(entry.Detail) > 1024*4 || !entry.Truncated {
		t.Errorf("refusal entry: actor %q, name %d bytes, detail %d bytes, truncated %v", entry.Actor, len(entry.Name), len(entry.Detail), entry.Truncated)
	}
	// SCIM refusals are recorded where they happen too, with their detail.
	if st, _, raw := g.req("POST", "/api/scim/v2/Groups", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"anyone"}`, g.bearer("idp")); st != 400 {
		t.Fatalf("SCIM group named anyone: %d %s", st, raw)
	}
	err = g.store.View(context.Background(), func(tx store.Tx) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			if e.Action == "refused" && e.API == "scim" {
				if e.Kind != "group" || e.Detail != "Anyone group cannot be used" || e.Actor != "admin" || e.Op != "POST /Groups" {
					return fmt.Errorf("SCIM refusal entry %+v", e)
				}
				return nil
			}
		}
		return fmt.Errorf("no SCIM refusal recorded")
	})
	if err != nil {
		t.Error(err)
	}
}

// Finding 16: X-Forwarded-Proto is believed from trusted proxies only, and
// then cookies are Secure and answers carry HSTS; /metrics can be moved off
// the public listener.
func TestHTTPSBehindProxy(t *testing.T) {
	t.Parallel() // its own store and server
	login := func(g *gateway) *http.Response {
		req, err := http.NewRequest("POST", g.srv.URL+"/api/authentication/login", strings.NewReader("login=admin&password="+url.QueryEscape(adminPass)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-Proto", "https")
		res, err := g.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || len(res.Cookies()) == 0 {
			t.Fatalf("login: %d %v", res.StatusCode, res.Cookies())
		}
		return res
	}
	_, loopback, err := net.ParseCIDR("127.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	proxied := newGatewayWith(t, func(o *serverOptions) { o.Proxies = []*net.IPNet{loopback}; o.MetricsApart = true })
	res := login(proxied)
	for _, c := range res.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s not Secure behind a trusted TLS proxy", c.Name)
		}
	}
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS behind a trusted TLS proxy")
	}
	if st, _, _ := proxied.req("GET", "/metrics", "", "", ""); st != 404 {
		t.Errorf("/metrics on the public listener with a metrics address: %d", st)
	}

	direct := newGateway(t) // no trusted proxies: the header is anyone's
	res = login(direct)
	for _, c := range res.Cookies() {
		if c.Secure {
			t.Errorf("cookie %s Secure on a forged X-Forwarded-Proto", c.Name)
		}
	}
	if res.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on a forged X-Forwarded-Proto")
	}
}

// SCIMGATE_METRICS_ADDR serves /metrics on its own listener.
func TestMetricsAddress(t *testing.T) {
	metricsAddr := freeAddr(t)
	t.Setenv("SCIMGATE_METRICS_ADDR", metricsAddr)
	t.Setenv("SCIMGATE_ADMIN_PASSWORD", adminPass)
	addr := freeAddr(t)
	stop := serveInBackground(t, addr, filepath.Join(t.TempDir(), "scimgate.db"), io.Discard, io.Discard)
	defer stop()
	res, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "scimgate_store_users") {
		t.Errorf("metrics listener: %d", res.StatusCode)
	}
	if res, err := http.Get("http://" + addr + "/metrics"); err != nil || res.StatusCode != 404 {
		t.Errorf("/metrics on the API listener: %v %v", res.StatusCode, err)
	}
}

// Finding 18: with the store's file system full, writes answer 503 with
// Retry-After in each API's format, /readyz says the store cannot write and
// /metrics counts the failures; once space is freed everything recovers and
// nothing acknowledged is lost. Needs root to mount a small tmpfs.
func TestDiskFull(t *testing.T) {
	t.Parallel() // its own store and server
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v %s", err, out)
		}
	})
	st, err := bolt.Open(filepath.Join(dir, "scimgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Bootstrap(context.Background(), st, adminPass); err != nil {
		t.Fatal(err)
	}
	st.Close()
	g := newGatewayOn(t, filepath.Join(dir, "scimgate.db"))
	bearer := g.bearer("okta")
	filler := filepath.Join(dir, "filler")
	fill(t, filler, 64<<10)

	var acked []string
	var full map[string]any
	var status int
	var header http.Header
	for i := 0; i < 5000 && status != 503; i++ {
		req, err := http.NewRequest("POST", g.srv.URL+"/api/scim/v2/Users", strings.NewReader(fmt.Sprintf(
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@example.com","displayName":"%s"}`, i, strings.Repeat("d", 1000))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/scim+json")
		req.Header.Set("Authorization", bearer)
		res, err := g.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		status, header = res.StatusCode, res.Header
		switch status {
		case 201:
			acked = append(acked, fmt.Sprintf("user%d@example.com", i))
		case 503:
			if err := json.Unmarshal(raw, &full); err != nil {
				t.Fatalf("503 not SCIM JSON: %s", raw)
			}
		default:
			t.Fatalf("create %d: %d %s", i, status, raw)
		}
	}
	if status != 503 {
		t.Fatalf("the disk never filled (%d users created)", len(acked))
	}
	if header.Get("Retry-After") == "" || full["status"] != "503" || !strings.Contains(fmt.Sprint(full["detail"]), "cannot write") {
		t.Errorf("full disk answer: Retry-After %q, body %v", header.Get("Retry-After"), full)
	}
	if st, _, raw := g.req("GET", "/readyz", "", "", ""); st != 503 || !strings.Contains(raw, "not writable") {
		t.Errorf("/readyz while full: %d %s", st, raw)
	}
	if _, _, raw := g.req("GET", "/metrics", "", "", ""); !strings.Contains(raw, "scimgate_store_writable 0") || strings.Contains(raw, "scimgate_store_write_failures_total 0") {
		t.Errorf("/metrics while full lacks the write failures")
	}
	// The Web API answers the same condition in its own format. A small
	// write may still fit in pages the store freed, so write until one fails.
	topUp := filepath.Join(dir, "filler2")
	fill(t, topUp, 0)
	webStatus, webHeader, webBody := 0, http.Header{}, ""
	for i := 0; i < 5000 && webStatus != 503; i++ {
		req, err := http.NewRequest("POST", g.srv.URL+"/api/user_groups/create", strings.NewReader(fmt.Sprintf("name=full-%d&description=%s", i, strings.Repeat("d", 200))))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", basicAuth("admin", adminPass))
		res, err := g.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		webStatus, webHeader, webBody = res.StatusCode, res.Header, string(raw)
		if webStatus != 200 && webStatus != 503 {
			t.Fatalf("Web API while full: %d %s", webStatus, raw)
		}
	}
	if webStatus != 503 || webHeader.Get("Retry-After") == "" || !strings.Contains(webBody, `{"errors":[{"msg":"The store cannot write`) {
		t.Errorf("Web API while full: %d Retry-After %q %s", webStatus, webHeader.Get("Retry-After"), webBody)
	}

	for _, f := range []string{filler, topUp} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if st, _, raw := g.req("POST", "/api/scim/v2/Users", "application/scim+json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"after@example.com"}`, bearer); st != 201 {
		t.Fatalf("create after space was freed: %d %s", st, raw)
	}
	if st, _, raw := g.req("GET", "/readyz", "", "", ""); st != 200 {
		t.Errorf("/readyz after recovery: %d %s", st, raw)
	}
	err = g.store.View(context.Background(), func(tx store.Tx) error {
		for _, login := range append(acked, "after@example.com") {
			if _, err := tx.UserByLogin(login); err != nil {
				return fmt.Errorf("acknowledged %s: %w", login, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if err := g.bolt.Check(); err != nil {
		t.Errorf("store check after a full disk: %v", err)
	}
}

// fill writes path until the file system is full, then frees spare bytes.
func fill(t *testing.T, path string, spare int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	n := int64(0)
	for {
		w, err := f.Write(chunk)
		n += int64(w)
		if err != nil {
			break
		}
	}
	if err := f.Truncate(max(n-spare, 0)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// The SCIM API answers at /scim/v2 too, with locations under the root the
// client used; SCIMGATE_SCIM_ALIAS=false turns the alias off.
func TestSCIMAlias(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	bearer := g.bearer("idp")
	st, u, raw := g.req("POST", "/scim/v2/Users", "application/scim+json", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"alias@example.com"}`, bearer)
	if st != 201 {
		t.Fatalf("POST /scim/v2/Users: %d %s", st, raw)
	}
	if loc := u["meta"].(map[string]any)["location"].(string); !strings.Contains(loc, "/scim/v2/Users/") || strings.Contains(loc, "/api/scim") {
		t.Errorf("location %s", loc)
	}
	if st, _, raw := g.req("GET", "/api/scim/v2/Users/"+u["id"].(string), "", "", bearer); st != 200 || !strings.Contains(raw, "/api/scim/v2/Users/") {
		t.Errorf("the same user at /api/scim/v2: %d %s", st, raw)
	}
	if st, _, _ := g.req("GET", "/scim/v2/Users", "", "", ""); st != 401 {
		t.Errorf("the alias without a token: %d", st)
	}
	off := newGatewayWith(t, func(o *serverOptions) { o.NoSCIMAlias = true })
	if st, _, _ := off.req("GET", "/scim/v2/ServiceProviderConfig", "", "", off.bearer("idp")); st != 404 {
		t.Errorf("alias turned off: %d", st)
	}
}

// A panic is answered in the format of the API whose path it is, logged,
// and counted in /metrics; so are paths no API serves.
func TestPanicsAndUnknownPaths(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	boom := func(echo.Context) error { panic("boom") }
	g.server.echo.GET("/api/scim/v2/boom", boom)
	g.server.echo.GET("/api/boom", boom)
	st, body, raw := g.req("GET", "/api/scim/v2/boom", "", "", "")
	if st != 500 || body["status"] != "500" || body["schemas"] == nil {
		t.Errorf("SCIM panic: %d %s", st, raw)
	}
	st, _, raw = g.req("GET", "/api/boom", "", "", "")
	if st != 500 || raw != `{"errors":[{"msg":"An error has occurred. Please contact your administrator"}]}` {
		t.Errorf("Web API panic: %d %s", st, raw)
	}
	if st, _, raw := g.req("GET", "/nowhere", "", "", ""); st != 404 || raw != "Not Found" {
		t.Errorf("unknown path: %d %s", st, raw)
	}
	_, _, metrics := g.req("GET", "/metrics", "", "", "")
	for _, want := range []string{`route="unknown",status="500"} 1`, `route="/api/boom",status="500"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("panic not counted: no %s", want)
		}
	}
}
