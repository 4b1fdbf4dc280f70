package scim

import (
	"net/http"
	"strings"

	scimlib "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/store"
)

// groups is the library's ResourceHandler for /Groups writes.
type groups struct{ h *Handler }

func (h *Handler) groupResource(tx store.Tx, g store.Group) (scimlib.Resource, error) {
	doc, err := h.renderGroup(tx, g, true)
	if err != nil {
		return scimlib.Resource{}, err
	}
	return scimlib.Resource{ID: g.ID, Attributes: doc,
		Meta: scimlib.Meta{Created: &g.Created, LastModified: &g.Updated, Version: etag(g.Version)}}, nil
}

// writeGroup is writeUser for groups.
func (h *Handler) writeGroup(r *http.Request, fn func(tx store.Tx) (store.Group, error)) (scimlib.Resource, error) {
	return write(h, r, fn, func(tx store.Tx, g store.Group) (scimlib.Resource, error) {
		if fresh, err := tx.Group(g.ID); err == nil {
			g = fresh
		}
		return h.groupResource(tx, g)
	})
}

func loadGroup(tx store.Tx, r *http.Request, id string) (store.Group, error) {
	g, err := tx.Group(id)
	if err != nil || !g.Managed {
		return store.Group{}, notFound(id)
	}
	return g, checkIfMatch(r, g.Version)
}

// applyGroupDoc copies displayName and externalId into g and returns the
// member ids the document lists.
func applyGroupDoc(g *store.Group, doc map[string]any) ([]string, error) {
	name, _ := doc["displayName"].(string)
	if err := checkText("displayName", name, store.MaxNameLength, true); err != nil {
		return nil, err
	}
	extID, _ := doc["externalId"].(string)
	if err := checkText("externalId", extID, store.MaxNameLength, false); err != nil {
		return nil, err
	}
	g.Name, g.ExternalID = name, extID
	var ids []string
	list, _ := doc["members"].([]any)
	for _, m := range list {
		el, _ := m.(map[string]any)
		id, _ := el["value"].(string)
		if t, _ := el["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "only users can be members (member type %q given for %q)", t, id)
		}
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (s groups) Create(r *http.Request, attrs scimlib.ResourceAttributes) (scimlib.Resource, error) {
	g := store.Group{Managed: true}
	ids, err := applyGroupDoc(&g, attrs)
	if err != nil {
		return scimlib.Resource{}, s.h.fail(r, err)
	}
	return s.h.writeGroup(r, func(tx store.Tx) (store.Group, error) {
		g, err := store.NewGroup(tx, g)
		if err != nil {
			return g, err
		}
		return g, store.SetProvisionedMembers(tx, g.ID, ids)
	})
}

func (s groups) Replace(r *http.Request, id string, attrs scimlib.ResourceAttributes) (scimlib.Resource, error) {
	return s.h.writeGroup(r, func(tx store.Tx) (store.Group, error) {
		g, err := loadGroup(tx, r, id)
		if err != nil {
			return g, err
		}
		ids, err := applyGroupDoc(&g, attrs)
		if err != nil {
			return g, err
		}
		if g, err = store.SaveGroup(tx, g); err != nil {
			return g, err
		}
		return g, store.SetProvisionedMembers(tx, g.ID, ids)
	})
}

// Patch applies the operations to the group and its members atomically and
// answers 204, as Microsoft advises for groups.
//
// Operations that add or remove listed members (what Okta and Entra send,
// a few members at a time, to groups of any size) are applied as changes,
// at a cost that grows with the members they name, not with the group;
// only an operation that needs the whole list (replace or remove all
// members) reads it.
func (s groups) Patch(r *http.Request, id string, ops []scimlib.PatchOperation) (scimlib.Resource, error) {
	delta, rest, err := memberDelta(ops)
	if err != nil {
		return scimlib.Resource{}, s.h.fail(r, err)
	}
	err = s.h.store.Update(r.Context(), func(tx store.Tx) error {
		g, err := loadGroup(tx, r, id)
		if err != nil {
			return err
		}
		doc := map[string]any{"displayName": g.Name}
		if g.ExternalID != "" {
			doc["externalId"] = g.ExternalID
		}
		if delta == nil {
			var members []any
			for uid := range store.Members(tx, g.ID) {
				members = append(members, map[string]any{"value": uid})
			}
			if members != nil {
				doc["members"] = members
			}
		}
		if err := groupPatcher.apply(doc, rest); err != nil {
			return err
		}
		ids, err := applyGroupDoc(&g, doc)
		if err != nil {
			return err
		}
		if _, err := store.SaveGroup(tx, g); err != nil {
			return err
		}
		if delta != nil {
			return store.ChangeProvisionedMembers(tx, g.ID, delta.add(), delta.remove())
		}
		return store.SetProvisionedMembers(tx, g.ID, ids)
	})
	if err != nil {
		return scimlib.Resource{}, s.h.fail(r, err)
	}
	return scimlib.Resource{}, nil // 204
}

// Get is never reached (Handler.get).
func (groups) Get(*http.Request, string) (scimlib.Resource, error) {
	return scimlib.Resource{}, errUnreached
}

// GetAll is never reached (Handler.list).
func (groups) GetAll(*http.Request, scimlib.ListRequestParams) (scimlib.Page, error) {
	return scimlib.Page{}, errUnreached
}

// Delete removes a managed group, its memberships and permissions.
func (s groups) Delete(r *http.Request, id string) error {
	err := s.h.store.Update(r.Context(), func(tx store.Tx) error {
		if _, err := loadGroup(tx, r, id); err != nil {
			return err
		}
		return store.DeleteGroup(tx, id)
	})
	if err != nil {
		return s.h.fail(r, err)
	}
	return nil
}

// members is the net effect of operations that add or remove listed
// members: each user's last operation wins, as applying them in order would.
type members struct {
	order []string
	in    map[string]bool
}

func (m *members) set(id string, in bool) {
	if _, seen := m.in[id]; !seen {
		m.order = append(m.order, id)
	}
	m.in[id] = in
}

func (m *members) add() []string    { return m.pick(true) }
func (m *members) remove() []string { return m.pick(false) }

func (m *members) pick(in bool) []string {
	var out []string
	for _, id := range m.order {
		if m.in[id] == in {
			out = append(out, id)
		}
	}
	return out
}

// memberDelta splits ops into the members they add or remove and the other
// operations. delta is nil when some operation needs the whole member list
// (replace members, remove all of them, a filter other than value eq), and
// then every operation is in rest.
func memberDelta(ops []scimlib.PatchOperation) (delta *members, rest []scimlib.PatchOperation, err error) {
	delta = &members{in: map[string]bool{}}
	for _, op := range ops {
		p := op.Path
		if p == nil || !strings.EqualFold(p.AttributePath.AttributeName, "members") ||
			p.AttributePath.URI() != "" && !strings.EqualFold(p.AttributePath.URI(), groupURN) {
			rest = append(rest, op)
			continue
		}
		if p.AttributePath.SubAttribute != nil || p.SubAttribute != nil {
			return nil, ops, nil
		}
		if p.ValueExpression != nil { // remove members[value eq "id"]
			e, ok := p.ValueExpression.(*filter.AttributeExpression)
			if !ok {
				return nil, ops, nil
			}
			id, isString := e.CompareValue.(string)
			if op.Op != scimlib.PatchOperationRemove || !strings.EqualFold(e.AttributePath.AttributeName, "value") ||
				e.AttributePath.SubAttribute != nil || e.Operator != filter.EQ || !isString {
				return nil, ops, nil
			}
			delta.set(id, false)
			continue
		}
		if op.Op != scimlib.PatchOperationAdd && op.Op != scimlib.PatchOperationRemove || op.Value == nil {
			return nil, ops, nil
		}
		list, isList := op.Value.([]any)
		if !isList {
			list = []any{op.Value}
		}
		for _, m := range list {
			el, _ := m.(map[string]any)
			id, _ := el["value"].(string)
			if id == "" {
				return nil, ops, nil // let the patcher say what is wrong
			}
			if t, _ := el["type"].(string); t != "" && !strings.EqualFold(t, "User") {
				return nil, nil, badRequest(scimerrors.ScimTypeInvalidValue, "only users can be members (member type %q given for %q)", t, id)
			}
			delta.set(id, op.Op == scimlib.PatchOperationAdd)
		}
	}
	return delta, rest, nil
}
