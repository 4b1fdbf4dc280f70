package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

func urlUnescape(s string) (string, error) { return url.PathUnescape(s) }

// readBody reads a bounded request body, rewrites the IdP quirks the library
// would refuse, and puts the result back for the library to read.
func (h *Handler) readBody(r *http.Request, endpoint string) error {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge,
			Detail: "The request body is larger than the server accepts (" + strconv.FormatInt(h.maxBody, 10) + " bytes)."}
	}
	if err != nil {
		return scimerrors.ScimErrorInvalidSyntax
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		var doc map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil || doc == nil || d.More() {
			return scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
				Detail: "The request body is not a JSON object."}
		}
		if r.Method == http.MethodPatch {
			normalizePatch(doc, endpoint)
		} else if endpoint == "Users" {
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

// normalizePatch adds a missing PatchOp schema, and rewrites manager paths
// and values into the shape the library validates.
func normalizePatch(doc map[string]any, endpoint string) {
	if _, _, ok := getKey(doc, "schemas"); !ok {
		doc["schemas"] = []any{patchURN}
	}
	ops, _, _ := getKey(doc, "Operations")
	list, _ := ops.([]any)
	for _, o := range list {
		op, ok := o.(map[string]any)
		if !ok || endpoint != "Users" {
			continue
		}
		path, pathKey, _ := getKey(op, "path")
		p, _ := path.(string)
		value, valueKey, hasValue := getKey(op, "value")
		switch {
		case strings.EqualFold(p, "manager") || strings.EqualFold(p, enterpriseURN+":manager"):
			op[pathKey] = enterpriseURN + ":manager"
			if hasValue {
				op[valueKey] = managerValue(value)
			}
		case p == "" && hasValue:
			m, ok := value.(map[string]any)
			if !ok {
				continue
			}
			for k, v := range m {
				if strings.EqualFold(k, "manager") || strings.EqualFold(k, enterpriseURN+":manager") {
					delete(m, k)
					m[enterpriseURN+":manager"] = managerValue(v)
				}
			}
			normalizeUser(m)
		}
	}
}
