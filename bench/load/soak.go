package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soak drives a bounded, mixed SCIM workload for d, samples the server's
// memory from /metrics, and checks at the end that the store and the audit
// trail count exactly the users whose creation was acknowledged.
func soak(server, token string, c int, d time.Duration) error {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	cl := &client{http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, base: server + "/api/scim/v2", token: token}
	before, err := scrape(server)
	if err != nil {
		return err
	}
	var ids []string
	var idsMu sync.Mutex
	var acked, ok, clientErr, serverErr, netErr atomic.Int64
	create := func(tag string) {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"soak-%s-%d","name":{"givenName":"S","familyName":"K"},"active":true}`, tag, time.Now().UnixNano())
		st, raw, err := cl.do("POST", "/Users", []byte(body))
		count(st, err, &ok, &clientErr, &serverErr, &netErr)
		if st == 201 {
			acked.Add(1)
			id := between(string(raw), `"id":"`, `"`)
			idsMu.Lock()
			ids = append(ids, id)
			idsMu.Unlock()
		}
	}
	for i := 0; i < 200; i++ {
		create("seed")
	}
	var groups []string
	for g := 0; g < 5; g++ {
		st, raw, _ := cl.do("POST", "/Groups", []byte(fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"soak-%d-%d"}`, g, time.Now().UnixNano())))
		if st == 201 {
			groups = append(groups, between(string(raw), `"id":"`, `"`))
		}
	}
	pick := func() string {
		idsMu.Lock()
		defer idsMu.Unlock()
		return ids[rand.IntN(len(ids))]
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				var st int
				var err error
				switch r := rand.IntN(100); {
				case r < 40:
					st, _, err = cl.do("GET", "/Users/"+pick(), nil)
				case r < 55:
					st, _, err = cl.do("GET", "/Users?count=5&filter="+url.QueryEscape(`userName sw "soak"`), nil)
				case r < 70:
					body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"%v"}]}`, i%2 == 0)
					st, _, err = cl.do("PATCH", "/Users/"+pick(), []byte(body))
				case r < 80:
					create("run")
					continue
				case r < 95 && len(groups) > 0:
					op := "add"
					if i%2 == 1 {
						op = "remove"
					}
					body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"%s","path":"members","value":[{"value":"%s"}]}]}`, op, pick())
					st, _, err = cl.do("PATCH", "/Groups/"+groups[rand.IntN(len(groups))], []byte(body))
				default:
					st, _, err = cl.do("GET", "/Groups?excludedAttributes=members", nil)
				}
				count(st, err, &ok, &clientErr, &serverErr, &netErr)
			}
		}()
	}
	start := time.Now()
	ticker := time.NewTicker(30 * time.Second)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	fmt.Printf("%8s %12s %12s %10s %8s\n", "elapsed", "requests", "rss MiB", "heap MiB", "5xx")
loop:
	for {
		select {
		case <-done:
			break loop
		case <-ticker.C:
			m, _ := scrape(server)
			fmt.Printf("%8s %12d %12.1f %10.1f %8d\n", time.Since(start).Round(time.Second), ok.Load()+clientErr.Load()+serverErr.Load(),
				m["process_resident_memory_bytes"]/(1<<20), m["go_memstats_heap_inuse_bytes"]/(1<<20), serverErr.Load())
		}
	}
	ticker.Stop()
	after, err := scrape(server)
	if err != nil {
		return err
	}
	total := ok.Load() + clientErr.Load() + serverErr.Load()
	usersDelta := int64(after["scimgate_store_users"] - before["scimgate_store_users"])
	auditDelta := int64(after[`scimgate_changes_total{action="created",api="scim",kind="user"}`] - before[`scimgate_changes_total{action="created",api="scim",kind="user"}`])
	fmt.Printf("\nsoak %s, %d clients: %d requests (%.0f/s), %d ok, %d 4xx, %d 5xx, %d network errors\n",
		d, c, total, float64(total)/time.Since(start).Seconds(), ok.Load(), clientErr.Load(), serverErr.Load(), netErr.Load())
	fmt.Printf("acknowledged creates %d; store users +%d; audit 'user created' +%d\n", acked.Load(), usersDelta, auditDelta)
	if serverErr.Load() > 0 || netErr.Load() > 0 || usersDelta != acked.Load() || auditDelta != acked.Load() {
		return fmt.Errorf("soak FAILED")
	}
	fmt.Println("soak passed: no 5xx, and every acknowledged create is counted by the store and the audit trail")
	return nil
}

func count(st int, err error, ok, clientErr, serverErr, netErr *atomic.Int64) {
	switch {
	case err != nil:
		netErr.Add(1)
	case st >= 500:
		serverErr.Add(1)
	case st >= 400:
		clientErr.Add(1)
	default:
		ok.Add(1)
	}
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}

// scrape reads the server's /metrics as "name{labels}" -> value.
func scrape(server string) (map[string]float64, error) {
	res, err := http.Get(server + "/metrics")
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}
