package scim

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
)

// renderUser is the one rendering of a user; userJSON, its fast encoding,
// must answer exactly the same resource whenever it does not decline.
func TestUserJSONIsRenderUser(t *testing.T) {
	t.Parallel()
	s := bolttest.MustOpen(t)
	h, err := New(s, Options{BaseURL: "https://idm.example.com/api/scim/v2"})
	if err != nil {
		t.Fatal(err)
	}
	docs := []map[string]any{
		{"userName": "plain@example.com"},
		{"userName": "full@example.com", "externalId": "00u1", "displayName": "Full",
			"name":        map[string]any{"givenName": "F", "familyName": "U"},
			"emails":      []any{map[string]any{"value": "full@example.com", "type": "work", "primary": true}},
			enterpriseURN: map[string]any{"employeeNumber": "42", "department": "R&D"}},
		{"userName": "managed@example.com", enterpriseURN: map[string]any{"manager": map[string]any{"value": "0190aaaa-0000-7000-8000-000000000000"}}},
	}
	err = s.Update(t.Context(), func(tx store.Tx) error {
		g, err := store.NewGroup(tx, store.Group{Name: "eng", Managed: true})
		if err != nil {
			return err
		}
		for _, d := range docs {
			u := store.User{Active: true, Managed: true, ExternalProvider: "scim"}
			if err := applyUserDoc(&u, d); err != nil {
				return err
			}
			if u, err = store.NewUser(tx, u); err != nil {
				return err
			}
			if err := tx.AddMember(g.ID, u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	declined := 0
	err = s.View(t.Context(), func(tx store.Tx) error {
		for u, err := range tx.Users("") {
			if err != nil {
				return err
			}
			if !u.Managed {
				continue
			}
			want, err := h.renderUser(tx, u, true)
			if err != nil {
				return err
			}
			raw, ok, err := h.userJSON(tx, u)
			if err != nil {
				return err
			}
			if !ok {
				declined++
				continue
			}
			var got, norm map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				return err
			}
			b, _ := json.Marshal(want) // the same JSON types on both sides
			if err := json.Unmarshal(b, &norm); err != nil {
				return err
			}
			if !reflect.DeepEqual(got, norm) {
				t.Errorf("%s: userJSON\n%s\nrenderUser\n%s", u.Login, raw, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if declined != 1 {
		t.Errorf("userJSON declined %d users, want 1 (the one with a manager)", declined)
	}
}
