package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimgate/scimgate/store"
)

// scimError maps a store error to a SCIM error, in one place. The library
// turns anything but a ScimError value into a 500 that leaks err.Error(), so
// every handler returns what this gives.
func scimError(err error, log *slog.Logger) scimerrors.ScimError {
	var mapped scimerrors.ScimError
	if errors.As(err, &mapped) {
		return mapped // mapped already
	}
	msg := store.ErrorMessage(err)
	switch store.ErrorCode(err) {
	case store.ENotFound:
		return scimerrors.ScimError{Status: http.StatusNotFound, Detail: msg}
	case store.EConflict:
		return scimerrors.ScimError{Status: http.StatusConflict, ScimType: scimerrors.ScimTypeUniqueness, Detail: msg}
	case store.EInvalid, store.EManaged:
		return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue, Detail: msg}
	case store.EForbidden:
		return scimerrors.ScimError{Status: http.StatusForbidden, Detail: msg}
	case store.EUnauthenticated:
		return scimerrors.ScimError{Status: http.StatusUnauthorized, Detail: msg}
	case store.EPrecondition:
		return scimerrors.ScimError{Status: http.StatusPreconditionFailed, Detail: msg}
	case store.EUnavailable:
		return scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: msg} // Retry-After: see the server
	}
	if errors.Is(err, context.Canceled) {
		log.Debug("scim: the client went away", "err", err) // nobody reads the answer
	} else {
		log.Error("scim: internal error", "err", err)
	}
	return scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "Internal server error"}
}

// writeError writes a SCIM error body with the SCIM content type, noting it
// for the audit trail when w is a request's answer.
func writeError(w http.ResponseWriter, e scimerrors.ScimError) {
	if a, ok := w.(*answer); ok && !a.replaced {
		a.note(e)
	}
	setContentType(w)
	w.WriteHeader(e.Status)
	raw, _ := json.Marshal(e)
	_, _ = w.Write(raw)
}

// badRequest is a 400 SCIM error of type typ.
func badRequest(typ scimerrors.ScimType, format string, args ...any) error {
	return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: typ, Detail: fmt.Sprintf(format, args...)}
}

// WriteError writes a SCIM error with status and detail: for answers the
// API's own handlers did not give (a panic, an unknown path).
func WriteError(w http.ResponseWriter, status int, detail string) {
	writeError(w, scimerrors.ScimError{Status: status, Detail: detail})
}

func notFound(id string) error {
	return store.Errorf(store.ENotFound, "Resource %s not found", id)
}

// fail maps err for a resource handler the library calls, noting a refusal
// for the audit trail. The library answers no 503 to POST, PUT or DELETE (it
// turns one into a 500), so a store that cannot write is noted for the
// answer to write itself (see answer).
func (h *Handler) fail(r *http.Request, err error) error {
	if err == nil {
		return nil
	}
	mapped := scimError(err, h.log)
	if a, ok := r.Context().Value(answerKey{}).(*answer); ok {
		a.note(mapped)
	}
	return mapped
}

// asScim is err as the SCIM error to answer.
func (h *Handler) asScim(err error) scimerrors.ScimError { return scimError(err, h.log) }

type answerKey struct{}

// answer is the response of one SCIM request. It notes the refusal it
// carries (writeError and fail tell it), for serve to audit where it
// happened, and writes a noted 503 in place of the library's 500.
type answer struct {
	http.ResponseWriter
	refusal  *scimerrors.ScimError
	replaced bool
}

// note remembers a refusal (4xx but 401) and a store that cannot write.
func (a *answer) note(e scimerrors.ScimError) {
	if e.Status >= 400 && e.Status < 500 && e.Status != http.StatusUnauthorized || e.Status == http.StatusServiceUnavailable {
		a.refusal = &e
	}
}

func (a *answer) WriteHeader(code int) {
	if a.refusal != nil && a.refusal.Status == http.StatusServiceUnavailable && code != http.StatusServiceUnavailable {
		a.replaced = true
		e := *a.refusal
		a.refusal = nil
		writeError(a.ResponseWriter, e)
		return
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *answer) Write(b []byte) (int, error) {
	if a.replaced {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

// auditRefusal records a refused write in the audit trail with its message.
func (h *Handler) auditRefusal(r *http.Request, e scimerrors.ScimError) {
	if e.Status >= 500 || store.ActorFrom(r.Context()).Login == "" {
		return
	}
	kind := "user"
	if strings.Contains(strings.ToLower(r.URL.Path), "/groups") {
		kind = "group"
	}
	if err := store.RecordRefusal(context.WithoutCancel(r.Context()), h.store, kind, r.URL.Path, e.Detail); err != nil {
		h.log.Error("audit: cannot record a refusal", "err", err)
	}
}

// contentTypes is the Content-Type header of every answer, shared: setting
// it with Header.Set would allocate its one-element list on each request
// (net/http only reads it, and Header.Set replaces rather than changes it).
var contentTypes = []string{contentType}

// setContentType sets w's Content-Type to SCIM's.
func setContentType(w http.ResponseWriter) { w.Header()["Content-Type"] = contentTypes }
