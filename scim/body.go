package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	scimerrors "github.com/elimity-com/scim/errors"
)

// readBody reads a request body of at most maxBody bytes.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge,
			Detail: "The request body is larger than the server accepts (" + strconv.FormatInt(h.maxBody, 10) + " bytes)."}
	}
	if err != nil {
		return nil, scimerrors.ScimErrorInvalidSyntax
	}
	return raw, nil
}

// prepareBody bounds a POST or PUT body and rewrites the IdP quirks the
// library would refuse, then puts it back for the library to read.
func (h *Handler) prepareBody(r *http.Request, endpoint string) error {
	raw, err := h.readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var doc map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil || doc == nil || d.More() {
			return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
				Detail: "The request body is not a JSON object."}
		}
		if endpoint == "Users" {
			normalizeUser(doc)
		}
		raw, _ = json.Marshal(doc)
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	r.ContentLength = int64(len(raw))
	return nil
}

// normalizeUser accepts the enterprise manager as a bare string (Entra) or a
// one-element list, and hands the library {"value": id}.
func normalizeUser(doc map[string]any) {
	ext, _, _ := getKey(doc, enterpriseURN)
	if m, ok := ext.(map[string]any); ok {
		if v, key, ok := getKey(m, "manager"); ok {
			m[key] = managerValue(v)
		}
	}
}

func managerValue(v any) any {
	switch x := v.(type) {
	case string:
		return map[string]any{"value": x}
	case []any:
		if len(x) == 1 {
			return managerValue(x[0])
		}
	case nil:
		return map[string]any{"value": ""}
	}
	return v
}
