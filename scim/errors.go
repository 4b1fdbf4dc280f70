package scim

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimgate/scimgate/store"
)

// scimError maps a store error to a SCIM error, in one place. The library
// turns anything but a ScimError value into a 500 that leaks err.Error(), so
// every handler returns what this gives.
func scimError(err error, log *slog.Logger) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(scimerrors.ScimError); ok {
		return err // mapped already
	}
	msg := store.ErrorMessage(err)
	switch store.ErrorCode(err) {
	case store.ENotFound:
		return scimerrors.ScimError{Status: http.StatusNotFound, Detail: msg}
	case store.EConflict:
		return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: msg}
	case store.EInvalid, store.EManaged:
		typ := scimerrors.ScimTypeInvalidValue
		// Messages may name their scimType first: "invalidPath: ...".
		if t, rest, ok := strings.Cut(msg, ": "); ok && !strings.Contains(t, " ") {
			typ, msg = scimerrors.ScimType(t), rest
		}
		return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: typ, Detail: msg}
	case store.EForbidden:
		return scimerrors.ScimError{Status: http.StatusForbidden, Detail: msg}
	case store.EUnauthenticated:
		return scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: msg}
	case store.EPrecondition:
		return scimerrors.ScimError{Status: http.StatusPreconditionFailed, Detail: msg}
	case store.EUnavailable:
		return scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: msg} // Retry-After: see the server
	}
	log.Error("scim: internal error", "err", err)
	return scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "Internal server error"}
}

// writeError writes a SCIM error body with the SCIM content type.
func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(e.Status)
	raw, _ := json.Marshal(e)
	_, _ = w.Write(raw)
}

func notFound(id string) error {
	return store.Errorf(store.ENotFound, "Resource %s not found", id)
}

// fail maps err for a resource handler the library calls. The library
// answers no 503 to POST, PUT or DELETE (it turns one into a 500), so a
// store that cannot write is recorded in the request for serve to answer
// itself (see unavailableWriter).
func (h *Handler) fail(r *http.Request, err error) error {
	mapped := scimError(err, h.log)
	if e, ok := mapped.(scimerrors.ScimError); ok && e.Status == http.StatusServiceUnavailable {
		if u, ok := r.Context().Value(unavailableKey{}).(*unavailableWriter); ok {
			u.answer = &e
		}
	}
	return mapped
}

type unavailableKey struct{}

// unavailableWriter passes the library's answer through, unless a handler
// recorded that the store cannot write: then it writes that 503 instead.
type unavailableWriter struct {
	http.ResponseWriter
	answer   *scimerrors.ScimError
	replaced bool
}

func (w *unavailableWriter) WriteHeader(code int) {
	if w.answer != nil {
		w.replaced = true
		writeError(w.ResponseWriter, *w.answer)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *unavailableWriter) Write(b []byte) (int, error) {
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
