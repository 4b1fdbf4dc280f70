package webapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

// Searches by text (q) read the n-gram index for three runes or more: each
// endpoint answers what its rule says over the whole store, for users
// indexed, still pending and renamed, with e-mails matched only where the
// caller may see them.
func TestSearchByText(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{
		"login=jorg.arger&name=Jörg Ärger&email=joerg@example.de&password=Night-owl-1234",
		"login=grace&name=Grace Hopper&email=amazing.grace@navy.mil&password=Night-owl-1234",
		"login=hopper2&name=Edward Hopper&password=Night-owl-1234",
		"login=istanbul&name=İlker Şahin&email=ilker@example.tr&password=Night-owl-1234",
	} {
		e.mustDo("POST", "api/users/create", u, 200)
	}
	e.mustDo("POST", "api/users/update", "login=hopper2&name=Edward Hoppe", 200) // pending or indexed: renamed either way
	// want: the logins q matches by the rule, over every active user.
	want := func(q string, emailOf func(store.User) bool) []string {
		var out []string
		storetest.View(t, e.store, func(tx store.Tx) error {
			for u := range storetest.All(t, tx.UsersByLogin()) {
				if u.Active && u.Matches(strings.ToLower(q), emailOf(u)) {
					out = append(out, u.Login)
				}
			}
			return nil
		})
		return out
	}
	logins := func(path, auth string) []string {
		t.Helper()
		st, body := e.do("GET", path, "", auth)
		if st != 200 {
			t.Fatalf("%s: %d %s", path, st, body)
		}
		var res struct {
			Users []struct{ Login string } `json:"users"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, u := range res.Users {
			out = append(out, u.Login)
		}
		return out
	}
	alice := basic("alice", alicePass)
	all := func(store.User) bool { return true }
	own := func(u store.User) bool { return u.Login == "alice" }
	for _, q := range []string{"hopper", "HOPP", "ärg", "ÄRGER", "navy", "grace", "@example", "şah", "ex", "nobody", "hoppe"} {
		esc := url.QueryEscape(q)
		for _, c := range []struct {
			path, auth string
			email      func(store.User) bool
		}{
			{"api/users/search?ps=500&q=" + esc, adminAuth, all},
			{"api/users/search?ps=500&q=" + esc, alice, own}, // others' e-mails hidden from alice
			{"api/v2/users-management/users?pageSize=500&q=" + esc, adminAuth, all},
		} {
			if got, w := logins(c.path, c.auth), want(q, c.email); !slices.Equal(got, w) {
				t.Errorf("%s as %s: %v, want %v", c.path, c.auth[:10], got, w)
			}
		}
	}
	for q, w := range map[string]string{"edward+hopper": "", "edward+hoppe": "hopper2"} {
		if got := strings.Join(logins("api/users/search?q="+q, adminAuth), " "); got != w {
			t.Errorf("q=%s after the rename: %q, want %q", q, got, w)
		}
	}
}

// Lists without a rule read only their page and count the rest (active
// users, deactivated users, the default group's members): every page of
// each agrees with the list computed from the whole store, in v1 and v2.
func TestUnfilteredListsPage(t *testing.T) {
	e := newEnv(t)
	ids := storetest.Seed(t, e.store, 40)
	var gone []string
	for i, id := range ids {
		if i%7 == 3 {
			gone = append(gone, id)
		}
	}
	storetest.Deactivate(t, e.store, gone...)
	logins := func(active bool) []string {
		var out []string
		storetest.View(t, e.store, func(tx store.Tx) error {
			for u := range storetest.All(t, tx.UsersByLogin()) {
				if u.Active == active {
					out = append(out, u.Login)
				}
			}
			return nil
		})
		return out
	}
	active, deactivated := logins(true), logins(false)
	if len(deactivated) != 6 {
		t.Fatalf("%d users deactivated, want 6", len(deactivated))
	}
	// Template holders and organisation members, listed from their indexes.
	e.mustDo("POST", "api/permissions/create_template", "name=team", 200)
	e.mustDo("POST", "api/organizations/create", "key=acme&name=Acme", 200)
	var holders, members []string
	for i, login := range active {
		if i%3 == 0 {
			e.mustDo("POST", "api/permissions/add_user_to_template", "templateName=team&permission=codeviewer&login="+login, 204)
			holders = append(holders, login)
		}
		if i%4 == 1 {
			e.mustDo("POST", "api/organizations/add_member", "organization=acme&login="+login, 200)
			members = append(members, login)
		}
	}
	for _, c := range []struct {
		path, query string
		want        []string
	}{
		{"api/users/search", "", active},
		{"api/users/search", "deactivated=true", deactivated},
		{"api/user_groups/users", "name=sonar-users", active},
		{"api/user_groups/users", "name=sonar-users&selected=all", active},
		{"api/user_groups/users", "name=sonar-users&selected=deselected", nil},
		{"api/v2/users-management/users", "", active},
		{"api/v2/users-management/users", "active=false", deactivated},
		{"api/permissions/template_users", "templateName=team", holders},
		{"api/organizations/search_members", "organization=acme&selected=selected", members},
	} {
		var got []string
		for p := 1; p <= 8; p++ {
			page := "ps=7&p=" + strconv.Itoa(p)
			if strings.HasPrefix(c.path, "api/v2/") {
				page = "pageSize=7&pageIndex=" + strconv.Itoa(p)
			}
			status, body := e.do("GET", c.path, strings.TrimPrefix(c.query+"&"+page, "&"), adminAuth)
			var res struct {
				Paging, Page struct{ Total int }
				Users        []struct{ Login string }
			}
			if status != 200 || json.Unmarshal([]byte(body), &res) != nil {
				t.Fatalf("%s?%s page %d: %d %s", c.path, c.query, p, status, body)
			}
			if total := res.Paging.Total + res.Page.Total; total != len(c.want) {
				t.Errorf("%s?%s page %d: total %d, want %d", c.path, c.query, p, total, len(c.want))
			}
			for _, u := range res.Users {
				got = append(got, u.Login)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s?%s: pages list %v, want %v", c.path, c.query, got, c.want)
		}
	}
}
