package scim_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestUserNamePrefix: userName sw is answered from the login index with the
// same resources, in the same order, as a full scan (an "or" with a filter
// that matches nobody defeats the index, so it is the reference).
func TestUserNamePrefix(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []string{"jo.b", "Jo.a", "john", "ann", "jOrdan", "bob.jo", "jo"} {
		createUser(t, e, u)
	}
	ids := func(query string) string {
		t.Helper()
		res := e.do("GET", "/Users?"+query, nil)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", query, res.status, res.raw)
		}
		var out []string
		list, _ := res.body["Resources"].([]any)
		for _, r := range list {
			out = append(out, r.(map[string]any)["userName"].(string))
		}
		return fmt.Sprint(res.body["totalResults"], out)
	}
	for _, tc := range []struct{ filter, extra, want string }{
		{`userName sw "jo"`, "", "5 [jo.b Jo.a john jOrdan jo]"}, // creation order
		{`userName sw "JO."`, "", "2 [jo.b Jo.a]"},
		{`userName sw "jo" and active eq true`, "", "5 [jo.b Jo.a john jOrdan jo]"},
		{`active eq true and userName sw "joh"`, "", "1 [john]"},
		{`userName sw "jo"`, "&sortBy=userName", "5 [jo Jo.a jo.b john jOrdan]"},
		{`userName sw "jo"`, "&sortBy=userName&sortOrder=descending&count=2", "5 [jOrdan john]"},
		{`userName sw "jo"`, "&startIndex=3&count=2", "5 [john jOrdan]"},
		{`userName sw "jo"`, "&sortBy=displayName", ""},
		{`userName sw "zz"`, "", "0 []"},
		{`userName sw ""`, "", "7 [jo.b Jo.a john ann jOrdan bob.jo jo]"},
	} {
		q := "filter=" + urlQuery(tc.filter) + tc.extra
		ref := "filter=" + urlQuery("("+tc.filter+`) or userName eq "nobody-at-all"`) + tc.extra
		got, want := ids(q), ids(ref)
		if got != want {
			t.Errorf("%s%s: indexed %s, full scan %s", tc.filter, tc.extra, got, want)
		}
		if tc.want != "" && got != tc.want {
			t.Errorf("%s%s: %s, want %s", tc.filter, tc.extra, got, tc.want)
		}
	}
	if strings.Contains(ids("filter="+urlQuery(`userName sw "jo" or userName sw "an"`)), "bob.jo") {
		t.Error("or of prefixes matched bob.jo")
	}
}

// displayName and externalId sw are answered from their indexes too, on
// Users and (displayName) on Groups: the same results as a full scan, in
// every order a list may ask for.
func TestPrefixFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, u := range []struct{ userName, displayName, ext string }{
		{"u1", "Ada Lovelace", "EMP-10"}, {"u2", "ada byron", "emp-11"}, {"u3", "Grace Hopper", "EMP-1"},
		{"u4", "Adam Smith", ""}, {"u5", "", "EMP-2"},
	} {
		body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": u.userName, "active": true}
		if u.displayName != "" {
			body["displayName"] = u.displayName
		}
		if u.ext != "" {
			body["externalId"] = u.ext
		}
		if res := e.do("POST", "/Users", body); res.status != 201 {
			t.Fatalf("create %s: %d %s", u.userName, res.status, res.raw)
		}
	}
	for _, g := range []string{"Platform", "platform-ops", "QA"} {
		if res := e.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": g}); res.status != 201 {
			t.Fatalf("create group %s: %d %s", g, res.status, res.raw)
		}
	}
	list := func(endpoint, query, attr string) string {
		t.Helper()
		res := e.do("GET", "/"+endpoint+"?"+query, nil)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", query, res.status, res.raw)
		}
		var out []string
		items, _ := res.body["Resources"].([]any)
		for _, r := range items {
			out = append(out, fmt.Sprint(r.(map[string]any)[attr]))
		}
		return fmt.Sprint(res.body["totalResults"], out)
	}
	for _, tc := range []struct{ endpoint, filter, extra, want string }{
		{"Users", `displayName sw "ada"`, "", "3 [u1 u2 u4]"},
		{"Users", `displayName sw "ADA "`, "", "2 [u1 u2]"},
		{"Users", `displayName sw "ada"`, "&sortBy=displayName", "3 [u2 u1 u4]"},
		{"Users", `displayName sw "ada"`, "&sortBy=userName&sortOrder=descending", "3 [u4 u2 u1]"},
		{"Users", `displayName sw "u"`, "", "0 []"}, // u5 has no displayName: its stored name (its userName) is no match
		{"Users", `externalId sw "EMP-1"`, "", "2 [u1 u3]"},
		{"Users", `externalId sw "emp"`, "", "1 [u2]"}, // externalId is case-exact
		{"Users", `externalId sw "EMP" and displayName sw "grace"`, "", "1 [u3]"},
		{"Users", `externalId sw "EMP-"`, "&startIndex=2&count=1", "3 [u3]"},
		{"Groups", `displayName sw "plat"`, "", "2 [Platform platform-ops]"},
		{"Groups", `displayName sw "PLATFORM-"`, "&sortBy=displayName", "1 [platform-ops]"},
	} {
		attr := map[string]string{"Users": "userName", "Groups": "displayName"}[tc.endpoint]
		got := list(tc.endpoint, "filter="+urlQuery(tc.filter)+tc.extra, attr)
		scan := list(tc.endpoint, "filter="+urlQuery("("+tc.filter+`) or id eq "none"`)+tc.extra, attr)
		if got != scan || got != tc.want {
			t.Errorf("%s %s%s: indexed %s, full scan %s, want %s", tc.endpoint, tc.filter, tc.extra, got, scan, tc.want)
		}
	}
}

// userName and displayName co (and ew, and displayName eq), and e-mail
// addresses compared by eq, co, sw or ew (the primary one or any other, as
// Entra ID's matching filter names them) are answered from the n-gram
// index: the same results as a full scan, in every order a list may ask
// for; texts shorter than a trigram scan.
func TestContainsFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	work := func(addr string) map[string]any {
		return map[string]any{"value": addr, "type": "work", "primary": true}
	}
	ids := map[string]string{}
	for _, u := range []struct {
		userName, displayName string
		emails                []any
	}{
		{"ada.lovelace", "Ada Lovelace", []any{work("Ada@Engine.example"), map[string]any{"value": "ada@home.example", "type": "home"}}},
		{"ADA.BYRON", "ada byron", []any{map[string]any{"value": "byron@home.example", "type": "home"}}},
		{"grace", "Grace Hopper", []any{work("grace@navy.example")}},
		{"jörg.ärger", "Jörg Ärger", nil}, {"lovelace2", "", nil},
	} {
		body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": u.userName, "active": true}
		if u.displayName != "" {
			body["displayName"] = u.displayName
		}
		if u.emails != nil {
			body["emails"] = u.emails
		}
		res := e.do("POST", "/Users", body)
		if res.status != 201 {
			t.Fatalf("create %s: %d %s", u.userName, res.status, res.raw)
		}
		ids[u.userName] = res.body["id"].(string)
	}
	list := func(query string) string {
		t.Helper()
		res := e.do("GET", "/Users?"+query, nil)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", query, res.status, res.raw)
		}
		var out []string
		items, _ := res.body["Resources"].([]any)
		for _, r := range items {
			out = append(out, fmt.Sprint(r.(map[string]any)["userName"]))
		}
		return fmt.Sprint(res.body["totalResults"], out)
	}
	for _, tc := range []struct{ filter, extra, want string }{
		{`userName co "love"`, "", "2 [ada.lovelace lovelace2]"},
		{`userName co "LACE"`, "&sortBy=userName&sortOrder=descending", "2 [lovelace2 ada.lovelace]"},
		{`displayName co "love"`, "", "1 [ada.lovelace]"}, // lovelace2 has no displayName
		{`displayName co "ada "`, "&sortBy=displayName", "2 [ADA.BYRON ada.lovelace]"},
		{`userName co "ÄRG"`, "", "1 [jörg.ärger]"},
		{`userName ew "ACE"`, "", "2 [ada.lovelace grace]"},
		{`displayName eq "grace hopper"`, "", "1 [grace]"},
		{`userName co "ada" and active eq true`, "&startIndex=2&count=1", "2 [ADA.BYRON]"},
		{`userName co "a."`, "", "2 [ada.lovelace ADA.BYRON]"}, // two runes: no trigram, a scan
		{`userName co "xyz"`, "", "0 []"},
		{`emails[type eq "work"].value eq "ADA@engine.example"`, "", "1 [ada.lovelace]"},
		{`emails.value eq "ada@home.example"`, "", "1 [ada.lovelace]"}, // not the primary address
		{`emails[type eq "home"].value ew "@HOME.example"`, "&sortBy=userName", "2 [ADA.BYRON ada.lovelace]"},
		{`emails.value sw "byron@"`, "", "1 [ADA.BYRON]"},
		{`emails[value co ".example" and type eq "work"]`, "&startIndex=2", "2 [grace]"},
		{`emails[type eq "work"].value eq "ada@home.example"`, "", "0 []"},
		{`emails.value co "y@"`, "", "0 []"}, // two runes: a scan
	} {
		got := list("filter=" + urlQuery(tc.filter) + tc.extra)
		scan := list("filter=" + urlQuery("("+tc.filter+`) or id eq "none"`) + tc.extra)
		if got != scan || got != tc.want {
			t.Errorf("%s%s: indexed %s, full scan %s, want %s", tc.filter, tc.extra, got, scan, tc.want)
		}
	}
	// A replaced address leaves the index, its successor joins it.
	if res := e.do("PATCH", "/Users/"+ids["ada.lovelace"], `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"replace","path":"emails[type eq \"home\"].value","value":"ada@castle.example"}]}`); res.status != 200 {
		t.Fatalf("PATCH: %d %s", res.status, res.raw)
	}
	for filter, want := range map[string]string{`emails.value eq "ada@home.example"`: "0 []", `emails.value co "castle"`: "1 [ada.lovelace]"} {
		if got := list("filter=" + urlQuery(filter)); got != want {
			t.Errorf("after the PATCH, %s: %s, want %s", filter, got, want)
		}
	}
}
