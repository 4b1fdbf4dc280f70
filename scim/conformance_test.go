package scim_test

import (
	"fmt"
	"strings"
	"testing"
)

// Tests of what third-party conformance suites find (issue "SCIM:
// what third-party conformance suites still find").

func names(t *testing.T, r response, attr string) []string {
	t.Helper()
	res, _ := r.body["Resources"].([]any)
	var out []string
	for _, x := range res {
		out = append(out, fmt.Sprint(x.(map[string]any)[attr]))
	}
	return out
}

func TestOnePrimaryNoDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	emails := []map[string]any{
		{"value": "a@example.com", "type": "work", "primary": true},
		{"value": "b@example.com", "type": "home", "primary": true},
		{"value": "a@example.com", "type": "work"},
	}
	check := func(what string, r response, wantStatus int) {
		t.Helper()
		if r.status != wantStatus {
			t.Fatalf("%s: %d %s", what, r.status, r.raw)
		}
		list, _ := r.body["emails"].([]any)
		primaries := 0
		for _, x := range list {
			if x.(map[string]any)["primary"] == true {
				primaries++
				if x.(map[string]any)["value"] != "b@example.com" {
					t.Errorf("%s: the primary is %v, want the last one marked", what, x)
				}
			}
		}
		if len(list) != 2 || primaries != 1 {
			t.Errorf("%s: emails %v, want 2 entries and 1 primary", what, list)
		}
	}
	created := e.do("POST", "/Users", userDoc("multi@example.com", map[string]any{"emails": emails}))
	check("POST", created, 201)
	id := created.body["id"].(string)
	check("GET", e.do("GET", "/Users/"+id, nil), 200)
	check("PUT", e.do("PUT", "/Users/"+id, userDoc("multi@example.com", map[string]any{"emails": emails})), 200)
}

func TestFilterOrderingTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		filter string
		status int
	}{
		{`active gt true`, 400},
		{`active le false`, 400},
		{`emails.primary ge true`, 400},
		{`emails[primary lt true]`, 400},
		{`name gt "a"`, 400},
		{`not (active lt true)`, 400},
		{`userName gt "a"`, 200},
		{`meta.created lt "2100-01-01T00:00:00Z"`, 200},
		{`active eq true`, 200},
	} {
		r := e.do("GET", "/Users?filter="+strings.ReplaceAll(strings.ReplaceAll(tc.filter, " ", "%20"), `"`, "%22"), nil)
		if r.status != tc.status || tc.status == 400 && r.body["scimType"] != "invalidFilter" {
			t.Errorf("%s: %d %s, want %d", tc.filter, r.status, r.raw, tc.status)
		}
	}
}

func TestHonestCapabilities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/ServiceProviderConfig", nil)
	for _, k := range []string{"etag", "sort", "bulk", "patch", "filter"} {
		if m, _ := r.body[k].(map[string]any); m["supported"] != true {
			t.Errorf("%s not supported: %v", k, r.body[k])
		}
	}
	if r.body["changePassword"].(map[string]any)["supported"] != false {
		t.Error("changePassword claimed")
	}
	// The ETag it now advertises is served, and If-Match is honoured.
	u := e.do("POST", "/Users", userDoc("etag@example.com", nil))
	if u.header.Get("ETag") == "" {
		t.Fatal("no ETag")
	}
	schema := e.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", nil)
	if !strings.Contains(string(schema.raw), `"canonicalValues":["User"]`) || strings.Contains(string(schema.raw), `"Group"]`) {
		t.Errorf("Group schema advertises groups as members: %s", schema.raw)
	}
	g := e.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "g",
		"members": []map[string]any{{"value": "0190aaaa-0000-7000-8000-000000000000", "type": "Group"}}})
	if g.status != 400 || strings.Contains(fmt.Sprint(g.body["detail"]), "is a Group") {
		t.Errorf("a member typed Group: %d %s", g.status, g.raw)
	}
}

func TestSorting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []struct{ login, display, family string }{
		{"delta@s.test", "Zoe", "Young"}, {"alpha@s.test", "yves", "Xu"}, {"charlie@s.test", "Adam", ""}, {"bravo@s.test", "bea", "Abbot"},
	} {
		doc := userDoc(u.login, map[string]any{"displayName": u.display})
		if u.family != "" {
			doc["name"] = map[string]any{"familyName": u.family}
		}
		if r := e.do("POST", "/Users", doc); r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.raw)
		}
	}
	for _, tc := range []struct {
		query, attr string
		want        string
	}{
		{"sortBy=userName", "userName", "alpha,bravo,charlie,delta"},
		{"sortBy=userName&sortOrder=descending", "userName", "delta,charlie,bravo,alpha"},
		{"sortBy=displayName", "displayName", "Adam,bea,yves,Zoe"},
		{"sortBy=displayName&sortOrder=descending", "displayName", "Zoe,yves,bea,Adam"},
		{"sortBy=name.familyName", "userName", "bravo,alpha,delta,charlie"}, // no family name: last
		{"sortBy=name.familyName&sortOrder=descending", "userName", "delta,alpha,bravo,charlie"},
		{"sortBy=meta.created", "userName", "delta,alpha,charlie,bravo"},
		{"sortBy=userName&startIndex=2&count=2", "userName", "bravo,charlie"},
		{"sortBy=userName&filter=userName%20sw%20%22b%22", "userName", "bravo"},
		{"sortBy=USERNAME&filter=userName%20eq%20%22charlie@s.test%22", "userName", "charlie"},
	} {
		r := e.do("GET", "/Users?"+tc.query, nil)
		got := strings.Join(names(t, r, tc.attr), ",")
		got = strings.NewReplacer("@s.test", "").Replace(got)
		if r.status != 200 || got != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.query, r.status, got, tc.want)
		}
	}
	// Unfiltered pages count managed users only (admin is local), and stop
	// reading once full.
	if r := e.do("GET", "/Users?count=1&startIndex=2", nil); r.body["totalResults"] != float64(4) || r.body["itemsPerPage"] != float64(1) {
		t.Errorf("unfiltered page: %s", r.raw)
	}
	for _, q := range []string{"sortBy=password", "sortBy=userName&sortOrder=sideways"} {
		if r := e.do("GET", "/Users?"+q, nil); r.status != 400 || r.body["scimType"] != "invalidValue" {
			t.Errorf("%s: %d %s", q, r.status, r.raw)
		}
	}
	for _, n := range []string{"ops", "Dev", "admins"} {
		e.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": n})
	}
	r := e.do("GET", "/Groups?sortBy=displayName", nil)
	if got := strings.Join(names(t, r, "displayName"), ","); got != "admins,Dev,ops" {
		t.Errorf("groups by displayName: %s", got)
	}
}

func TestSearchRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, n := range []string{"x1@search.test", "x2@search.test"} {
		e.do("POST", "/Users", userDoc(n, nil))
	}
	body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `userName sw "x"`,
		"sortBy": "userName", "sortOrder": "descending", "attributes": []string{"userName"}, "count": 1}
	r := e.do("POST", "/Users/.search", body)
	if r.status != 200 || strings.Join(names(t, r, "userName"), ",") != "x2@search.test" || r.body["totalResults"] != float64(2) {
		t.Fatalf(".search: %d %s", r.status, r.raw)
	}
	if res := r.body["Resources"].([]any)[0].(map[string]any); res["active"] != nil {
		t.Errorf("attributes not applied: %v", res)
	}
	g := e.do("POST", "/Groups/.search", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}})
	if g.status != 200 {
		t.Errorf("Groups/.search: %d %s", g.status, g.raw)
	}
	for _, bad := range []any{`{"filter": 1}`, map[string]any{"filter": "userName pr"}, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": "userName eq"}} {
		if r := e.do("POST", "/Users/.search", bad); r.status != 400 {
			t.Errorf("bad SearchRequest %v: %d %s", bad, r.status, r.raw)
		}
	}
}

func TestAttributeNames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.do("POST", "/Users", userDoc("attrs@example.com", nil))
	for _, tc := range []struct {
		query  string
		status int
	}{
		{"attributes=userName", 200},
		{"attributes=noSuchAttribute", 200},
		{"attributes=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", 200},
		{"attributes=name.givenName,emails", 200},
		{"attributes=userName%20eq%20%22x%22", 400},
		{"excludedAttributes=emails[type%20eq%20%22work%22]", 400},
		{"attributes=a..b", 400},
	} {
		r := e.do("GET", "/Users?"+tc.query, nil)
		if r.status != tc.status || tc.status == 400 && r.body["scimType"] != "invalidSyntax" {
			t.Errorf("%s: %d %s", tc.query, r.status, r.raw)
		}
	}
}

func TestBulk(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bulk := func(failOnErrors int, ops ...map[string]any) response {
		t.Helper()
		return e.do("POST", "/Bulk", map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:BulkRequest"}, "failOnErrors": failOnErrors, "Operations": ops})
	}
	status := func(r response) []string {
		var out []string
		for _, op := range r.body["Operations"].([]any) {
			out = append(out, op.(map[string]any)["status"].(string))
		}
		return out
	}
	r := bulk(0,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "u1", "data": userDoc("bulk1@example.com", nil)},
		map[string]any{"method": "POST", "path": "/Groups", "bulkId": "g1", "data": map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "bulk-group", "members": []map[string]any{{"value": "bulkId:u1"}}}},
		map[string]any{"method": "PATCH", "path": "/Users/bulkId:u1", "data": map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}}}},
		map[string]any{"method": "DELETE", "path": "/Users/bulkId:u1"},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "dup", "data": userDoc("bulk1@example.com", nil)},
		map[string]any{"method": "PUT", "path": "/Groups/bulkId:nope", "data": map[string]any{}},
	)
	if r.status != 200 || strings.Join(status(r), ",") != "201,201,200,405,409,409" {
		t.Fatalf("bulk: %d %v %s", r.status, status(r), r.raw)
	}
	ops := r.body["Operations"].([]any)
	if loc, _ := ops[0].(map[string]any)["location"].(string); !strings.Contains(loc, "/Users/") {
		t.Errorf("POST result without location: %v", ops[0])
	}
	g := e.do("GET", "/Groups?filter=displayName%20eq%20%22bulk-group%22&attributes=members", nil)
	if !strings.Contains(string(g.raw), `"display":"bulk1@example.com"`) {
		t.Errorf("bulkId reference in data not resolved: %s", g.raw)
	}
	u := e.do("GET", "/Users?filter=userName%20eq%20%22bulk1@example.com%22", nil)
	if !strings.Contains(string(u.raw), `"active":false`) {
		t.Errorf("bulkId reference in path not resolved: %s", u.raw)
	}
	// failOnErrors stops after that many errors.
	r = bulk(1,
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "a", "data": userDoc("bulk1@example.com", nil)},
		map[string]any{"method": "POST", "path": "/Users", "bulkId": "b", "data": userDoc("bulk2@example.com", nil)},
	)
	if got := strings.Join(status(r), ","); got != "409" {
		t.Errorf("failOnErrors=1: %s", got)
	}
	too := make([]map[string]any, 1001)
	for i := range too {
		too[i] = map[string]any{"method": "DELETE", "path": "/Groups/x"}
	}
	if r := bulk(0, too...); r.status != 413 {
		t.Errorf("1001 operations: %d", r.status)
	}
	if r := e.do("POST", "/Bulk", map[string]any{"Operations": []any{}}); r.status != 400 {
		t.Errorf("without the BulkRequest schema: %d", r.status)
	}
	if r := e.do("GET", "/Bulk", nil); r.status != 405 {
		t.Errorf("GET /Bulk: %d", r.status)
	}
}
