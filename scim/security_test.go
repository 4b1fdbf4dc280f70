package scim_test

import (
	"strings"
	"testing"
)

// Regression tests of the second security review that SCIM shows: reserved
// group names (finding 8), bounded strings (13) and look-alike logins (14).
// Tokens only (15) is in TestAuth and TestAccountPolicy.

func userDoc(userName string, extra map[string]any) map[string]any {
	doc := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "active": true}
	for k, v := range extra {
		doc[k] = v
	}
	return doc
}

func TestSecurityFindings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	group := func(name string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name}
	}
	ok := e.do("POST", "/Groups", group("eng"))
	if ok.status != 201 {
		t.Fatalf("create group: %d %s", ok.status, ok.raw)
	}
	gid := ok.body["id"].(string)
	if r := e.do("POST", "/Users", userDoc("bob@example.com", nil)); r.status != 201 {
		t.Fatalf("create user: %d %s", r.status, r.raw)
	}
	rename := func(name string) map[string]any {
		return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "displayName", "value": name}}}
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		scimType, detail   string
	}{
		{"8: create a group named Anyone", "POST", "/Groups", group("anyone"), 400, "invalidValue", "Anyone group cannot be used"},
		{"8: rename a group to Anyone", "PATCH", "/Groups/" + gid, rename("ANYONE"), 400, "invalidValue", "Anyone group cannot be used"},
		{"8: replace a group as Anyone", "PUT", "/Groups/" + gid, group("Anyone"), 400, "invalidValue", "Anyone group cannot be used"},
		{"13: a long displayName", "POST", "/Users", userDoc("long@example.com", map[string]any{"displayName": strings.Repeat("x", 1025)}), 400, "invalidValue",
			"displayName is longer than 1024 characters"},
		{"13: a long nested attribute", "POST", "/Users", userDoc("nested@example.com", map[string]any{"name": map[string]any{"familyName": strings.Repeat("x", 1025)}}), 400, "invalidValue",
			"name.familyName is longer than 1024 characters"},
		{"13: a long e-mail", "POST", "/Users", userDoc("mail@example.com", map[string]any{"emails": []map[string]any{{"value": strings.Repeat("e", 2000) + "@example.com", "primary": true}}}), 400, "invalidValue",
			"emails.value is longer than 320 characters"},
		{"13: a long userName", "POST", "/Users", userDoc(strings.Repeat("u", 256), nil), 400, "invalidValue", "userName is longer than 255 characters"},
		{"14: zero-width space", "POST", "/Users", userDoc("bob@example.com\u200b", nil), 400, "invalidValue",
			"Login 'bob@example.com?' contains control or invisible characters"},
		{"14: long s", "POST", "/Users", userDoc("ad\u017fmin", nil), 400, "invalidValue",
			"Login 'ad\u017fmin' contains compatibility characters; use their plain form 'adsmin'"},
		{"14: Cyrillic look-alike", "POST", "/Users", userDoc("\u0430dmin", nil), 409, "uniqueness",
			"Login '\u0430dmin' is confusable with the existing login 'admin'"},
		{"14: Cyrillic look-alike by rename", "PATCH", "/Users/" + userID(t, e, "bob@example.com"), map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "userName", "value": "\u0430dmin"}}}, 409, "uniqueness",
			"Login '\u0430dmin' is confusable with the existing login 'admin'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, tc.body)
			if r.status != tc.status || r.body["scimType"] != tc.scimType || r.body["detail"] != tc.detail {
				t.Fatalf("%d %s, want %d %s %q", r.status, r.raw, tc.status, tc.scimType, tc.detail)
			}
		})
	}
	// ASCII logins that merely share a skeleton ("1" and "l") stay allowed.
	for _, name := range []string{"bob1@example.com", "bobl@example.com"} {
		if r := e.do("POST", "/Users", userDoc(name, nil)); r.status != 201 {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
	}
}

func userID(t *testing.T, e *env, userName string) string {
	t.Helper()
	r := e.do("GET", `/Users?filter=userName+eq+"`+userName+`"`, nil)
	res, _ := r.body["Resources"].([]any)
	if r.status != 200 || len(res) != 1 {
		t.Fatalf("user %s: %d %s", userName, r.status, r.raw)
	}
	return res[0].(map[string]any)["id"].(string)
}
