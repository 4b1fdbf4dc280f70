package scim

import (
	"encoding/json"
	"net/http"

	scimlib "github.com/elimity-com/scim"

	"github.com/scimgate/scimgate/store"
)

// patch serves PATCH /Users/{id} (200 with the user, as Okta wants) and
// PATCH /Groups/{id} (204, as Microsoft advises).
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, endpoint, id string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	p, handler := userPatcher, scimlib.ResourceHandler(users{h})
	if endpoint == "Groups" {
		p, handler = groupPatcher, groups{h}
	}
	ops, err := p.parsePatch(body)
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	if endpoint == "Users" {
		h.patchUser(w, r, id, ops)
		return
	}
	res, err := handler.Patch(r, id, ops)
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	if len(res.Attributes) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("ETag", res.Meta.Version)
	writeJSON(w, http.StatusOK, res.Attributes)
}

// patchUser answers PATCH /Users/{id} with the stored user, rendered by
// the same fast path as GET.
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, id string, ops []scimlib.PatchOperation) {
	var raw json.RawMessage
	var u store.User
	err := users{h}.patchUser(r, id, ops, func(tx store.Tx, stored store.User) error {
		u = stored
		fast, ok, err := h.userJSON(tx, u)
		if err != nil || ok {
			raw = fast
			return err
		}
		res, err := h.userResource(tx, u)
		if err == nil {
			raw, err = json.Marshal(res.Attributes)
		}
		return err
	})
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	w.Header().Set("ETag", etag(u.Version))
	setContentType(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(raw, '\n'))
}
