package scim_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/scimgate/scimgate/store"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A non-admin user with a valid token.
	userToken := store.NewTokenSecret()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		u, err := store.NewUser(tx, store.User{Login: "bob", Name: "Bob", Active: true, Local: true})
		if err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(userToken), UserID: u.ID, Name: "t"})
	})
	if err != nil {
		t.Fatal(err)
	}
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"no header", "", 401},
		{"unknown token", "Bearer squ_0123456789012345678901234567890123456789", 401},
		{"wrong scheme", "Digest abc", 401},
		{"bad base64", "Basic %%%", 401},
		{"basic without colon", basic("admin"), 401},
		{"wrong password", basic("admin:nope"), 401},
		{"non-admin token", "Bearer " + userToken, 403},
		{"admin token", "Bearer " + e.token, 200},
		{"admin token, lower-case scheme", "bearer " + e.token, 200},
		{"admin token as basic login", basic(e.token + ":"), 200},
		{"admin password: passwords are not accepted here", basic("admin:Admin-pass-123"), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.doAuth("GET", "/Users", nil, tc.auth)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.raw)
			}
			if tc.status == 401 {
				if !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 with WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
				}
				if res.body["status"] != "401" || res.body["detail"] == "" {
					t.Errorf("401 body %s", res.raw)
				}
			}
			if tc.status == 403 && res.body["status"] != "403" {
				t.Errorf("403 body %s", res.raw)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"unparsable filter", "GET", "/Users?filter=userName%20eq", nil, 400, "invalidFilter"},
		{"unknown operator", "GET", "/Users?filter=userName%20xx%20%22a%22", nil, 400, "invalidFilter"},
		{"non-integer count", "GET", "/Users?count=ten", nil, 400, "invalidValue"},
		{"malformed JSON", "POST", "/Users", `{"userName":`, 400, "invalidSyntax"},
		{"JSON array body", "POST", "/Users", `[1,2]`, 400, "invalidSyntax"},
		{"missing userName", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"active":true}`, 400, ""},
		{"blank userName", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"  "}`, 400, "invalidValue"},
		{"control character in userName", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\u0000b"}`, 400, "invalidValue"},
		{"body over the limit", "POST", "/Users", big, 413, ""},
		{"deeply nested JSON", "POST", "/Users", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), 400, "invalidSyntax"},
		{"deeply nested PATCH", "PATCH", "/Users/0190aaaa-0000-7000-8000-000000000000", `{"Operations":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, 400, ""},
		{"long filter", "GET", "/Users?filter=userName%20eq%20%22" + strings.Repeat("a", 5000) + "%22", nil, 400, "invalidFilter"},
		{"id with a slash", "GET", "/Users/a%2Fb", nil, 404, ""},
		{"nested path", "GET", "/Users/a/b", nil, 404, ""},
		{"id that is not ours", "GET", "/Users/..%2F..%2Fetc", nil, 404, ""},
		{"unknown endpoint", "GET", "/Widgets", nil, 404, ""},
		{"POST to discovery", "POST", "/ServiceProviderConfig", `{}`, 405, ""},
		{"PUT on collection", "PUT", "/Users", `{}`, 405, ""},
		{"remove without path", "PATCH", "/Users/0190aaaa-0000-7000-8000-000000000000", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove"}]}`, 400, ""},
		{"unknown op", "PATCH", "/Users/0190aaaa-0000-7000-8000-000000000000", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"move","path":"userName","value":"x"}]}`, 400, ""},
		{"patch unknown user", "PATCH", "/Users/0190aaaa-0000-7000-8000-000000000000", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do(tc.method, tc.path, tc.body)
			if res.status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.status, tc.status, res.raw)
			}
			if res.body["status"] != strconv.Itoa(tc.status) {
				t.Errorf("error status %v, want %d", res.body["status"], tc.status)
			}
			if tc.scimType != "" && res.body["scimType"] != tc.scimType {
				t.Errorf("scimType %v, want %s", res.body["scimType"], tc.scimType)
			}
		})
	}
	// Nothing was stored by any of the refused requests.
	if res := e.do("GET", "/Users", nil); res.body["totalResults"] != float64(0) {
		t.Errorf("refused requests stored users: %s", res.raw)
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spc := e.do("GET", "/ServiceProviderConfig", nil)
	if spc.status != 200 || spc.body["patch"].(map[string]any)["supported"] != true || spc.body["filter"].(map[string]any)["supported"] != true {
		t.Errorf("ServiceProviderConfig: %s", spc.raw)
	}
	rt := e.do("GET", "/ResourceTypes", nil)
	if rt.status != 200 || rt.body["totalResults"] != float64(2) {
		t.Errorf("ResourceTypes: %s", rt.raw)
	}
	sc := e.do("GET", "/Schemas", nil)
	ids := map[string]bool{}
	for _, r := range sc.body["Resources"].([]any) {
		ids[r.(map[string]any)["id"].(string)] = true
	}
	for _, want := range []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} {
		if !ids[want] {
			t.Errorf("/Schemas lacks %s", want)
		}
	}
}

func createUser(t testing.TB, e *env, userName string) string {
	t.Helper()
	res := e.do("POST", "/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName,
		"name": map[string]any{"givenName": "G", "familyName": "F"}, "active": true,
		"emails": []any{map[string]any{"value": userName + "@example.com", "type": "work", "primary": true}},
	})
	if res.status != 201 {
		t.Fatalf("create %s: %d %s", userName, res.status, res.raw)
	}
	return res.body["id"].(string)
}

func TestAttributesProjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := createUser(t, e, "proj")
	res := e.do("GET", "/Users/"+id+"?attributes=userName,name.givenName,emails.value", nil)
	want := map[string]bool{"id": true, "schemas": true, "userName": true, "name": true, "emails": true}
	for k := range res.body {
		if !want[k] {
			t.Errorf("attributes= returned %s: %s", k, res.raw)
		}
	}
	if n := res.body["name"].(map[string]any); len(n) != 1 || n["givenName"] != "G" {
		t.Errorf("name = %v", n)
	}
	res = e.do("GET", "/Users?excludedAttributes=emails,meta,id", nil)
	r0 := res.body["Resources"].([]any)[0].(map[string]any)
	if _, ok := r0["emails"]; ok {
		t.Error("excluded emails returned")
	}
	if _, ok := r0["meta"]; ok {
		t.Error("excluded meta returned")
	}
	if r0["id"] != id {
		t.Error("id must always be returned")
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := createUser(t, e, "alice")
	b := createUser(t, e, "bob")
	e.do("PATCH", "/Users/"+b, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`)
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "ALICE"`, []string{a}},
		{`UserName Eq "alice"`, []string{a}},
		{`userName sw "a"`, []string{a}},
		{`userName co "o"`, []string{b}},
		{`userName ew "CE"`, []string{a}},
		{`userName ne "alice"`, []string{b}},
		{`active eq false`, []string{b}},
		{`active eq "FALSE"`, []string{b}},
		{`active eq true`, []string{a}},
		{`active eq false and userName co "o"`, []string{b}},
		{`active eq true and userName pr`, []string{a}},
		{`userName eq "alice" or userName eq "bob"`, []string{a, b}},
		{`(userName eq "alice" or userName eq "bob") and active eq true`, []string{a}},
		{`not (userName eq "alice")`, []string{b}},
		{`id eq "` + b + `"`, []string{b}},
		{`id eq "` + strings.ToUpper(b) + `"`, nil},
		{`emails.value co "bob@"`, []string{b}},
		{`emails[type eq "work" and value sw "alice"]`, []string{a}},
		{`emails[type eq "work"].value eq "bob@example.com"`, []string{b}},
		{`name.familyName eq "f"`, []string{a, b}},
		{`meta.created gt "2000-01-01T00:00:00Z"`, []string{a, b}},
		{`nickName pr`, nil},
		{` userName eq "alice" `, []string{a}},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob"`, []string{b}},
		{`displayName eq "nobody"`, nil}, // not indexed for users: evaluated, not assumed
		{`externalId eq "none"`, nil},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			res := e.do("GET", "/Users?filter="+urlQuery(tc.filter), nil)
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.raw)
			}
			var got []string
			for _, r := range res.body["Resources"].([]any) {
				got = append(got, r.(map[string]any)["id"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if res.body["totalResults"] != float64(len(tc.want)) {
				t.Errorf("totalResults %v", res.body["totalResults"])
			}
		})
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", `"`, "%22", "[", "%5B", "]", "%5D", "(", "%28", ")", "%29", "@", "%40")
	return r.Replace(s)
}

// Local accounts are invisible to SCIM and their logins are taken.
func TestLocalUsersAreNotSCIMResources(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/Users", nil)
	if res.body["totalResults"] != float64(0) {
		t.Fatalf("local users listed: %s", res.raw)
	}
	res = e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ADMIN"}`)
	if res.status != 409 {
		t.Fatalf("userName of a local account: %d %s", res.status, res.raw)
	}
	res = e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"sonar-users"}`)
	if res.status != 409 {
		t.Fatalf("displayName of a local group: %d %s", res.status, res.raw)
	}
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := createUser(t, e, "etag")
	patch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"nickName","value":"x"}]}`
	req := func(ifMatch string) int {
		r, err := http.NewRequest("PATCH", e.srv.URL+"/api/scim/v2/Users/"+id, strings.NewReader(patch))
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+e.token)
		r.Header.Set("If-Match", ifMatch)
		res, err := e.srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := req(`W/"1"`); got != 200 {
		t.Fatalf("current version: %d", got)
	}
	if got := req(`W/"1"`); got != 412 {
		t.Fatalf("stale version: %d, want 412", got)
	}
}

// Concurrent membership PATCHes lose nothing: each is one transaction.
func TestConcurrentMembership(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"crowd"}`)
	gid := g.body["id"].(string)
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = createUser(t, e, "member"+string(rune('a'+i)))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.do("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]}`)
		}()
	}
	wg.Wait()
	res := e.do("GET", "/Groups/"+gid, nil)
	if got := len(res.body["members"].([]any)); got != n {
		t.Fatalf("%d members after %d concurrent adds", got, n)
	}
}

// The rules hold through SCIM too: a provisioned administrator cannot
// deprovision itself, nor drop the last admin group's last member.
func TestAdminRulesThroughSCIM(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := createUser(t, e, "boss")
	g := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"admins","members":[{"value":"`+id+`"}]}`)
	gid := g.body["id"].(string)
	bossToken := store.NewTokenSecret()
	err := e.store.Update(context.Background(), func(tx store.Tx) error {
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		if _, err := store.Deactivate(tx, id, admin, false); err != nil {
			return err
		}
		if err := tx.Grant(store.GroupSubject(gid), store.PermAdmin); err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(bossToken), UserID: id, Name: "t"})
	})
	if err == nil {
		t.Fatal("deactivating admin while it is the only admin should fail")
	}
	err = e.store.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Grant(store.GroupSubject(gid), store.PermAdmin); err != nil {
			return err
		}
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		if _, err := store.Deactivate(tx, id, admin, false); err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(bossToken), UserID: id, Name: "t"})
	})
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + bossToken
	res := e.doAuth("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`, auth)
	if res.status != 400 || res.body["detail"] != "Self-deactivation is not possible" {
		t.Errorf("self-deactivation: %d %s", res.status, res.raw)
	}
	res = e.doAuth("PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members"}]}`, auth)
	if res.status != 400 || res.body["detail"] != "The last administrator user cannot be removed" {
		t.Errorf("emptying the last admin group: %d %s", res.status, res.raw)
	}
	res = e.doAuth("DELETE", "/Groups/"+gid, nil, auth)
	if res.status != 400 || res.body["detail"] != "The last system admin group cannot be deleted" {
		t.Errorf("deleting the last admin group: %d %s", res.status, res.raw)
	}
	res = e.doAuth("GET", "/Groups/"+gid, nil, auth)
	if res.status != 200 || len(res.body["members"].([]any)) != 1 {
		t.Errorf("refused changes altered the group: %s", res.raw)
	}
}

// Group filters on attributes groups do not index are evaluated, not assumed.
func TestGroupFilterNotIndexed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"one"}`)
	for _, f := range []string{`userName eq "one"`, `displayName eq "two"`} {
		res := e.do("GET", "/Groups?filter="+urlQuery(f), nil)
		if res.status != 200 || res.body["totalResults"] != float64(0) {
			t.Errorf("%s: %s", f, res.raw)
		}
	}
	if res := e.do("GET", "/Groups?filter="+urlQuery(`displayName eq "ONE"`), nil); res.body["totalResults"] != float64(1) {
		t.Errorf("indexed displayName: %s", res.raw)
	}
}

// The spliced rendering of a user (no projection) says exactly what the
// general one says.
func TestFastRenderingMatchesGeneral(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := createUser(t, e, "twin")
	g := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"g","members":[{"value":"`+id+`"}]}`)
	if g.status != 201 {
		t.Fatal(g.raw)
	}
	fast := e.do("GET", "/Users/"+id, nil)
	general := e.do("GET", "/Users/"+id+"?excludedAttributes=doesNotExist", nil)
	if !reflect.DeepEqual(fast.body, general.body) {
		t.Errorf("fast %s\ngeneral %s", fast.raw, general.raw)
	}
	list := e.do("GET", "/Users?filter="+urlQuery(`userName eq "TWIN"`), nil)
	if r := list.body["Resources"].([]any); len(r) != 1 || !reflect.DeepEqual(r[0], fast.body) {
		t.Errorf("list item %v differs from GET %s", r, fast.raw)
	}
	// Groups without their members, as Entra ID asks for them.
	gid := g.body["id"].(string)
	lean := e.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil)
	general = e.do("GET", "/Groups/"+gid+"?excludedAttributes=members,doesNotExist", nil)
	if _, has := lean.body["members"]; has || lean.status != 200 || !reflect.DeepEqual(lean.body, general.body) {
		t.Errorf("group without members: fast %s\ngeneral %s", lean.raw, general.raw)
	}
	whole := e.do("GET", "/Groups/"+gid, nil)
	for query, want := range map[string]response{
		"excludedAttributes=members&filter=" + urlQuery(`displayName eq "G"`): lean,
		"excludedAttributes=MEMBERS":                                          lean,
		"filter=" + urlQuery(`displayName eq "G"`):                            whole,
		"": whole,
	} {
		r := e.do("GET", "/Groups?"+query, nil).body["Resources"].([]any)
		if len(r) != 1 || !reflect.DeepEqual(r[0], want.body) {
			t.Errorf("GET /Groups?%s: %v, want %s", query, r, want.raw)
		}
	}
	if m, _ := whole.body["members"].([]any); len(m) != 1 {
		t.Errorf("GET /Groups/{id}: members %v, want the one", whole.body["members"])
	}
}

// unbatched is a bbolt store that does not report batching its writes: the
// handlers then read, write and render in one transaction, as they do on
// PostgreSQL.
type unbatched struct{ store.Store }

// Writes answer the same whether the store batches them (the write apart
// from its reads and rendering) or not (one transaction for all).
func TestWritesBatchedOrNot(t *testing.T) {
	t.Parallel()
	for name, wrap := range map[string]func(store.Store) store.Store{
		"batched":         nil,
		"one transaction": func(s store.Store) store.Store { return unbatched{s} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnvOver(t, wrap)
			if !store.BatchesWrites(store.Audited(e.store, nil)) {
				t.Fatal("an audited bbolt store does not report batching its writes")
			}
			if wrap != nil && store.BatchesWrites(wrap(e.store)) {
				t.Fatal("the wrapped store still reports batching its writes")
			}
			id := createUser(t, e, "both@example.com")
			patch := func(op string) string {
				return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + op + `]}`
			}
			r := e.do("PATCH", "/Users/"+id, patch(`{"op":"replace","value":{"active":false,"displayName":"Both"}}`))
			if r.status != 200 || r.body["active"] != false || r.body["displayName"] != "Both" {
				t.Fatalf("PATCH: %d %s", r.status, r.raw)
			}
			if et := r.header.Get("ETag"); et == "" || et != r.body["meta"].(map[string]any)["version"] {
				t.Errorf("PATCH ETag %q, meta %v", et, r.body["meta"])
			}
			if got := e.do("GET", "/Users/"+id, nil); got.status != 200 || !bytes.Equal(bytes.TrimSpace(got.raw), bytes.TrimSpace(r.raw)) {
				t.Errorf("GET after PATCH differs:\n%s\n%s", got.raw, r.raw)
			}
			if got := e.do("PATCH", "/Users/"+id, patch(`{"op":"replace","path":"nope","value":1}`)); got.status != 400 {
				t.Errorf("PATCH of an unknown attribute: %d %s", got.status, got.raw)
			}
			if got := e.do("PATCH", "/Users/01a2304b-3c74-7000-a2d1-fb1ff23c1613", patch(`{"op":"replace","path":"active","value":true}`)); got.status != 404 {
				t.Errorf("PATCH of an unknown user: %d %s", got.status, got.raw)
			}
			put := e.do("PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"both@example.com","name":{"givenName":"B","familyName":"Oth"},"active":true}`)
			if put.status != 200 || put.body["active"] != true || put.body["name"].(map[string]any)["familyName"] != "Oth" {
				t.Fatalf("PUT: %d %s", put.status, put.raw)
			}
			g := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Both","members":[{"value":"`+id+`"}]}`)
			if g.status != 201 || !strings.Contains(string(g.raw), id) {
				t.Fatalf("POST /Groups: %d %s", g.status, g.raw)
			}
			if got := e.do("GET", "/Users/"+id, nil); got.status != 200 || !strings.Contains(string(got.raw), `"display":"Both"`) {
				t.Errorf("the user's groups after POST /Groups: %d %s", got.status, got.raw)
			}
			if got := e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"BOTH@example.com"}`); got.status != 409 {
				t.Errorf("POST of a taken userName: %d %s", got.status, got.raw)
			}
		})
	}
}
