package scim

import (
	"net/http"

	scimlib "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
)

// patch serves PATCH /Users/{id} (200 with the user, as Okta wants) and
// PATCH /Groups/{id} (204, as Microsoft advises).
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, endpoint, id string) {
	body, err := h.readBody(r)
	if err != nil {
		writeError(w, err.(scimerrors.ScimError))
		return
	}
	p, handler := userPatcher, scimlib.ResourceHandler(users{h})
	if endpoint == "Groups" {
		p, handler = groupPatcher, groups{h}
	}
	ops, err := p.parsePatch(body)
	if err != nil {
		writeError(w, scimErr(err, h.log))
		return
	}
	res, err := handler.Patch(r, id, ops)
	if err != nil {
		writeError(w, err.(scimerrors.ScimError))
		return
	}
	if len(res.Attributes) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("ETag", res.Meta.Version)
	writeJSON(w, http.StatusOK, res.Attributes)
}
