package scim

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
)

// userJSON writes, byte for byte, what encoding/json writes for the same
// attributes (the struct below was its rendering before it was written by
// hand), for text that needs escaping too.
func TestUserJSONMatchesEncodingJSON(t *testing.T) {
	type metaJSON struct {
		ResourceType string `json:"resourceType"`
		Created      string `json:"created"`
		LastModified string `json:"lastModified"`
		Location     string `json:"location"`
		Version      string `json:"version"`
	}
	type userHead struct {
		ID         string   `json:"id"`
		Schemas    []string `json:"schemas"`
		UserName   string   `json:"userName"`
		Active     bool     `json:"active"`
		ExternalID string   `json:"externalId,omitempty"`
		Groups     []any    `json:"groups,omitempty"`
		Meta       metaJSON `json:"meta"`
	}
	texts := []string{"plain", "a<b", "x>y", "p&q", `quo"te`, `back\slash`, "<b>&amp;</b>", "ünïcødé 名前", "tab\there", "line\u2028sep", "bad\xffutf8", "nul\x00", "~ !#$%'()*+,-./:;=?@[]^_`{|}"}
	st := bolttest.MustOpen(t)
	h := &Handler{baseURL: "https://idp.example/scim/v2?a=<b>&c"}
	ctx := t.Context()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var users []store.User
	err := st.Update(ctx, func(tx store.Tx) error {
		var groups []store.Group
		for i, name := range texts {
			g := store.Group{ID: store.NewID(), Name: name, Managed: i%3 != 2, Created: created, Updated: created}
			if err := tx.PutGroup(g); err != nil {
				return err
			}
			groups = append(groups, g)
		}
		for i, text := range texts {
			u := store.User{ID: store.NewID(), Login: text, ExternalID: texts[(i+1)%len(texts)], Active: i%2 == 0, Managed: true,
				SCIM: json.RawMessage(`{"displayName":"x"}`), Created: created, Updated: created.Add(time.Hour), Version: uint64(i + 1)}
			if i == 0 {
				u.ExternalID, u.SCIM = "", nil
			}
			if err := tx.PutUser(u); err != nil {
				return err
			}
			for _, g := range groups[:i%4] {
				if err := tx.AddMember(g.ID, u.ID); err != nil {
					return err
				}
			}
			users = append(users, u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(tx store.Tx) error {
		for _, u := range users {
			got, ok, err := h.userJSON(tx, u)
			if err != nil || !ok {
				t.Fatalf("userJSON(%q) = %v, %v", u.Login, ok, err)
			}
			head := userHead{ID: u.ID, Schemas: []string{userURN, enterpriseURN}, UserName: u.Login, Active: u.Active, ExternalID: u.ExternalID,
				Meta: metaJSON{"User", u.Created.Format(time.RFC3339), u.Updated.Format(time.RFC3339), h.location("Users", u.ID), etag(u.Version)}}
			if head.Groups, err = h.userGroups(tx, u); err != nil {
				return err
			}
			want, err := json.Marshal(head)
			if err != nil {
				return err
			}
			if len(u.SCIM) > 0 {
				want = append(append(want[:len(want)-1], ','), u.SCIM[1:]...)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("user %q:\n got %s\nwant %s", u.Login, got, want)
			}
			if !json.Valid(got) {
				t.Errorf("user %q: not JSON: %s", u.Login, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// groupJSON writes, byte for byte, what encoding/json writes for
// renderGroup's document without members, for text that needs escaping too.
func TestGroupJSONMatchesEncodingJSON(t *testing.T) {
	h := &Handler{baseURL: "https://idp.example/scim/v2?a=<b>&c"}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	texts := []string{"plain", "a<b", "x>y", "p&q", `quo"te`, `back\slash`, "ünïcødé 名前", "tab\there", "line\u2028sep", "bad\xffutf8", "nul\x00", ""}
	for i, text := range texts {
		g := store.Group{ID: store.NewID(), Name: text, ExternalID: texts[(i+1)%len(texts)], Managed: true,
			Created: created, Updated: created.Add(time.Duration(i) * time.Hour), Version: uint64(i)}
		doc, err := h.renderGroup(nil, g, false)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.groupJSON(g); !bytes.Equal(got, want) {
			t.Errorf("group %q:\n got %s\nwant %s", text, got, want)
		}
	}
}
