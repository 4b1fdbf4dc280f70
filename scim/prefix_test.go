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
