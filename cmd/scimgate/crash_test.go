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

	"golang.org/x/crypto/bcrypt"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/postgres/pgtest"
)

// When the test binary is started with SCIMGATE_CRASH_SERVE set, it is the
// server under test: TestCrashSafety kills it with SIGKILL mid-write.
func TestMain(m *testing.M) {
	if os.Getenv("SCIMGATE_CRASH_SERVE") == "1" {
		for i, a := range os.Args {
			if a == "serve" {
				os.Exit(run(context.Background(), os.Args[i:], io.Discard, os.Stderr))
			}
		}
	}
	store.PasswordCost = bcrypt.MinCost // the tests check rules, not bcrypt's cost (slow under -race)
	os.Exit(pgtest.Main(m))
}

// TestCrashSafety kills the server (SIGKILL) while clients create and
// deprovision users, restarts it, and checks that every acknowledged write
// is there, that nothing half-written is visible, and that the file passes
// bbolt's consistency check. Repeated a few times on one store.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	db := filepath.Join(t.TempDir(), "crash.db")
	t.Setenv("SCIMGATE_ADMIN_PASSWORD", adminPass)
	acked := map[string]bool{}       // logins acknowledged with 201
	deactivated := map[string]bool{} // logins whose deactivation was acknowledged with 200
	const rounds = 4
	var auth string
	for round := 0; round < rounds; round++ {
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0], "-test.run=^$", "serve", "-addr", addr, "-db", db)
		cmd.Env = append(os.Environ(), "SCIMGATE_CRASH_SERVE=1")
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		base := "http://" + addr
		waitHealthy(t, base)
		if auth == "" { // a token: password checks are deliberately slow
			auth = "Bearer " + generateToken(t, base)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		stop := make(chan struct{})
		client := &http.Client{Timeout: 5 * time.Second}
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					login := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + login + `","externalId":"` + login + `"}`
					req, err := http.NewRequest("POST", base+"/api/scim/v2/Users", strings.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					req.Header.Set("Authorization", auth)
					res, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					raw, err := io.ReadAll(res.Body)
					if err != nil {
						return
					}
					res.Body.Close()
					if res.StatusCode != 201 {
						continue
					}
					mu.Lock()
					acked[login] = true
					mu.Unlock()
					id := between(string(raw), `"id":"`, `"`)
					req, err = http.NewRequest("PATCH", base+"/api/scim/v2/Users/"+id,
						strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`))
					if err != nil {
						t.Error(err)
						return
					}
					req.Header.Set("Authorization", auth)
					if res, err = client.Do(req); err != nil {
						return
					}
					res.Body.Close()
					if res.StatusCode == 200 {
						mu.Lock()
						deactivated[login] = true
						mu.Unlock()
					}
				}
			}()
		}
		// Let some writes through, then kill at a moment that varies by round.
		before := count(&mu, acked)
		for deadline := time.Now().Add(20 * time.Second); count(&mu, acked) < before+20 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(37*round) * time.Millisecond)
		_ = cmd.Process.Kill() // SIGKILL: no shutdown, no flush
		_ = cmd.Wait()
		close(stop)
		wg.Wait()

		st, err := bolt.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Check(); err != nil {
			t.Fatalf("round %d: store fails the consistency check after SIGKILL: %v", round, err)
		}
		must(t, st.View(context.Background(), func(tx store.Tx) error {
			for login := range acked {
				u, err := tx.UserByLogin(login)
				if err != nil {
					t.Errorf("round %d: acknowledged user %s lost", round, login)
					continue
				}
				if deactivated[login] && u.Active {
					t.Errorf("round %d: acknowledged deactivation of %s lost", round, login)
				}
				if byExt, err := tx.UsersByExternalID(login); err != nil || len(byExt) != 1 {
					t.Errorf("round %d: %s is half-written: externalId index has %d entries (err %v)", round, login, len(byExt), err)
				}
			}
			n, err := tx.CountUsers()
			if err != nil {
				return err
			}
			walked := 0
			for _, err := range tx.Users("") {
				if err != nil {
					t.Errorf("round %d: unreadable record: %v", round, err)
				}
				walked++
			}
			if n != walked {
				t.Errorf("round %d: user count %d but %d records", round, n, walked)
			}
			return nil
		}))
		st.Close()
	}
	if len(acked) == 0 || len(deactivated) == 0 {
		t.Fatalf("no write was acknowledged (%d creates, %d deactivations): the harness did not exercise anything", len(acked), len(deactivated))
	}
	t.Logf("%d rounds of SIGKILL: %d acknowledged creates and %d acknowledged deactivations all present", rounds, len(acked), len(deactivated))
}

func count(mu *sync.Mutex, m map[string]bool) int {
	mu.Lock()
	defer mu.Unlock()
	return len(m)
}

func generateToken(t *testing.T, base string) string {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/api/user_tokens/generate", strings.NewReader("name=crash"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basicAuth("admin", adminPass))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	tok := between(string(raw), `"token":"`, `"`)
	if tok == "" {
		t.Fatalf("token generation: %d %s", res.StatusCode, raw)
	}
	return tok
}

func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	v, _, _ := strings.Cut(rest, end)
	return v
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server did not start")
}
