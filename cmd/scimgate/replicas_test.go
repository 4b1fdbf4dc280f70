package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/postgres"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
)

// replicas serves n scimgate servers on one new PostgreSQL database. They
// open the database and bootstrap it all at once, as replicas starting
// together do: exactly one of them may create the first administrator.
func replicas(t *testing.T, n int) []*gateway {
	t.Helper()
	url := pgtest.URL(t)
	stores := make([]*postgres.Store, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if stores[i], errs[i] = postgres.Open(context.Background(), url); errs[i] == nil {
				_, created[i], errs[i] = store.Bootstrap(context.Background(), stores[i], adminPass)
			}
		}()
	}
	wg.Wait()
	var out []*gateway
	bootstraps := 0
	for i, st := range stores {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		t.Cleanup(func() { st.Close() })
		if created[i] {
			bootstraps++
		}
		out = append(out, serveStore(t, st))
	}
	if bootstraps != 1 {
		t.Fatalf("%d replicas bootstrapped the store, want exactly 1", bootstraps)
	}
	return out
}

const scimUserJSON = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"%s","externalId":"%s","active":true}`

// TestReplicasShareOneStore runs two scimgate servers on one PostgreSQL
// database and checks that what one does, the other sees at once.
func TestReplicasShareOneStore(t *testing.T) {
	rs := replicas(t, 2)
	a, b := rs[0], rs[1]
	admin := basicAuth("admin", adminPass)
	const form = "application/x-www-form-urlencoded"

	t.Run("bootstrapped once", func(t *testing.T) {
		must(t, a.store.View(context.Background(), func(tx store.Tx) error {
			users, err := tx.CountUsers()
			if err != nil {
				return err
			}
			groups, err := tx.CountGroups()
			if err != nil {
				return err
			}
			templates := 0
			for _, err := range tx.Templates() {
				if err != nil {
					return err
				}
				templates++
			}
			if users != 1 || groups != 2 || templates != 1 {
				t.Errorf("after concurrent bootstraps: %d users, %d groups, %d templates; want 1, 2, 1", users, groups, templates)
			}
			return nil
		}))
	})

	scim := a.bearer("scim")
	t.Run("write on one, read on the other", func(t *testing.T) {
		st, body, raw := a.req("POST", "/api/scim/v2/Users", "application/scim+json", fmt.Sprintf(scimUserJSON, "ann@example.com", "ann"), scim)
		if st != 201 {
			t.Fatalf("create through a: %d %s", st, raw)
		}
		st, got, raw := b.req("GET", "/api/scim/v2/Users/"+body["id"].(string), "", "", scim)
		if st != 200 || got["userName"] != "ann@example.com" {
			t.Fatalf("read through b: %d %s", st, raw)
		}
		if st, _, raw := b.req("GET", "/api/users/search?q=ann", "", "", admin); st != 200 || !strings.Contains(raw, `"managed":true`) {
			t.Fatalf("users/search through b: %d %s", st, raw)
		}
	})

	t.Run("token revoked on one is refused by the other", func(t *testing.T) {
		tok := a.bearer("short-lived")
		if st, _, raw := b.req("GET", "/api/scim/v2/Users?count=1", "", "", tok); st != 200 {
			t.Fatalf("token on b before the revocation: %d %s", st, raw)
		}
		if st, _, raw := a.req("POST", "/api/user_tokens/revoke", form, "name=short-lived", admin); st != 204 {
			t.Fatalf("revoke through a: %d %s", st, raw)
		}
		if st, _, _ := b.req("GET", "/api/scim/v2/Users?count=1", "", "", tok); st != 401 {
			t.Fatalf("revoked token on b: %d, want 401", st)
		}
	})

	t.Run("lockout on one holds on the other", func(t *testing.T) {
		if st, _, raw := a.req("POST", "/api/users/create", form, "login=lee&name=Lee&password=Night-owl-1234", admin); st != 200 {
			t.Fatalf("create lee: %d %s", st, raw)
		}
		for i := 0; i < 5; i++ {
			if st, _, _ := a.req("GET", "/api/users/current", "", "", basicAuth("lee", "wrong")); st != 401 {
				t.Fatalf("wrong password %d on a: %d", i, st)
			}
		}
		if st, _, _ := b.req("GET", "/api/users/current", "", "", basicAuth("lee", "Night-owl-1234")); st != 401 {
			t.Fatalf("locked login accepted by b: %d", st)
		}
		if st, _, raw := b.req("POST", "/api/scimgate/unlock", form, "login=lee", admin); st != 204 {
			t.Fatalf("unlock through b: %d %s", st, raw)
		}
		if st, _, raw := a.req("GET", "/api/users/current", "", "", basicAuth("lee", "Night-owl-1234")); st != 200 {
			t.Fatalf("unlocked login refused by a: %d %s", st, raw)
		}
	})

	t.Run("session opened on one works on the other until logout", func(t *testing.T) {
		res := post(t, a.srv.URL+"/api/authentication/login", "login=lee&password=Night-owl-1234", nil)
		if res.StatusCode != 200 {
			t.Fatalf("login through a: %d", res.StatusCode)
		}
		cookies := res.Cookies()
		current := func(g *gateway) string {
			req, err := http.NewRequest("GET", g.srv.URL+"/api/users/current", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cookies {
				req.AddCookie(c)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			return string(raw)
		}
		if got := current(b); !strings.Contains(got, `"login":"lee"`) {
			t.Fatalf("a's session on b: %s", got)
		}
		if res := post(t, b.srv.URL+"/api/authentication/logout", "", cookies); res.StatusCode != 200 {
			t.Fatalf("logout through b: %d", res.StatusCode)
		}
		if got := current(a); strings.Contains(got, `"login":"lee"`) {
			t.Fatalf("session survives the logout on the other replica: %s", got)
		}
	})

	t.Run("NUL bytes in requests get the APIs' answers", func(t *testing.T) {
		if st, body, raw := a.req("GET", `/api/scim/v2/Users?filter=userName+eq+%22a%5Cu0000b%22`, "", "", scim); st != 200 || body["totalResults"] != 0.0 {
			t.Fatalf("SCIM filter with a NUL: %d %s", st, raw)
		}
		if st, _, raw := a.req("GET", "/api/users/current", "", "", basicAuth("ad\x00min", adminPass)); st != 401 {
			t.Fatalf("password login with a NUL: %d %s", st, raw)
		}
		if st, _, raw := a.req("POST", "/api/scim/v2/Users", "application/scim+json", fmt.Sprintf(scimUserJSON, `nul\u0000user`, "n"), scim); st != 400 {
			t.Fatalf("SCIM create with a NUL: %d %s", st, raw)
		}
	})

	t.Run("concurrent membership PATCHes split across both lose nothing", func(t *testing.T) {
		st, grp, raw := a.req("POST", "/api/scim/v2/Groups", "application/scim+json",
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"split"}`, scim)
		if st != 201 {
			t.Fatalf("create group: %d %s", st, raw)
		}
		const n = 30
		ids := make([]string, n)
		for i := range ids {
			g := rs[i%2]
			st, u, raw := g.req("POST", "/api/scim/v2/Users", "application/scim+json", fmt.Sprintf(scimUserJSON, fmt.Sprintf("m%d", i), fmt.Sprintf("m%d", i)), scim)
			if st != 201 {
				t.Fatalf("create m%d: %d %s", i, st, raw)
			}
			ids[i] = u["id"].(string)
		}
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				op := `{"op":"add","path":"members","value":[{"value":"` + id + `"}]}`
				st, _, raw := rs[i%2].req("PATCH", "/api/scim/v2/Groups/"+grp["id"].(string), "application/scim+json",
					`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`, scim)
				if st != 200 && st != 204 {
					t.Errorf("PATCH add %s: %d %s", id, st, raw)
				}
			}()
		}
		wg.Wait()
		for _, g := range rs {
			st, got, raw := g.req("GET", "/api/scim/v2/Groups/"+grp["id"].(string), "", "", scim)
			if members, _ := got["members"].([]any); st != 200 || len(members) != n {
				t.Fatalf("group read through %s: %d members (status %d), want %d: %s", g.srv.URL, len(members), st, n, raw)
			}
		}
	})
}

// post sends a same-origin form POST with cookies (and their XSRF token).
func post(t *testing.T, url, body string, cookies []*http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(c)
		if c.Name == "XSRF-TOKEN" {
			req.Header.Set("X-XSRF-TOKEN", c.Value)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestReadyzFollowsTheDatabase: /readyz answers 503 while PostgreSQL is
// down, requests get 503 with Retry-After, and both recover by themselves
// when it is back.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	srv := pgtest.Start(t)
	st, err := postgres.Open(context.Background(), srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, _, err := store.Bootstrap(context.Background(), st, adminPass); err != nil {
		t.Fatal(err)
	}
	g := serveStore(t, st)
	tok := g.bearer("ready")
	ready := func() int {
		st, _, _ := g.req("GET", "/readyz", "", "", "")
		return st
	}
	if s := ready(); s != 200 {
		t.Fatalf("/readyz with the database up: %d", s)
	}
	must(t, srv.Stop())
	if s := ready(); s != 503 {
		t.Fatalf("/readyz with the database down: %d, want 503", s)
	}
	req, err := http.NewRequest("GET", g.srv.URL+"/api/scim/v2/Users?count=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("SCIM request with the database down: %d, Retry-After %q; want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	must(t, srv.Start())
	deadline := time.Now().Add(20 * time.Second)
	for ready() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st, _, raw := g.req("GET", "/api/scim/v2/Users?count=1", "", "", tok); st != 200 {
		t.Fatalf("SCIM after the database came back: %d %s", st, raw)
	}
}

// TestMigrateBetweenBackends copies a bbolt store into PostgreSQL and back
// into a fresh bbolt file, and the copies serve the same users, groups and
// memberships; a non-empty target is refused.
func TestMigrateBetweenBackends(t *testing.T) {
	g := newGateway(t)
	scim := g.bearer("scim")
	for _, login := range []string{"mia", "noor", "olu"} {
		if st, _, raw := g.req("POST", "/api/scim/v2/Users", "application/scim+json", fmt.Sprintf(scimUserJSON, login, login), scim); st != 201 {
			t.Fatalf("create %s: %d %s", login, st, raw)
		}
	}
	if st, _, raw := g.req("POST", "/api/user_groups/create", "application/x-www-form-urlencoded", "name=devs", basicAuth("admin", adminPass)); st != 200 {
		t.Fatalf("create group: %d %s", st, raw)
	}
	want := g.snapshot()
	src := g.bolt.DB().Path()
	g.srv.Close()
	g.server.auth.Wait()
	must(t, g.bolt.Close())

	url := pgtest.URL(t)
	back := filepath.Join(t.TempDir(), "back.db")
	for _, step := range []struct {
		from, to string
		code     int
		out      string
	}{
		{src, url, 0, "counts verified"},
		{src, url, 1, "not empty"},
		{url, back, 0, "counts verified"},
		{filepath.Join(t.TempDir(), "missing.db"), back, 1, "no store at"},
	} {
		var out, errs strings.Builder
		code := run(context.Background(), []string{"migrate", "-from", step.from, "-to", step.to}, &out, &errs)
		if code != step.code || !strings.Contains(out.String()+errs.String(), step.out) {
			t.Fatalf("migrate %s -> %s: exit %d, want %d with %q\n%s%s", dbName(step.from), dbName(step.to), code, step.code, step.out, out.String(), errs.String())
		}
	}
	pg, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if got := serveStore(t, pg).snapshot(); got != want {
		t.Errorf("PostgreSQL copy differs:\n got %s\nwant %s", got, want)
	}
	if got := newGatewayOn(t, back).snapshot(); got != want {
		t.Errorf("bbolt copy of the PostgreSQL copy differs:\n got %s\nwant %s", got, want)
	}
}

// TestReplicaKilledUnderWrites runs two scimgate processes on one
// PostgreSQL database, kills one with SIGKILL while clients write through
// both, and checks through the survivor that every acknowledged write is
// there.
func TestReplicaKilledUnderWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	url := pgtest.URL(t)
	t.Setenv("SCIMGATE_ADMIN_PASSWORD", adminPass)
	var bases []string
	var procs []*exec.Cmd
	for i := 0; i < 2; i++ {
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0], "-test.run=^$", "serve", "-addr", addr, "-db", url)
		cmd.Env = append(os.Environ(), "SCIMGATE_CRASH_SERVE=1")
		cmd.Stderr = io.Discard
		must(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		procs, bases = append(procs, cmd), append(bases, "http://"+addr)
	}
	for _, b := range bases {
		waitHealthy(t, b)
	}
	auth := "Bearer " + generateToken(t, bases[0])
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := bases[w%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				login := fmt.Sprintf("k-w%d-%d", w, i)
				req, err := http.NewRequest("POST", base+"/api/scim/v2/Users", strings.NewReader(fmt.Sprintf(scimUserJSON, login, login)))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", auth)
				res, err := client.Do(req)
				if err != nil {
					if base == bases[0] {
						return // the killed replica is gone
					}
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 201 {
					mu.Lock()
					acked[login] = true
					mu.Unlock()
				}
			}
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); count(&mu, acked) < 60 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	must(t, procs[0].Process.Kill()) // SIGKILL mid-write
	procs[0].Wait()
	time.Sleep(200 * time.Millisecond) // the survivor keeps taking writes
	close(stop)
	wg.Wait()
	if len(acked) < 60 {
		t.Fatalf("only %d writes acknowledged: the harness did not exercise anything", len(acked))
	}
	for login := range acked {
		req, err := http.NewRequest("GET", bases[1]+`/api/scim/v2/Users?filter=userName+eq+%22`+login+`%22`, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if !strings.Contains(string(raw), `"totalResults":1`) {
			t.Errorf("acknowledged user %s missing through the surviving replica: %d %s", login, res.StatusCode, raw)
		}
	}
	t.Logf("%d acknowledged creates through two replicas, one killed: all present", len(acked))
}

// A bbolt file never shrinks; copying it into a fresh file with migrate
// compacts it, and the copy serves the same store.
func TestMigrateCompactsBolt(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "grown.db"), filepath.Join(dir, "compact.db")
	st, err := bolt.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Bootstrap(context.Background(), st, adminPass); err != nil {
		t.Fatal(err)
	}
	// A year of audit trail, then pruned: the pages stay in the file.
	old := store.Now().AddDate(-2, 0, 0)
	for batch := 0; batch < 20; batch++ {
		must(t, st.Update(context.Background(), func(tx store.Tx) error {
			for i := 0; i < 1000; i++ {
				if err := tx.AppendAudit(&store.AuditEntry{Time: old, API: "scim", Op: "PATCH /Users", Kind: "user", Action: "updated",
					Detail: strings.Repeat("x", 200)}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	if n, err := store.PruneAudit(context.Background(), st, 365*24*time.Hour); err != nil || n != 20000 {
		t.Fatalf("PruneAudit = %d, %v", n, err)
	}
	want := (&gateway{t: t, store: st}).snapshot()
	must(t, st.Close())
	var out, errs strings.Builder
	if code := run(context.Background(), []string{"migrate", "-from", src, "-to", dst}, &out, &errs); code != 0 {
		t.Fatalf("migrate: %d %s%s", code, out.String(), errs.String())
	}
	before, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size()*2 > before.Size() {
		t.Errorf("compaction: %d bytes -> %d bytes, want at most half", before.Size(), after.Size())
	}
	if got := newGatewayOn(t, dst).snapshot(); got != want {
		t.Errorf("the compacted copy differs:\n got %s\nwant %s", got, want)
	}
	t.Logf("compacted %d -> %d bytes", before.Size(), after.Size())
}
