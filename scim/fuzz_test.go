package scim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzFilter sends arbitrary filters: the answer is 200 or 400, never a 5xx.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "a"`, `emails[type eq "work"].value eq "x@y"`, `externalId eq "x" and userName eq "y"`,
		`(a eq 1 or b pr) and not (c lt 2.5)`, `members[value eq "x"]`, `meta.created gt "2011-05-13T04:42:34Z"`,
		`userName eq "a\"b"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
		`emails[type eq "work" or type eq "home"].value sw "a"`, `[`, `"`, `a[b[c]]`, `x eq`, "\x00", "userName eq \"\xff\"",
		`id eq "x" and members eq "y"`, `not (members.value eq "x") or members[display co "f"]`, `members eq 1`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	id := createUser(f, e, "fuzzy")
	if res := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"fuzzers","members":[{"value":"`+id+`"}]}`); res.status != 201 {
		f.Fatalf("create group: %d %s", res.status, res.raw)
	}
	f.Fuzz(func(t *testing.T, filter string) {
		for _, path := range []string{"/Users", "/Groups"} {
			req := httptest.NewRequest("GET", "/api/scim/v2"+path+"?filter="+url.QueryEscape(filter), nil)
			req.Header.Set("Authorization", "Bearer "+e.token)
			rec := httptest.NewRecorder()
			e.srv.Config.Handler.ServeHTTP(rec, req)
			if rec.Code != 200 && rec.Code != 400 {
				t.Fatalf("filter %q: status %d %s", filter, rec.Code, rec.Body)
			}
		}
	})
}

// FuzzPatch sends arbitrary PATCH bodies to one user: never a 5xx, and the
// user stays readable with a userName whatever was accepted.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"name.givenName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1"}}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@y"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"manager","value":"abc"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[value co \"x\"]"}]}`,
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"userName","value":""}]}`,
		`{"Operations":[{"op":"replace","value":{"active":true,"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":""}}}]}`,
		`{"Operations":[{}]}`, `[]`, `{`, `{"Operations":null}`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	id := createUser(f, e, "patchy")
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("PATCH", "/api/scim/v2/Users/"+id, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: status %d %s", body, rec.Code, rec.Body)
		}
		req = httptest.NewRequest("GET", "/api/scim/v2/Users/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		rec = httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"userName":"`) {
			t.Fatalf("after %q the user reads %d %s", body, rec.Code, rec.Body)
		}
	})
}

// FuzzCreateUser posts arbitrary resource JSON: never a 5xx, and whatever is
// accepted reads back with the userName it was created with.
func FuzzCreateUser(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","active":"False"}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"x","employeeNumber":7}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"c","emails":[{"value":"c@x","primary":"true"}],"name":null,"phoneNumbers":[null]}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"d","groups":[{"value":"x"}],"password":"p","meta":{"version":"W/\"9\""}}`,
		`{"schemas":[],"userName":"e"}`, `{"userName":["x"]}`, `{"a":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}`, `null`, `"x"`,
	} {
		f.Add(s)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/scim/v2/Users", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+e.token)
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("body %q: %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusCreated {
			return
		}
		var created struct {
			ID       string `json:"id"`
			UserName string `json:"userName"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || created.ID == "" {
			t.Fatalf("201 without a resource (%v): %s", err, rec.Body)
		}
		req = httptest.NewRequest("GET", "/api/scim/v2/Users/"+created.ID, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		rec = httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		var got struct {
			UserName string `json:"userName"`
		}
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil || got.UserName != created.UserName {
			t.Fatalf("created %q reads back %d %s", created.UserName, rec.Code, rec.Body)
		}
	})
}
