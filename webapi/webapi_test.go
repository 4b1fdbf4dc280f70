package webapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
	"github.com/scimgate/scimgate/webapi"
	v2 "github.com/scimgate/scimgate/webapi/v2"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestMain(m *testing.M) {
	store.PasswordCost = bcrypt.MinCost
	os.Exit(m.Run())
}

const (
	adminPass = "Admin-pass-123"
	alicePass = "Alice-pass-123!"
)

// env is a Web API on a real bbolt file with fixtures: admin, a local user
// alice (no permissions), a managed user scim.user in managed group
// okta-group, and a local group devs.
type env struct {
	t          testing.TB
	srv        *httptest.Server
	store      *bolt.Store
	aliceToken string
	managedID  string
	auth       *auth.Authenticator
	realClock  func() time.Time // store.Now before the test changed it

	mu      sync.Mutex
	pending []func() // last-connection writes, queued (see flush)
}

// flush runs the last-connection writes the requests so far queued: they
// run only here, so no answer depends on whether one landed first.
func (e *env) flush() {
	e.mu.Lock()
	writes := e.pending
	e.pending = nil
	e.mu.Unlock()
	for _, w := range writes {
		w()
	}
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st := bolttest.MustOpen(t)
	ctx := context.Background()
	if _, _, err := store.Bootstrap(ctx, st, adminPass); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, aliceToken: store.NewTokenSecret()}
	err := st.Update(ctx, func(tx store.Tx) error {
		hash, err := store.HashPassword(alicePass)
		if err != nil {
			return err
		}
		alice, err := store.NewUser(tx, store.User{Login: "alice", Name: "Alice", Email: "alice@example.com", Active: true, Local: true,
			ExternalLogin: "alice", ExternalProvider: "sonarqube", PasswordHash: hash})
		if err != nil {
			return err
		}
		if err := tx.PutToken(store.Token{Hash: store.HashToken(e.aliceToken), UserID: alice.ID, Name: "laptop", Type: store.TokenUser, Created: store.Now()}); err != nil {
			return err
		}
		m, err := store.NewUser(tx, store.User{Login: "scim.user", Name: "Scim User", Email: "scim.user@example.com", Active: true, Managed: true,
			ExternalID: "00u1", ExternalLogin: "scim.user", ExternalProvider: "scim", SCIM: []byte(`{"displayName":"Scim User"}`)})
		if err != nil {
			return err
		}
		e.managedID = m.ID
		g, err := store.NewGroup(tx, store.Group{Name: "okta-group", Managed: true})
		if err != nil {
			return err
		}
		if err := tx.AddMember(g.ID, m.ID); err != nil {
			return err
		}
		_, err = store.NewGroup(tx, store.Group{Name: "devs", Description: "Developers"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ec := echo.New()
	e.auth = auth.New(st, store.DefaultPolicy(), auth.NewLockout(5, 10*time.Minute))
	e.auth.Background = func(write func()) {
		e.mu.Lock()
		e.pending = append(e.pending, write)
		e.mu.Unlock()
	}
	t.Cleanup(func() { e.flush(); e.auth.Wait() }) // background writes end before the store closes
	ec.IPExtractor = echo.ExtractIPDirect()
	webapi.New(st, e.auth, nil).Register(ec)
	v2.New(st, e.auth, nil).Register(ec)
	e.srv = httptest.NewServer(ec)
	t.Cleanup(e.srv.Close)
	return e
}

func basic(login, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+pass))
}

var adminAuth = basic("admin", adminPass)

// do sends method path with form parameters ("k=v&k=v") as SonarQube clients do.
func (e *env) do(method, path, form, auth string) (int, string) {
	e.t.Helper()
	var body io.Reader
	target := e.srv.URL + "/" + path
	if method == http.MethodPost {
		body = strings.NewReader(form)
	} else if form != "" {
		target += "?" + form
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.roundTrip(req)
}

// send sends method path with body of content type ctype, as REST API v2
// clients do.
func (e *env) send(method, path, ctype, body, auth string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+"/"+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return e.roundTrip(req)
}

func (e *env) roundTrip(req *http.Request) (int, string) {
	e.t.Helper()
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.StatusCode, strings.TrimSpace(string(raw))
}

var refRe = regexp.MustCompile(`\{(user|group):([^}]+)\}`)

// expand replaces {user:login} and {group:name} with their ids; the test
// fails when there is no such user or group.
func (e *env) expand(s string) string {
	e.t.Helper()
	return refRe.ReplaceAllStringFunc(s, func(ref string) string {
		m := refRe.FindStringSubmatch(ref)
		var id string
		e.view(func(tx store.Tx) error {
			if m[1] == "user" {
				u, err := userIn(tx, m[2])
				id = u.ID
				return err
			}
			g, err := tx.GroupByName(m[2])
			if err != nil {
				return fmt.Errorf("group %q: %w", m[2], err)
			}
			id = g.ID
			return nil
		})
		return id
	})
}

func errs(msgs ...string) string {
	b := struct {
		Errors []map[string]string `json:"errors"`
	}{}
	for _, m := range msgs {
		b.Errors = append(b.Errors, map[string]string{"msg": m})
	}
	raw, _ := json.Marshal(b)
	return string(raw)
}

var (
	uuidRe  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	dateRe  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}`)
	tokenRe = regexp.MustCompile(`sq[uapb]_[0-9a-f]{40}`)
	anonRe  = regexp.MustCompile(`sq-removed-[0-9a-z]{6}`)
)

// normalize replaces what changes between runs: ids, dates, token secrets.
func normalize(s string) string {
	s = uuidRe.ReplaceAllString(s, "<id>")
	s = dateRe.ReplaceAllString(s, "<date>")
	s = anonRe.ReplaceAllString(s, "sq-removed-<random>")
	return tokenRe.ReplaceAllString(s, "<token>")
}

// golden compares body with testdata/golden/name.json (indented).
func golden(t *testing.T, name, body string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: not JSON: %q", name, body)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	got := normalize(string(pretty)) + "\n"
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("missing golden file %s (run go test ./webapi -update): %v", path, err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n got: %s\nwant: %s", name, path, got, want)
	}
}

// snapshot is what the store holds about users, groups, members, grants and
// tokens: refused requests must leave it unchanged. A store that cannot be
// read gives a snapshot that differs from every other (it also runs inside
// fuzz targets, where the env's testing.F must not be used).
func (e *env) snapshot() string {
	var b strings.Builder
	err := e.store.View(context.Background(), func(tx store.Tx) error {
		for u := range values(tx.UsersByLogin()) {
			u.LastConnection = nil // written in the background by any sign-in
			raw, _ := json.Marshal(u)
			b.Write(raw)
			perms, err := tx.Permissions(store.UserSubject(u.ID))
			if err != nil {
				return err
			}
			toks, err := tx.Tokens(u.ID)
			if err != nil {
				return err
			}
			b.WriteString(fmt.Sprint(perms) + "|" + string(rune('0'+len(toks))) + "\n")
		}
		for g := range values(tx.GroupsByName()) {
			raw, _ := json.Marshal(g)
			b.Write(raw)
			b.WriteString(" " + strings.Join(slices.Collect(store.Members(tx, g.ID)), " "))
			perms, err := tx.Permissions(store.GroupSubject(g.ID))
			if err != nil {
				return err
			}
			b.WriteString("|" + fmt.Sprint(perms) + "\n")
		}
		perms, err := tx.Permissions(store.GroupSubject(store.AnyoneGroup))
		if err != nil {
			return err
		}
		b.WriteString("Anyone|" + fmt.Sprint(perms) + "\n")
		for _, seq := range []iter.Seq[any]{anys(tx.Projects()), anys(tx.Templates()), anys(tx.Organizations())} {
			for v := range seq {
				raw, _ := json.Marshal(v)
				b.Write(raw)
			}
		}
		return nil
	})
	if err != nil {
		return "unreadable store: " + err.Error()
	}
	return b.String()
}

// anys is values, boxed, so that iterators of several types share a loop.
func anys[T any](seq iter.Seq2[T, error]) iter.Seq[any] {
	return func(yield func(any) bool) {
		for v := range values(seq) {
			if !yield(v) {
				return
			}
		}
	}
}

// values drops the errors of an iterator; a snapshot that cannot be read
// differs from the one before anyway.
func values[T any](seq iter.Seq2[T, error]) iter.Seq[T] {
	return func(yield func(T) bool) {
		for v, err := range seq {
			if err != nil || !yield(v) {
				return
			}
		}
	}
}

// clock sets store.Now, scimgate's one clock, to now (nil: the real clock)
// until the test ends.
func (e *env) clock(now func() time.Time) {
	if e.realClock == nil {
		e.realClock = store.Now
		e.t.Cleanup(func() {
			e.flush() // background writes read the clock too
			e.auth.Wait()
			store.Now = e.realClock
		})
	}
	if now == nil {
		now = e.realClock
	}
	store.Now = now
}
