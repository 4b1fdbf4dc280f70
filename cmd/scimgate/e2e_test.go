package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt"
)

const adminPass = "Gate-keeper-123!"

type gateway struct {
	t      *testing.T
	srv    *httptest.Server
	store  store.Store
	bolt   *bolt.Store // the store, when it is a bbolt file
	server *server
}

func newGateway(t *testing.T) *gateway { return newGatewayWith(t, nil) }

// newGatewayWith is newGateway with options changed by opts (nil: none).
func newGatewayWith(t *testing.T, opts func(*serverOptions)) *gateway {
	t.Helper()
	db := filepath.Join(t.TempDir(), "scimgate.db")
	st, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Bootstrap(context.Background(), st, adminPass); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return newGatewayOn(t, db, opts)
}

// newGatewayOn serves the bootstrapped store file db.
func newGatewayOn(t *testing.T, db string, opts ...func(*serverOptions)) *gateway {
	t.Helper()
	st, err := bolt.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil && !errors.Is(err, bolterrors.ErrDatabaseNotOpen) { // a test may close it itself
			t.Errorf("store check: %v", err)
		}
		st.Close()
	})
	g := serveStore(t, st, opts...)
	g.bolt = st
	return g
}

// serveStore serves st (of any backend) over a real HTTP server.
func serveStore(t *testing.T, st store.Store, opts ...func(*serverOptions)) *gateway {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	o := serverOptions{BaseURL: "http://" + srv.Listener.Addr().String(), Policy: store.DefaultPolicy(), Lockout: auth.NewLockout(5, time.Minute)}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	e, err := newServer(st, o, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.auth.Wait) // background writes end before the store closes
	srv.Config.Handler = e.echo
	srv.Start()
	t.Cleanup(srv.Close)
	return &gateway{t: t, srv: srv, store: st, server: e}
}

func (g *gateway) req(method, path, contentType, body, auth string) (int, map[string]any, string) {
	g.t.Helper()
	req, err := http.NewRequest(method, g.srv.URL+path, strings.NewReader(body))
	if err != nil {
		g.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", auth)
	res, err := g.srv.Client().Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m) // not every answer is JSON: then m is nil and callers read raw
	return res.StatusCode, m, strings.TrimSpace(string(raw))
}

// bearer returns the Authorization of a new admin token named name: SCIM
// takes tokens only.
func (g *gateway) bearer(name string) string {
	g.t.Helper()
	st, tok, raw := g.req("POST", "/api/user_tokens/generate", "application/x-www-form-urlencoded", "name="+name, basicAuth("admin", adminPass))
	if st != 200 {
		g.t.Fatalf("generate token %s: %d %s", name, st, raw)
	}
	return "Bearer " + tok["token"].(string)
}

// snapshot is what the store holds about users, groups and members:
// refused requests must leave it unchanged.
func (g *gateway) snapshot() string {
	g.t.Helper()
	var b bytes.Buffer
	must(g.t, g.store.View(context.Background(), func(tx store.Tx) error {
		for u, err := range tx.Users("") {
			if err != nil {
				return err
			}
			u.LastConnection = nil // written in the background by any sign-in
			raw, _ := json.Marshal(u)
			b.Write(raw)
		}
		for gr, err := range tx.Groups("") {
			if err != nil {
				return err
			}
			raw, _ := json.Marshal(gr)
			b.Write(raw)
			for m := range store.Members(tx, gr.ID) {
				b.WriteString(m)
			}
		}
		return nil
	}))
	return b.String()
}

func basicAuth(login, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+pass))
}

// TestManagedUserEndToEnd: Okta provisions a user and a group through SCIM
// with a token made through the Web API; every Web API edit of them is
// refused with SonarQube's message and the store does not change; both APIs
// agree on the user's managed and active state through deprovisioning.
func TestManagedUserEndToEnd(t *testing.T) {
	t.Parallel() // its own store and server
	g := newGateway(t)
	admin := basicAuth("admin", adminPass)
	form := "application/x-www-form-urlencoded"
	st, tok, raw := g.req("POST", "/api/user_tokens/generate", form, "name=okta", admin)
	if st != 200 {
		t.Fatalf("generate token: %d %s", st, raw)
	}
	bearer := "Bearer " + tok["token"].(string)
	scimJSON := "application/scim+json"
	st, u, raw := g.req("POST", "/api/scim/v2/Users", "application/json",
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jane.doe","name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"primary":true,"value":"jane@example.com","type":"work"}],"externalId":"00u9","password":"x","active":true}`, bearer)
	if st != 201 {
		t.Fatalf("SCIM create: %d %s", st, raw)
	}
	id := u["id"].(string)
	st, _, raw = g.req("POST", "/api/scim/v2/Groups", scimJSON,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"engineering","members":[{"value":"`+id+`"}]}`, bearer)
	if st != 201 {
		t.Fatalf("SCIM group create: %d %s", st, raw)
	}

	before := g.snapshot()
	for _, tc := range []struct{ path, form, want string }{
		{"/api/users/create", "login=jane.doe&name=J&password=Some-pass-1234", `{"errors":[{"msg":"An active user with login 'jane.doe' already exists"}]}`},
		{"/api/users/update", "login=jane.doe&name=Janet", `{"errors":[{"msg":"It is not allowed to update name for this user"}]}`},
		{"/api/users/update", "login=jane.doe&email=j2@example.com", `{"errors":[{"msg":"It is not allowed to update email for this user"}]}`},
		{"/api/users/update_login", "login=jane.doe&newLogin=jane", `{"errors":[{"msg":"Operation not allowed when the instance is externally managed."}]}`},
		{"/api/users/deactivate", "login=jane.doe", `{"errors":[{"msg":"Operation not allowed when the instance is externally managed."}]}`},
		{"/api/users/change_password", "login=jane.doe&password=Some-pass-1234", `{"result":"Password cannot be changed when external authentication is used"}`},
		{"/api/user_groups/update", "currentName=engineering&name=eng", `{"errors":[{"msg":"Operation not allowed when the instance is externally managed."}]}`},
		{"/api/user_groups/add_user", "name=engineering&login=admin", `{"errors":[{"msg":"Operation not allowed when the instance is externally managed."}]}`},
		{"/api/user_groups/remove_user", "name=engineering&login=jane.doe", `{"errors":[{"msg":"Operation not allowed when the instance is externally managed."}]}`},
		{"/api/user_groups/delete", "name=engineering", `{"errors":[{"msg":"Deleting managed groups is not allowed."}]}`},
	} {
		st, _, raw := g.req("POST", tc.path, form, tc.form, admin)
		if st != 400 || raw != tc.want {
			t.Errorf("%s %s: %d %s, want 400 %s", tc.path, tc.form, st, raw, tc.want)
		}
	}
	if g.snapshot() != before {
		t.Fatal("refused Web API edits changed the store")
	}

	agree := func(active bool) {
		t.Helper()
		_, search, raw := g.req("GET", "/api/users/search?q=jane&deactivated="+map[bool]string{true: "false", false: "true"}[active], "", "", admin)
		users := search["users"].([]any)
		if len(users) != 1 {
			t.Fatalf("users/search: %s", raw)
		}
		wu := users[0].(map[string]any)
		_, su, _ := g.req("GET", "/api/scim/v2/Users/"+id, "", "", bearer)
		if wu["managed"] != true || wu["active"] != active || su["active"] != active {
			t.Errorf("Web API %v/%v and SCIM %v disagree, want active=%v managed=true", wu["active"], wu["managed"], su["active"], active)
		}
	}
	agree(true)
	st, _, raw = g.req("PATCH", "/api/scim/v2/Users/"+id, scimJSON,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`, bearer)
	if st != 200 {
		t.Fatalf("deprovision: %d %s", st, raw)
	}
	agree(false)
	st, _, raw = g.req("PATCH", "/api/scim/v2/Users/"+id, scimJSON,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"True"}]}`, bearer)
	if st != 200 {
		t.Fatalf("reprovision: %d %s", st, raw)
	}
	agree(true)
	// A managed group can hold permissions granted through the Web API.
	if st, _, raw := g.req("POST", "/api/permissions/add_group", form, "groupName=engineering&permission=scan", admin); st != 204 {
		t.Fatalf("grant to managed group: %d %s", st, raw)
	}
	// Both APIs live side by side: unknown Web API paths do not swallow SCIM ones.
	if st, _, _ := g.req("GET", "/api/scim/v2/ServiceProviderConfig", "", "", bearer); st != 200 {
		t.Fatalf("SCIM discovery behind the Web API catch-all: %d", st)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serveInBackground runs the serve command until stop is called, and
// returns once /healthz answers.
func serveInBackground(t *testing.T, addr, db string, stdout, stderr io.Writer) (stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "-addr", addr, "-db", db}, stdout, stderr) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d before answering", code)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() int { cancel(); return <-done }
}

// TestServeCommand runs the real command: first start creates admin with the
// password from the environment, a second instance on the same store fails
// clearly, and cancelling shuts down cleanly.
func TestServeCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "scimgate.db")
	addr := freeAddr(t)
	t.Setenv("SCIMGATE_ADMIN_PASSWORD", adminPass)
	var stdout, stderr bytes.Buffer
	stop := serveInBackground(t, addr, db, &stdout, &stderr)
	req, err := http.NewRequest("GET", "http://"+addr+"/api/authentication/validate", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", basicAuth("admin", adminPass))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if string(bytes.TrimSpace(body)) != `{"valid":true}` {
		t.Errorf("admin password from the environment not set: %s", body)
	}
	var errOut bytes.Buffer
	if code := run(context.Background(), []string{"serve", "-addr", freeAddr(t), "-db", db}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "locked") {
		t.Errorf("second server on the same store: exit %d, %q", code, errOut.String())
	}
	if code := stop(); code != 0 {
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), adminPass) {
		t.Error("the admin password was printed")
	}
}

func TestRandomAdminPasswordPrintedOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "scimgate.db")
	t.Setenv("SCIMGATE_ADMIN_PASSWORD", "")
	for i, want := range []bool{true, false} {
		var out bytes.Buffer
		stop := serveInBackground(t, freeAddr(t), db, &out, io.Discard)
		stop()
		if got := strings.Contains(out.String(), "password:"); got != want {
			t.Errorf("start %d: password printed = %v, want %v (%q)", i+1, got, want, out.String())
		}
	}
}

func TestUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "Usage") {
		t.Errorf("no args: %d %q", code, errOut.String())
	}
	if code := run(context.Background(), []string{"bogus"}, &out, &errOut); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	if code := run(context.Background(), []string{"serve", "-nope"}, &out, &errOut); code != 2 {
		t.Errorf("bad flag: %d", code)
	}
}

// must fails the test on err; safe from any goroutine.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Error(err)
	}
}
