package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/scimgate/scimgate/scim"
	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
	"github.com/scimgate/scimgate/store/storetest"
	"github.com/scimgate/scimgate/webapi"
	"github.com/scimgate/scimgate/webapi/console"
)

func TestMain(m *testing.M) {
	store.PasswordCost = bcrypt.MinCost
	os.Exit(m.Run())
}

const adminPass = "Night-owl-1234!"

var ctx = context.Background()

// env is a server with the console, the Web API and SCIM over a real
// bbolt store, and a browser-like client: a cookie jar, no redirects
// followed.
type env struct {
	t      *testing.T
	srv    *httptest.Server
	st     store.Store
	client *http.Client
	scim   string // an admin token, for SCIM
}

func newEnv(t *testing.T, policy store.Policy) *env {
	t.Helper()
	raw := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(ctx, raw, adminPass); err != nil {
		t.Fatal(err)
	}
	st := store.Audited(raw, nil)
	a := auth.New(st, policy, auth.NewLockout(3, 10*time.Minute))
	t.Cleanup(a.Wait)
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	webapi.New(st, a, nil).Register(e)
	h, err := scim.New(st, scim.Options{BaseURL: "http://example.test" + scim.Prefix, Prefix: scim.Prefix, Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(e)
	console.New(st, a, slog.New(slog.NewTextHandler(io.Discard, nil))).Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	env := &env{t: t, srv: srv, st: st, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	tok, err := store.GenerateToken(ctx, st, store.Caller{User: env.user("admin"), Admin: true}, store.TokenRequest{Name: "okta-scim"})
	if err != nil {
		t.Fatal(err)
	}
	env.scim = tok.Secret
	return env
}

// user returns the stored user of login; none fails the test.
func (e *env) user(login string) store.User {
	e.t.Helper()
	var u store.User
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		u, err = tx.UserByLogin(login)
		return err
	})
	if err != nil {
		e.t.Fatalf("user %s: %v", login, err)
	}
	return u
}

// do sends a request with the jar's cookies; it returns the status, the
// Location header and the body.
func (e *env) do(method, path string, form url.Values, header http.Header) (int, string, string) {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, res.Header.Get("Location"), string(raw)
}

func (e *env) get(path string) (int, string) {
	e.t.Helper()
	status, _, body := e.do("GET", path, nil, nil)
	return status, body
}

// xsrf is the session's XSRF token, as the pages put it in every form.
func (e *env) xsrf() string {
	u, err := url.Parse(e.srv.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range e.client.Jar.Cookies(u) {
		if c.Name == "XSRF-TOKEN" {
			return c.Value
		}
	}
	return ""
}

// post submits a console form with the session's XSRF token.
func (e *env) post(path string, form url.Values) (int, string, string) {
	e.t.Helper()
	form.Set("xsrf", e.xsrf())
	return e.do("POST", path, form, nil)
}

func (e *env) login(login, password string) {
	e.t.Helper()
	status, loc, body := e.do("POST", "/console/login", url.Values{"login": {login}, "password": {password}}, nil)
	if status != http.StatusSeeOther {
		e.t.Fatalf("login %s: %d %s", login, status, body)
	}
	if loc != "/console/" {
		e.t.Fatalf("login %s redirected to %q", login, loc)
	}
}

// scimCreate provisions a managed user through SCIM.
func (e *env) scimCreate(userName string) store.User {
	e.t.Helper()
	local, _, _ := strings.Cut(userName, "@")
	given, family, _ := strings.Cut(local, ".")
	req, err := http.NewRequest("POST", e.srv.URL+"/api/scim/v2/Users", strings.NewReader(
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"`+userName+`","name":{"givenName":"`+given+`","familyName":"`+family+`"},"active":true}`))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer "+e.scim)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		e.t.Fatalf("SCIM create %s: %d", userName, res.StatusCode)
	}
	return e.user(userName)
}

// local creates a local user.
func (e *env) local(login, name string) store.User {
	e.t.Helper()
	pw := "Night-owl-9876"
	_, err := store.CreateUser(ctx, e.st, store.Caller{User: e.user("admin"), Admin: true}, store.DefaultPolicy(),
		store.NewUserRequest{Login: login, Name: name, Email: login + "@example.test", Local: true, Password: &pw})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.user(login)
}

// main is the <main> element of a page.
func main_(body string) string {
	_, after, _ := strings.Cut(body, "<main")
	m, _, _ := strings.Cut(after, "</main>")
	return m
}

func TestSignInAndOut(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	if status, loc, _ := e.do("GET", "/", nil, nil); status != 302 || loc != "/console/" {
		t.Fatalf("/ = %d %q, want a redirect to the console", status, loc)
	}
	if status, loc, _ := e.do("GET", "/console/users?q=a", nil, nil); status != 303 || loc != "/console/login?next=%2Fconsole%2Fusers%3Fq%3Da" {
		t.Fatalf("signed out: %d %q, want the login page with next", status, loc)
	}
	status, body := e.get("/console/login")
	if status != 200 || !strings.Contains(body, `name="login"`) || !strings.Contains(body, `name="password"`) || !strings.Contains(body, `<label for="login">`) {
		t.Fatalf("login page: %d %s", status, body)
	}
	for _, pw := range []string{"wrong", ""} {
		status, _, body := e.do("POST", "/console/login", url.Values{"login": {"admin"}, "password": {pw}}, nil)
		if status != 401 || !strings.Contains(body, "Wrong login or password, or the account is locked.") {
			t.Fatalf("wrong password: %d %s", status, body)
		}
	}
	for next, want := range map[string]string{"/console/groups": "/console/groups", "https://evil.example/": "/console/", "//evil.example/console/": "/console/"} {
		status, loc, _ := e.do("POST", "/console/login", url.Values{"login": {"admin"}, "password": {adminPass}, "next": {next}}, nil)
		if status != 303 || loc != want {
			t.Errorf("login with next %q: %d %q, want %q", next, status, loc, want)
		}
	}
	if status, loc, _ := e.do("GET", "/console/", nil, nil); status != 302 || loc != "/console/users" {
		t.Fatalf("admin's home: %d %q", status, loc)
	}
	// The console's session is the Web API's too.
	if status, body := e.get("/api/users/current"); status != 200 || !strings.Contains(body, `"login":"admin"`) {
		t.Fatalf("api/users/current with the console's session: %d %s", status, body)
	}
	if status, loc, _ := e.post("/console/logout", url.Values{}); status != 303 || loc != "/console/login" {
		t.Fatalf("logout: %d %q", status, loc)
	}
	if status, _, _ := e.do("GET", "/console/users", nil, nil); status != 303 {
		t.Fatalf("after logout: %d, want the login page", status)
	}
	// A cross-site login form is refused (login CSRF).
	status, _, _ = e.do("POST", "/console/login", url.Values{"login": {"admin"}, "password": {adminPass}}, http.Header{"Origin": {"https://evil.example"}})
	if status != 403 {
		t.Fatalf("cross-site login: %d, want 403", status)
	}
}

// Every answer forbids framing, inline and foreign scripts; every form
// carries the XSRF token, and a POST without it changes nothing.
func TestSecurity(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	lea := e.local("lea", "Lea")
	e.login("admin", adminPass)
	for _, path := range []string{"/console/login", "/console/users", "/console/users/" + lea.ID, "/console/groups", "/console/projects",
		"/console/permissions", "/console/templates", "/console/audit", "/console/provisioning", "/console/account", "/console/static/console.css"} {
		req, err := http.NewRequest("GET", e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		csp := res.Header.Get("Content-Security-Policy")
		if res.StatusCode != 200 || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || res.Header.Get("X-Frame-Options") != "DENY" || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, CSP %q, X-Frame-Options %q", path, res.StatusCode, csp, res.Header.Get("X-Frame-Options"))
		}
		page := string(raw)
		if strings.Contains(page, "<script>") || strings.Contains(page, " style=") || strings.Contains(page, "onclick") {
			t.Errorf("%s has inline script or style", path)
		}
		// Every POST form carries the token.
		forms := regexp.MustCompile(`(?s)<form[^>]*method="post".*?</form>`).FindAllString(page, -1)
		for _, f := range forms {
			if !strings.Contains(f, `name="xsrf" value="`+e.xsrf()+`"`) && !strings.Contains(f, `action="/console/login"`) {
				t.Errorf("%s: a form without the XSRF token: %s", path, f)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"no token", url.Values{"name": {"Mallory"}}, nil},
		{"another token", url.Values{"name": {"Mallory"}, "xsrf": {"0123456789abcdef0123456789abcdef01234567"}}, nil},
		{"cross-site", url.Values{"name": {"Mallory"}, "xsrf": {e.xsrf()}}, http.Header{"Origin": {"https://evil.example"}}},
	} {
		status, _, body := e.do("POST", "/console/users/"+lea.ID+"/edit", tc.form, tc.header)
		if status != 403 || !strings.Contains(body, "did not come from this console") {
			t.Errorf("%s: %d, want 403", tc.name, status)
		}
	}
	if got := e.user("lea"); got.Name != "Lea" {
		t.Fatalf("a refused form changed the user: %+v", got)
	}
	// An error page links back only to a page of this console.
	for referer, want := range map[string]string{
		e.srv.URL + "/console/users?q=a": `<a href="/console/users?q=a">Back</a>`,
		"https://evil.example/console/x": "",
		"javascript:alert(1)":            "",
	} {
		_, _, body := e.do("GET", "/console/users/nobody", nil, http.Header{"Referer": {referer}})
		if back := strings.Contains(body, ">Back</a>"); back != (want != "") || want != "" && !strings.Contains(body, want) {
			t.Errorf("error page with Referer %q: back link %v, want %q", referer, back, want)
		}
	}
	// Output is escaped.
	e.local("xss", `<script>alert("x")</script>`)
	if _, body := e.get("/console/users?q=xss"); strings.Contains(body, `<script>alert`) || !strings.Contains(body, `&lt;script&gt;alert`) {
		t.Error("a user's name is not escaped in the users list")
	}
}

// A provisioned user is shown read-only: the note, no form, and forms
// posted anyway are refused by the rules the APIs share.
func TestManagedUserIsReadOnly(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	sam := e.scimCreate("sam@corp.example")
	e.login("admin", adminPass)
	status, body := e.get("/console/users")
	row := regexp.MustCompile(`(?s)<tr data-login="sam@corp.example">.*?</tr>`).FindString(body)
	if status != 200 || !strings.Contains(row, `badge managed">Managed<`) {
		t.Fatalf("users list row of a SCIM user: %q", row)
	}
	status, body = e.get("/console/users/" + sam.ID)
	m := main_(body)
	if status != 200 || !strings.Contains(m, "Managed by your identity provider") || strings.Contains(m, "<form") || strings.Contains(m, "Deactivate") {
		t.Fatalf("managed user page: %d %s", status, m)
	}
	for _, path := range []string{"/edit", "/deactivate", "/password"} {
		status, _, body := e.post("/console/users/"+sam.ID+path, url.Values{"name": {"X"}, "password": {"Night-owl-5555"}})
		if status != 400 || !strings.Contains(body, "externally managed") && !strings.Contains(body, "external authentication") && !strings.Contains(body, "not allowed to update") {
			t.Errorf("POST %s on a managed user: %d %s", path, status, main_(body))
		}
	}
	if got := e.user("sam@corp.example"); !got.Active || got.Name != sam.Name {
		t.Fatalf("a refused form changed the managed user: %+v", got)
	}
	// A provisioned group likewise.
	req, err := http.NewRequest("POST", e.srv.URL+"/api/scim/v2/Groups", strings.NewReader(
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"okta-devs","members":[{"value":"`+sam.ID+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("Authorization", "Bearer "+e.scim)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var g store.Group
	if err := e.st.View(ctx, func(tx store.Tx) error { var err error; g, err = tx.GroupByName("okta-devs"); return err }); err != nil {
		t.Fatalf("SCIM group: %d %v", res.StatusCode, err)
	}
	_, body = e.get("/console/groups")
	if row := regexp.MustCompile(`(?s)<tr data-group="okta-devs">.*?</tr>`).FindString(body); !strings.Contains(row, "Managed") || !strings.Contains(row, "<td>1</td>") {
		t.Fatalf("groups list row of a SCIM group: %q", row)
	}
	_, body = e.get("/console/groups/" + g.ID)
	if m := main_(body); !strings.Contains(m, "Managed by your identity provider") || strings.Contains(m, "<form") || !strings.Contains(m, "sam@corp.example") {
		t.Fatalf("managed group page: %s", m)
	}
	if status, _, _ := e.post("/console/groups/"+g.ID+"/members", url.Values{"op": {"remove"}, "login": {"sam@corp.example"}}); status != 400 {
		t.Fatalf("removing a member of a managed group: %d, want 400", status)
	}
}

func TestLocalUserActions(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	lea := e.local("lea", "Lea")
	e.login("admin", adminPass)
	page := "/console/users/" + lea.ID
	steps := []struct {
		name, path string
		form       url.Values
		notice     string
		check      func(u store.User) bool
	}{
		{"edit", "/edit", url.Values{"name": {"Lea Park"}, "email": {"lea.park@example.test"}}, "saved",
			func(u store.User) bool { return u.Name == "Lea Park" && u.Email == "lea.park@example.test" }},
		{"reset password", "/password", url.Values{"password": {"Night-owl-7315"}}, "password",
			func(u store.User) bool { return store.CheckPassword(u.PasswordHash, "Night-owl-7315") }},
		{"deactivate", "/deactivate", url.Values{}, "deactivated", func(u store.User) bool { return !u.Active }},
		{"reactivate", "/reactivate", url.Values{"password": {"Night-owl-8264"}}, "reactivated",
			func(u store.User) bool { return u.Active && store.CheckPassword(u.PasswordHash, "Night-owl-8264") }},
	}
	for _, s := range steps {
		status, loc, body := e.post(page+s.path, s.form)
		if status != 303 || loc != page+"?done="+s.notice {
			t.Fatalf("%s: %d %q %s", s.name, status, loc, main_(body))
		}
		if u := e.user("lea"); !s.check(u) {
			t.Fatalf("%s: store has %+v", s.name, u)
		}
	}
	if _, body := e.get(page + "?done=reactivated"); !strings.Contains(body, "The user was reactivated.") {
		t.Error("no notice after reactivation")
	}
	// The confirmation page of a deactivation is a form of its own.
	if status, body := e.get(page + "/deactivate"); status != 200 || !strings.Contains(body, "Deactivate lea?") || !strings.Contains(body, `action="`+page+`/deactivate"`) {
		t.Fatalf("confirmation page: %d", status)
	}
	// A token: its secret shown once, then revoked.
	status, _, body := e.post(page+"/tokens", url.Values{"name": {"ci"}})
	secret := regexp.MustCompile(`id="secret" value="([0-9a-z_]+)"`).FindStringSubmatch(body)
	if status != 200 || secret == nil {
		t.Fatalf("create token: %d %s", status, main_(body))
	}
	var tok store.Token
	if err := e.st.View(ctx, func(tx store.Tx) error { var err error; tok, err = tx.TokenByName(lea.ID, "ci"); return err }); err != nil || tok.Hash != store.HashToken(secret[1]) {
		t.Fatalf("stored token: %+v %v", tok, err)
	}
	if _, body := e.get(page); strings.Contains(body, secret[1]) {
		t.Fatal("the token's secret is shown again")
	}
	if status, loc, _ := e.post(page+"/tokens/revoke", url.Values{"name": {"ci"}}); status != 303 || loc != page+"?done=revoked" {
		t.Fatalf("revoke: %d %q", status, loc)
	}
	// Locked by wrong passwords, unlocked from the console.
	for i := 0; i < 3; i++ {
		req, err := http.NewRequest("GET", e.srv.URL+"/api/users/current", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("lea", "wrong")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if _, body := e.get("/console/users?locked=on"); !strings.Contains(body, `data-login="lea"`) || !strings.Contains(body, "Locked") {
		t.Fatal("a locked user is not in the locked filter")
	}
	if status, _, _ := e.post(page+"/unlock", url.Values{}); status != 303 {
		t.Fatalf("unlock: %d", status)
	}
	if _, body := e.get("/console/users?locked=on"); strings.Contains(body, `data-login="lea"`) {
		t.Fatal("still locked after unlock")
	}
	// Each change is in the user's history, by the console.
	_, body = e.get(page)
	for _, want := range []string{"deactivated", "reactivated", "token created", "token revoked", "user unlocked"} {
		if !strings.Contains(main_(body), want) && !strings.Contains(strings.ReplaceAll(main_(body), "</td>\n  <td>", " "), want) {
			t.Errorf("history lacks %q", want)
		}
	}
	if !strings.Contains(body, "<td>console</td>") {
		t.Error("history does not name the console as the API")
	}
}

// Users who are not administrators see their own account only.
func TestNonAdmin(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	e.local("lea", "Lea")
	e.login("lea", "Night-owl-9876")
	if status, loc, _ := e.do("GET", "/console/", nil, nil); status != 302 || loc != "/console/account" {
		t.Fatalf("home of a non-admin: %d %q", status, loc)
	}
	for _, path := range []string{"/console/users", "/console/groups", "/console/audit", "/console/provisioning", "/console/permissions"} {
		if status, body := e.get(path); status != 403 || !strings.Contains(body, "for administrators") {
			t.Errorf("%s as a non-admin: %d", path, status)
		}
	}
	if status, _, _ := e.post("/console/permissions", url.Values{"kind": {"user"}, "name": {"lea"}, "permission": {"admin"}, "op": {"grant"}}); status != 403 {
		t.Fatalf("a non-admin granting: %d", status)
	}
	status, body := e.get("/console/account")
	if status != 200 || !strings.Contains(body, "My tokens") || strings.Contains(body, "/console/users\"") {
		t.Fatalf("own account page: %d", status)
	}
	if status, _, body := e.post("/console/account/tokens", url.Values{"name": {"laptop"}}); status != 200 || !strings.Contains(body, `id="secret"`) {
		t.Fatalf("own token: %d", status)
	}
	// Changing one's password ends the session: sign in again with it.
	status, loc, _ := e.post("/console/password", url.Values{"current": {"Night-owl-9876"}, "new_password": {"Night-owl-4321"}, "confirm": {"Night-owl-4321"}})
	if status != 303 || !strings.HasPrefix(loc, "/console/login") {
		t.Fatalf("change password: %d %q", status, loc)
	}
	e.login("lea", "Night-owl-4321")
}

// An expired password leads to the change form; the new one signs in.
func TestPasswordExpiry(t *testing.T) {
	p := store.DefaultPolicy()
	p.PasswordExpirationDays = 30
	e := newEnv(t, p)
	lea := e.local("lea", "Lea")
	if err := e.st.Update(ctx, func(tx store.Tx) error {
		u, err := tx.User(lea.ID)
		if err != nil {
			return err
		}
		u.PasswordChanged = store.Now().AddDate(0, 0, -31)
		return tx.PutUser(u)
	}); err != nil {
		t.Fatal(err)
	}
	status, _, body := e.do("POST", "/console/login", url.Values{"login": {"lea"}, "password": {"Night-owl-9876"}}, nil)
	if status != 401 || !strings.Contains(body, "Your password has expired") || !strings.Contains(body, `name="new_password"`) {
		t.Fatalf("expired login: %d %s", status, main_(body))
	}
	status, loc, body := e.do("POST", "/console/login", url.Values{"login": {"lea"}, "password": {"Night-owl-9876"},
		"new_password": {"Night-owl-2468"}, "confirm": {"Night-owl-2468"}}, nil)
	if status != 303 || loc != "/console/" {
		t.Fatalf("change of an expired password: %d %q %s", status, loc, main_(body))
	}
	if status, _ := e.get("/console/account"); status != 200 {
		t.Fatalf("signed in after the change: %d", status)
	}
}

// The project page answers who can browse and how, and manages the
// project's permissions; the audit page filters; the provisioning page
// counts what each SCIM token did.
func TestProjectsAuditProvisioning(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	admin := store.Caller{User: e.user("admin"), Admin: true}
	p, err := store.CreateProjectAs(ctx, e.st, admin, store.NewProjectRequest{Key: "payments", Name: "Payments", Private: true})
	if err != nil {
		t.Fatal(err)
	}
	e.scimCreate("sam@corp.example")
	e.local("lea", "Lea")
	e.login("admin", adminPass)
	page := "/console/projects/" + p.ID
	if status, loc, body := e.post(page+"/permissions", url.Values{"kind": {"user"}, "name": {"lea"}, "permission": {"user"}, "op": {"grant"}}); status != 303 || loc != page+"?done=granted" {
		t.Fatalf("grant: %d %q %s", status, loc, main_(body))
	}
	_, body := e.get(page)
	row := regexp.MustCompile(`(?s)<tr data-login="lea">.*?</tr>`).FindString(body)
	if !strings.Contains(row, "granted to the user") {
		t.Fatalf("access answer for lea: %q", row)
	}
	if !strings.Contains(body, `lea <span class="via">(user)</span>`) {
		t.Fatalf("permission holders lack lea: %s", main_(body))
	}
	if row := regexp.MustCompile(`(?s)<tr data-login="sam@corp.example">.*?</tr>`).FindString(body); !strings.Contains(row, "through group sonar-users (from template Default template)") {
		t.Fatalf("access answer for sam: %q", row)
	}
	if status, _, _ := e.post(page+"/permissions", url.Values{"kind": {"user"}, "name": {"lea"}, "permission": {"user"}, "op": {"revoke"}}); status != 303 {
		t.Fatalf("revoke: %d", status)
	}
	if _, body := e.get(page); strings.Contains(regexp.MustCompile(`(?s)<tr data-login="lea">.*?</tr>`).FindString(body), "granted to the user") {
		t.Fatal("revoked grant still shown")
	}
	// A refusal through the console, then the audit trail's filters.
	e.post(page+"/permissions", url.Values{"kind": {"user"}, "name": {"nobody"}, "permission": {"user"}, "op": {"grant"}})
	for query, want := range map[string]string{
		"?name=lea&action=granted":       "<td>lea</td>",
		"?api=scim":                      "sam@corp.example",
		"?from=2000-01-01&to=2000-01-02": "Nothing recorded.",
	} {
		if _, body := e.get("/console/audit" + query); !strings.Contains(body, want) {
			t.Errorf("audit%s lacks %q", query, want)
		}
	}
	if status, body := e.get("/console/audit?from=yesterday"); status != 400 || !strings.Contains(body, "Dates are YYYY-MM-DD.") {
		t.Errorf("bad date: %d", status)
	}
	_, body = e.get("/console/provisioning")
	row = regexp.MustCompile(`(?s)<tr><td><a href="/console/users/[^"]+">admin</a></td><td>okta-scim</td>.*?</tr>`).FindString(body)
	if cells := regexp.MustCompile(`<td>(\d+)</td>`).FindAllStringSubmatch(row, -1); len(cells) != 4 || cells[0][1] != "1" || cells[3][1] != "0" {
		t.Fatalf("provisioning row of okta-scim: %q", row)
	}
}

// Lists page by 50: the users list reads only its page and counts the users
// from the store's count; the audit trail reads until a next page shows.
func TestPaging(t *testing.T) {
	e := newEnv(t, store.DefaultPolicy())
	ids := storetest.Seed(t, e.st, 125)
	storetest.Deactivate(t, e.st, ids[120:]...)
	e.login("admin", adminPass)
	for _, tc := range []struct {
		path      string
		rows      int
		want      []string
		notWanted []string
	}{
		{"/console/users", 50, []string{"Page 1 of 3 (126)", `rel="next"`}, []string{`rel="prev"`}},
		{"/console/users?p=3", 26, []string{"Page 3 of 3 (126)", `rel="prev"`}, []string{`rel="next"`}},
		{"/console/users?active=true&p=3", 21, []string{"Page 3 of 3 (121)", `rel="prev"`}, []string{`data-login="user120"`}},
		{"/console/users?active=false", 5, []string{"5 in all", `data-login="user120"`, `data-login="user124"`}, []string{"Page ", `data-login="user1"`}},
		{"/console/users?q=user1", 36, []string{"36 in all"}, []string{"Page "}},
		{"/console/audit", 50, []string{"Page 1<", `rel="next"`}, nil},
	} {
		status, body := e.get(tc.path)
		rows := strings.Count(main_(body), "<tr") - 1 // the header row
		if status != 200 || rows != tc.rows {
			t.Errorf("%s: %d, %d rows, want %d", tc.path, status, rows, tc.rows)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tc.path, w)
			}
		}
		for _, w := range tc.notWanted {
			if strings.Contains(body, w) {
				t.Errorf("%s has %q", tc.path, w)
			}
		}
	}
}
