package scim_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
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
