// Command load measures scimgate over loopback: it seeds users through the
// SCIM API (or straight into a store file), then drives GET by id, indexed
// filters, PATCH active and POST with concurrent clients, and prints rps and
// latency percentiles beside a bare Echo handler measured in the same run.
//
//	load -baseline-serve ADDR              serve the bare Echo baseline
//	load -baseline-serve ADDR -baseline-db URL
//	                                       ... that sends PostgreSQL one statement a request
//	load -seed-db FILE -n N [-ids FILE]    write N users into a store file (and their ids)
//	load -server URL -token T [-baseline URL] [-n N] [-c 64] [-d 10s]
//	load -server URL -token T -soak 10m [-c 16]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
)

func main() {
	baselineServe := flag.String("baseline-serve", "", "serve a bare Echo hello handler (any path) on this address and do nothing else")
	baselineDB := flag.String("baseline-db", "", "with -baseline-serve: answer each request with one statement on this PostgreSQL store, for the user whose id ends the path: GET reads its SCIM JSON, PATCH flips its active flag")
	seedDB := flag.String("seed-db", "", "write -n managed users straight into this store file and exit")
	idsFile := flag.String("ids", "", "with -seed-db: also write the users' ids to this file, one per line, user0 first")
	server := flag.String("server", "", "scimgate base URL, e.g. http://127.0.0.1:9000")
	baseline := flag.String("baseline", "", "bare Echo baseline URL")
	token := flag.String("token", "", "admin token for the SCIM API")
	n := flag.Int("n", 100000, "users to seed")
	groups := flag.Int("groups", 100, "groups to seed")
	c := flag.Int("c", 64, "concurrent clients")
	d := flag.Duration("d", 10*time.Second, "duration of each scenario")
	skipSeed := flag.Bool("skip-seed", false, "the server already holds users named user0..user<n-1> (see -seed-db)")
	scan := flag.Bool("scan", true, "also measure a list with a non-indexed filter (a full scan)")
	soakFor := flag.Duration("soak", 0, "instead of the scenarios, run a mixed workload this long and check for 5xx, memory growth and lost writes")
	onlyFlag := flag.String("only", "", "run only the scenarios whose names contain one of these comma-separated strings, e.g. PATCH,POST")
	flag.Parse()
	if *onlyFlag != "" {
		only = strings.Split(*onlyFlag, ",")
	}
	switch {
	case *baselineServe != "":
		e := echo.New()
		e.HideBanner, e.HidePort = true, true
		// Any path and method: wrk drives it with the scenarios' own script too.
		h := func(c echo.Context) error { return c.String(http.StatusOK, "hello") }
		if *baselineDB != "" {
			var err error
			h, err = pgBaseline(*baselineDB)
			fail(err)
		}
		e.Any("/*", h)
		fail(e.Start(*baselineServe))
	case *seedDB != "":
		fail(seedStore(*seedDB, *n, *idsFile))
	case *server != "" && *soakFor > 0:
		fail(soak(*server, *token, *c, *soakFor))
	case *server != "":
		fail(runLoad(*server, *baseline, *token, *n, *groups, *c, *d, *skipSeed, *scan))
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func userDoc(i int) map[string]any {
	login := fmt.Sprintf("user%d", i)
	return map[string]any{"displayName": "User " + login, "name": map[string]any{"givenName": "User", "familyName": login},
		"emails": []any{map[string]any{"value": login + "@example.com", "type": "work", "primary": true}}}
}

func mustJSON(v any) json.RawMessage {
	raw, _ := json.Marshal(v)
	return raw
}

// seedGroups is how many groups (group0, group1...) seedStore writes.
const seedGroups = 100

// seedStore writes n managed users in large transactions, and seedGroups
// groups.
func seedStore(path string, n int, idsFile string) error {
	st, err := bolt.Open(path)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	// The admin is created as a first start would, with SCIMGATE_ADMIN_PASSWORD.
	if _, _, err := store.Bootstrap(ctx, st, os.Getenv("SCIMGATE_ADMIN_PASSWORD")); err != nil {
		return err
	}
	var out *bufio.Writer
	if idsFile != "" {
		f, err := os.Create(idsFile)
		if err != nil {
			return err
		}
		defer f.Close()
		out = bufio.NewWriter(f)
	}
	ids := make([]string, 10000)
	for start := 0; start < n; start += 10000 {
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+10000, n); i++ {
				login := fmt.Sprintf("user%d", i)
				u := store.User{Login: login, Name: "User " + login, Email: login + "@example.com", Active: true, Managed: true,
					ExternalID: fmt.Sprintf("ext%d", i), ExternalLogin: login, ExternalProvider: "scim", SCIM: mustJSON(userDoc(i))}
				u, err := store.NewUser(tx, u)
				if err != nil {
					return err
				}
				ids[i-start] = u.ID
			}
			return nil
		})
		if err != nil {
			return err
		}
		if out != nil {
			for _, id := range ids[:min(10000, n-start)] {
				fmt.Fprintln(out, id)
			}
		}
	}
	if out != nil {
		if err := out.Flush(); err != nil {
			return err
		}
	}
	// Groups for the group-lookup scenario (bench/wrk/scim.lua group).
	if err := st.Update(ctx, func(tx store.Tx) error {
		for g := range seedGroups {
			if _, err := store.NewGroup(tx, store.Group{Name: fmt.Sprintf("group%d", g), Managed: true}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := st.IndexGrams(); err != nil { // else the server would index them while measured
		return err
	}
	fmt.Printf("seeded %d users into %s\n", n, path)
	return nil
}

type client struct {
	http  *http.Client
	base  string
	token string
}

func (c *client) do(method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	return res.StatusCode, raw, err
}

type result struct {
	name      string
	n, errors int64
	elapsed   time.Duration
	lat       []time.Duration
}

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(float64(len(r.lat))*p))]
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

// drive runs req from c goroutines for d and collects latencies.
// only, when set, names the scenarios to run (substrings, comma-separated);
// the baseline always runs.
var only []string

func selected(name string) bool {
	if len(only) == 0 || name == "bare Echo GET /" {
		return true
	}
	for _, o := range only {
		if strings.Contains(name, o) {
			return true
		}
	}
	return false
}

func drive(name string, c int, d time.Duration, req func(worker int, i int64) error) result {
	if !selected(name) {
		return result{name: name}
	}
	var n, errs atomic.Int64
	lats := make([][]time.Duration, c)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				i := n.Add(1)
				t0 := time.Now()
				if err := req(w, i); err != nil {
					errs.Add(1)
					if errs.Load() < 5 {
						fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
					}
				}
				lats[w] = append(lats[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	r := result{name: name, n: n.Load(), errors: errs.Load(), elapsed: time.Since(start)}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	slices.Sort(r.lat)
	return r
}

func expect(status int, raw []byte, err error, want int) error {
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("status %d: %.200s", status, raw)
	}
	return nil
}

func runLoad(server, baseline, token string, n, groups, c int, d time.Duration, skipSeed, scan bool) error {
	tr := &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, MaxConnsPerHost: 1024}
	cl := &client{http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, base: server + "/api/scim/v2", token: token}
	ids := make([]string, n)
	var seedErr error
	if !skipSeed {
		t0 := time.Now()
		var next atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := 0; w < c; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					doc := userDoc(i)
					doc["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User"}
					doc["userName"] = fmt.Sprintf("user%d", i)
					doc["externalId"] = fmt.Sprintf("ext%d", i)
					doc["active"] = true
					body, _ := json.Marshal(doc)
					st, raw, err := cl.do("POST", "/Users", body)
					if err := expect(st, raw, err, 201); err != nil {
						mu.Lock()
						seedErr = err
						mu.Unlock()
						return
					}
					var res struct{ ID string }
					_ = json.Unmarshal(raw, &res)
					ids[i] = res.ID
				}
			}()
		}
		wg.Wait()
		if seedErr != nil {
			return seedErr
		}
		fmt.Printf("seeded %d users through POST /Users in %s (%.0f/s)\n", n, time.Since(t0).Round(time.Millisecond), float64(n)/time.Since(t0).Seconds())
	} else {
		// The store was seeded offline: look up the ids of a random sample.
		sample := min(n, 5000)
		fmt.Printf("looking up the ids of %d of %d users\n", sample, n)
		for k := range ids[:sample] {
			i := rand.IntN(n)
			st, raw, err := cl.do("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq "user%d"`, i))+"&attributes=id", nil)
			if err := expect(st, raw, err, 200); err != nil {
				return err
			}
			var lr struct{ Resources []struct{ ID string } }
			_ = json.Unmarshal(raw, &lr)
			if len(lr.Resources) != 1 {
				return fmt.Errorf("user%d not found", i)
			}
			ids[k] = lr.Resources[0].ID
		}
		ids = ids[:sample]
	}
	for g := 0; g < groups; g++ {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"group%d"}`, g)
		st, raw, err := cl.do("POST", "/Groups", []byte(body))
		if err := expect(st, raw, err, 201); err != nil && st != 409 {
			return err
		}
	}

	var results []result
	if baseline != "" {
		bc := &client{http: cl.http, base: baseline}
		results = append(results, drive("bare Echo GET /", c, d, func(_ int, _ int64) error {
			st, raw, err := bc.do("GET", "/", nil)
			return expect(st, raw, err, 200)
		}))
	}
	results = append(results, drive("GET /Users/{id}", c, d, func(_ int, _ int64) error {
		st, raw, err := cl.do("GET", "/Users/"+ids[rand.IntN(len(ids))], nil)
		return expect(st, raw, err, 200)
	}))
	results = append(results, drive(`GET /Users?filter=userName eq`, c, d, func(_ int, _ int64) error {
		q := url.QueryEscape(fmt.Sprintf(`userName eq "user%d"`, rand.IntN(n)))
		st, raw, err := cl.do("GET", "/Users?filter="+q, nil)
		return expect(st, raw, err, 200)
	}))
	results = append(results, drive(`GET /Users?filter=externalId eq`, c, d, func(_ int, _ int64) error {
		q := url.QueryEscape(fmt.Sprintf(`externalId eq "ext%d"`, rand.IntN(n)))
		st, raw, err := cl.do("GET", "/Users?filter="+q, nil)
		return expect(st, raw, err, 200)
	}))
	results = append(results, drive(`GET /Groups?filter=displayName eq`, c, d, func(_ int, _ int64) error {
		q := url.QueryEscape(fmt.Sprintf(`displayName eq "group%d"`, rand.IntN(groups)))
		st, raw, err := cl.do("GET", "/Groups?excludedAttributes=members&filter="+q, nil)
		return expect(st, raw, err, 200)
	}))
	// A page of 100 at a random offset in the first 1,000, in creation order
	// and sorted by userName (through the login index): the sorted page must
	// stay within 2x of the unsorted one.
	results = append(results, drive("GET /Users page of 100 (creation order)", c, d, func(_ int, _ int64) error {
		st, raw, err := cl.do("GET", fmt.Sprintf("/Users?count=100&startIndex=%d", 1+rand.IntN(1000)), nil)
		return expect(st, raw, err, 200)
	}))
	results = append(results, drive("GET /Users page of 100 sortBy=userName", c, d, func(_ int, _ int64) error {
		st, raw, err := cl.do("GET", fmt.Sprintf("/Users?count=100&sortBy=userName&startIndex=%d", 1+rand.IntN(1000)), nil)
		return expect(st, raw, err, 200)
	}))
	results = append(results, drive("PATCH /Users/{id} active", c, d, func(_ int, i int64) error {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":%v}]}`, i%2 == 0)
		st, raw, err := cl.do("PATCH", "/Users/"+ids[rand.IntN(len(ids))], []byte(body))
		return expect(st, raw, err, 200)
	}))
	var created atomic.Int64
	results = append(results, drive("POST /Users", c, d, func(_ int, _ int64) error {
		k := created.Add(1)
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"new%d-%d","name":{"givenName":"N","familyName":"U"},"active":true}`, time.Now().UnixNano(), k)
		st, raw, err := cl.do("POST", "/Users", []byte(body))
		return expect(st, raw, err, 201)
	}))
	if !scan {
		goto report
	}
	results = append(results, drive("GET /Users?filter=name.familyName eq (scan)", 4, d, func(_ int, _ int64) error {
		q := url.QueryEscape(fmt.Sprintf(`name.familyName eq "user%d"`, rand.IntN(n)))
		st, raw, err := cl.do("GET", "/Users?count=10&filter="+q, nil)
		return expect(st, raw, err, 200)
	}))

report:
	fmt.Printf("\n%d users, %d clients (4 for the scan), %s per scenario\n\n", n, c, d)
	fmt.Printf("%-46s %10s %9s %9s %9s %7s %8s\n", "scenario", "requests", "rps", "p50", "p99", "errors", "vs Echo")
	var base float64
	for _, r := range results {
		if r.elapsed == 0 {
			continue // not selected
		}
		rel := ""
		if r.name == "bare Echo GET /" {
			base = r.rps()
		} else if base > 0 {
			rel = fmt.Sprintf("%.0f%%", 100*r.rps()/base)
		}
		fmt.Printf("%-46s %10d %9.0f %9s %9s %7d %8s\n", r.name, r.n, r.rps(),
			r.pct(0.5).Round(10*time.Microsecond), r.pct(0.99).Round(10*time.Microsecond), r.errors, rel)
	}
	return nil
}

// pgBaseline is the floor of any PostgreSQL-backed request: a handler that
// sends one statement a request and nothing else, no authentication,
// rules, audit or rendering. A GET reads the user's stored SCIM JSON by
// primary key; a PATCH flips the user's active flag in a transaction of
// its own, committed (and flushed) before the answer.
func pgBaseline(url string) (echo.HandlerFunc, error) {
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		return nil, err
	}
	const (
		get   = `SELECT coalesce(scim::text, '{}') FROM users WHERE id = $1`
		patch = `UPDATE users SET active = NOT active, version = version + 1 WHERE id = $1 RETURNING coalesce(scim::text, '{}')`
	)
	return func(c echo.Context) error {
		path, sql := c.Request().URL.Path, get
		if c.Request().Method == http.MethodPatch {
			sql = patch
		}
		var doc []byte
		err := pool.QueryRow(c.Request().Context(), sql, path[strings.LastIndexByte(path, '/')+1:]).Scan(&doc)
		if err != nil {
			return c.String(http.StatusNotFound, err.Error())
		}
		return c.JSONBlob(http.StatusOK, doc)
	}, nil
}
