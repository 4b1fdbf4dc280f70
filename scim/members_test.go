package scim_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/storetest"
)

// TestGroupMemberOperations: operations that add or remove listed members
// are applied as changes (without reading the whole group); the result is
// the same as applying every operation in order, and a refused request
// changes nothing.
func TestGroupMemberOperations(t *testing.T) {
	t.Parallel()
	const patchOp = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}`
	cases := []struct {
		name   string
		start  string // members at the start: letters a..e
		ops    string // operations; {a}..{e} are the users' ids
		status int
		want   string // members afterwards
	}{
		{"add a list (Entra)", "a", `{"op":"Add","path":"members","value":[{"value":"{b}"},{"value":"{c}"}]}`, 204, "abc"},
		{"add one object", "", `{"op":"add","path":"members","value":{"value":"{d}"}}`, 204, "d"},
		{"add a member again", "ab", `{"op":"add","path":"members","value":[{"value":"{a}"}]}`, 204, "ab"},
		{"remove by filter (Okta)", "abc", `{"op":"remove","path":"members[value eq \"{b}\"]"}`, 204, "ac"},
		{"remove a list (Entra)", "abc", `{"op":"Remove","path":"members","value":[{"value":"{a}"},{"value":"{c}"}]}`, 204, "b"},
		{"remove a non-member", "a", `{"op":"remove","path":"members[value eq \"{e}\"]"}`, 204, "a"},
		{"add then remove: the last wins", "", `{"op":"add","path":"members","value":[{"value":"{a}"},{"value":"{b}"}]},{"op":"remove","path":"members[value eq \"{a}\"]"}`, 204, "b"},
		{"remove then add: the last wins", "a", `{"op":"remove","path":"members","value":[{"value":"{a}"}]},{"op":"add","path":"members","value":[{"value":"{a}"}]}`, 204, "a"},
		{"with a rename", "a", `{"op":"replace","path":"displayName","value":"renamed"},{"op":"add","path":"members","value":[{"value":"{b}"}]}`, 204, "ab"},
		{"replace the list", "abc", `{"op":"replace","path":"members","value":[{"value":"{d}"}]}`, 204, "d"},
		{"remove all", "abc", `{"op":"remove","path":"members"}`, 204, ""},
		{"replace then add", "abc", `{"op":"replace","path":"members","value":[{"value":"{d}"}]},{"op":"add","path":"members","value":[{"value":"{e}"}]}`, 204, "de"},
		{"an unknown user", "a", `{"op":"add","path":"members","value":[{"value":"{b}"},{"value":"00000000-0000-0000-0000-000000000000"}]}`, 400, "a"},
		{"a local user", "a", `{"op":"add","path":"members","value":[{"value":"{admin}"}]}`, 400, "a"},
		{"a group as member", "a", `{"op":"add","path":"members","value":[{"value":"{b}","type":"Group"}]}`, 400, "a"},
		{"a member without value is ignored", "a", `{"op":"add","path":"members","value":[{"display":"x"}]}`, 204, "a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ids := map[string]string{}
			for _, l := range "abcde" {
				ids[string(l)] = createUser(t, e, "user-"+string(l))
			}
			var admin store.User
			storetest.View(t, e.store, func(tx store.Tx) (err error) { admin, err = tx.UserByLogin("admin"); return err })
			var start []string
			for _, l := range tc.start {
				start = append(start, `{"value":"`+ids[string(l)]+`"}`)
			}
			g := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"team","members":[`+strings.Join(start, ",")+`]}`)
			if g.status != 201 {
				t.Fatalf("create group: %d %s", g.status, g.raw)
			}
			gid := g.body["id"].(string)
			ops := tc.ops
			for l, id := range ids {
				ops = strings.ReplaceAll(ops, "{"+l+"}", id)
			}
			ops = strings.ReplaceAll(ops, "{admin}", admin.ID)
			if res := e.do("PATCH", "/Groups/"+gid, fmt.Sprintf(patchOp, ops)); res.status != tc.status {
				t.Fatalf("PATCH: %d %s, want %d", res.status, res.raw, tc.status)
			}
			var got []string
			storetest.View(t, e.store, func(tx store.Tx) error {
				for uid := range store.Members(tx, gid) {
					for l, id := range ids {
						if id == uid {
							got = append(got, l)
						}
					}
				}
				return nil
			})
			slices.Sort(got)
			if strings.Join(got, "") != tc.want {
				t.Errorf("members %q, want %q", strings.Join(got, ""), tc.want)
			}
		})
	}
}

// BenchmarkGroupMemberPatch: adding or removing one member costs the same
// in a group of 1k and of 20k members (Okta and Entra push large groups as
// many such PATCHes).
func BenchmarkGroupMemberPatch(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		e := newEnv(b)
		ids := storetest.Seed(b, e.store, n+1)
		var gid string
		err := e.store.Update(context.Background(), func(tx store.Tx) error {
			g, err := store.NewGroup(tx, store.Group{Name: "big", Managed: true})
			gid = g.ID
			if err != nil {
				return err
			}
			return store.SetProvisionedMembers(tx, g.ID, ids[:n])
		})
		if err != nil {
			b.Fatal(err)
		}
		extra := ids[n]
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				op := `{"op":"add","path":"members","value":[{"value":"` + extra + `"}]}`
				if i%2 == 1 {
					op = `{"op":"remove","path":"members[value eq \"` + extra + `\"]"}`
				}
				i++
				e.serve(b, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`, 204)
			}
		})
	}
}

// GET /Groups/{id} streams its members: the same document as the rendered
// path (an attribute list takes that one), the members in order.
func TestGroupGetStreams(t *testing.T) {
	e := newEnv(t)
	ids := storetest.Seed(t, e.store, 300)
	var gid string
	if err := e.store.Update(context.Background(), func(tx store.Tx) error {
		g, err := store.NewGroup(tx, store.Group{Name: `R&D <core>`, ExternalID: "okta-1", Managed: true})
		gid = g.ID
		if err != nil {
			return err
		}
		return store.SetProvisionedMembers(tx, g.ID, ids[:250])
	}); err != nil {
		t.Fatal(err)
	}
	streamed := e.do("GET", "/Groups/"+gid, nil)
	rendered := e.do("GET", "/Groups/"+gid+"?attributes=displayName,externalId,members,meta,schemas,id", nil)
	if streamed.status != 200 || rendered.status != 200 || !reflect.DeepEqual(streamed.body, rendered.body) {
		t.Fatalf("streamed %d %s\nrendered %d %s", streamed.status, streamed.raw, rendered.status, rendered.raw)
	}
	members, _ := streamed.body["members"].([]any)
	if len(members) != 250 || members[0].(map[string]any)["value"] != ids[0] || members[249].(map[string]any)["value"] != ids[249] {
		t.Fatalf("%d members, first %v", len(members), members[0])
	}
	if ct := streamed.header.Get("Content-Type"); ct != "application/scim+json" || streamed.header.Get("ETag") == "" {
		t.Fatalf("headers: %v", streamed.header)
	}
}

// BenchmarkGroupGet: a GET of a group with its members, streamed (default)
// and rendered as one document (an attribute list), in one run.
func BenchmarkGroupGet(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		e := newEnv(b)
		ids := storetest.Seed(b, e.store, n)
		var gid string
		if err := e.store.Update(context.Background(), func(tx store.Tx) error {
			g, err := store.NewGroup(tx, store.Group{Name: "big", Managed: true})
			gid = g.ID
			if err != nil {
				return err
			}
			return store.SetProvisionedMembers(tx, g.ID, ids)
		}); err != nil {
			b.Fatal(err)
		}
		for name, query := range map[string]string{"streamed": "", "rendered": "?attributes=displayName,members,meta"} {
			b.Run(fmt.Sprintf("%s/members=%d", name, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					e.serve(b, "GET", "/Groups/"+gid+query, "", 200)
				}
			})
		}
	}
}

// Group filters that name members by id (`members[value eq "id"]`,
// `members.value eq "id"`, `members eq "id"`, as Entra ID asks whether a
// user is a group's member) find what evaluating every rendered member
// finds, compare ids exactly, and are answered from those ids' memberships
// alone: a group of 2,000 members answers without reading them.
func TestMembershipFilters(t *testing.T) {
	t.Parallel()
	reads := new(atomic.Int64)
	e := newEnvOver(t, func(s store.Store) store.Store { return userReads{s, reads} })
	ids := map[string]string{}
	for _, l := range "abc" {
		ids[string(l)] = createUser(t, e, "member-"+string(l))
	}
	group := func(name string, members ...string) string {
		var list []string
		for _, m := range members {
			list = append(list, `{"value":"`+ids[m]+`"}`)
		}
		res := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`","members":[`+strings.Join(list, ",")+`]}`)
		if res.status != 201 {
			t.Fatalf("create %s: %d %s", name, res.status, res.raw)
		}
		return res.body["id"].(string)
	}
	groups := map[string]string{}
	groups[group("g1", "a", "b")] = "g1"
	g2 := group("g2", "c")
	groups[g2] = "g2"
	groups[group("g3")] = "g3"
	list := func(f string) string {
		t.Helper()
		res := e.do("GET", "/Groups?excludedAttributes=members&filter="+urlQuery(f), nil)
		if res.status != 200 {
			t.Fatalf("%s: %d %s", f, res.status, res.raw)
		}
		var names []string
		for _, r := range res.body["Resources"].([]any) {
			m := r.(map[string]any)
			if _, has := m["members"]; has {
				t.Errorf("%s: members returned despite excludedAttributes", f)
			}
			names = append(names, groups[m["id"].(string)])
		}
		return fmt.Sprint(names)
	}
	for _, tc := range []struct{ filter, want string }{
		{`id eq "` + g2 + `" and members eq "` + ids["c"] + `"`, "[g2]"},
		{`id eq "` + g2 + `" and members eq "` + ids["a"] + `"`, "[]"},
		{`members[value eq "` + ids["a"] + `"]`, "[g1]"},
		{`members.value eq "` + ids["c"] + `"`, "[g2]"},
		{`members[value eq "` + strings.ToUpper(ids["a"]) + `"]`, "[]"}, // ids compare exactly
		{`members.value eq "` + strings.ToUpper(ids["a"]) + `"`, "[]"},
		{`not (members[value eq "` + ids["a"] + `"])`, "[g2 g3]"},
		{`members[value eq "` + ids["a"] + `"] or members eq "` + ids["c"] + `"`, "[g1 g2]"},
		{`members eq "` + ids["b"] + `" and displayName eq "g1"`, "[g1]"},
		{`members[value eq "none"]`, "[]"},
	} {
		got := list(tc.filter)
		// Naming a member's display as well makes every member rendered.
		full := list("(" + tc.filter + `) or members[display eq "no such login"]`)
		if got != tc.want || full != tc.want {
			t.Errorf("%s: %s, with every member rendered %s; want %s", tc.filter, got, full, tc.want)
		}
	}
	// A large group: the membership test reads two memberships, not 2,000
	// users; naming a member's display reads every member.
	var big []string
	storetest.Update(t, e.store, func(tx store.Tx) error {
		for i := range 2000 {
			u, err := store.NewUser(tx, store.User{Login: fmt.Sprintf("bulk%d", i), Active: true, Managed: true})
			if err != nil {
				return err
			}
			big = append(big, u.ID)
			if err := tx.AddMember(g2, u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	for _, tc := range []struct {
		filter   string
		maxReads int64
	}{
		{`id eq "` + g2 + `" and (members eq "` + big[1999] + `" or members eq "` + ids["a"] + `")`, 10},
		{`id eq "` + g2 + `" and (members eq "` + big[1999] + `" or members[display eq "x"])`, 1 << 62},
	} {
		reads.Store(0)
		if got := list(tc.filter); got != "[g2]" {
			t.Errorf("%s in a large group: %s, want [g2]", tc.filter, got)
		}
		if n := reads.Load(); n > tc.maxReads || tc.maxReads > 10 && n < 2000 {
			t.Errorf("%s in a large group read %d users", tc.filter, n)
		}
	}
}

// userReads is a store that counts the users its Views read by id.
type userReads struct {
	store.Store
	n *atomic.Int64
}

func (s userReads) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(countedTx{tx, s.n}) })
}

type countedTx struct {
	store.Tx
	n *atomic.Int64
}

func (t countedTx) User(id string) (store.User, error) {
	t.n.Add(1)
	return t.Tx.User(id)
}
