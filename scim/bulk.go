package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/labstack/echo/v4"
)

// Bulk (RFC 7644 §3.7) limits, advertised in ServiceProviderConfig.
const maxBulkOperations = 1000

const (
	bulkRequestURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	bulkResponseURN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

type bulkRequest struct {
	Schemas      []string `json:"schemas"`
	FailOnErrors int      `json:"failOnErrors"`
	Operations   []bulkOp `json:"Operations"`
}

type bulkOp struct {
	Method  string          `json:"method"`
	BulkID  string          `json:"bulkId"`
	Version string          `json:"version"`
	Path    string          `json:"path"`
	Data    json.RawMessage `json:"data"`
}

type bulkResult struct {
	Method   string          `json:"method"`
	BulkID   string          `json:"bulkId,omitempty"`
	Version  string          `json:"version,omitempty"`
	Location string          `json:"location,omitempty"`
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response,omitempty"`
}

// bulk serves POST /Bulk: each operation is served exactly as the same
// request on its own would be (same rules, same answers, DELETE /Users
// refused), in order, each in its own transaction. "bulkId:x" in a path or
// anywhere in data names what the operation with bulkId x created. After
// failOnErrors errors (if set) the rest is not run.
func (h *Handler) bulk(c echo.Context) {
	w, r := c.Response(), c.Request()
	raw, err := h.readBody(r)
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	var req bulkRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		writeError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "The request body is not a BulkRequest: " + strings.TrimPrefix(err.Error(), "json: ")})
		return
	}
	switch {
	case !containsFold(req.Schemas, bulkRequestURN):
		writeError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "A BulkRequest must name the schema " + bulkRequestURN})
		return
	case len(req.Operations) > maxBulkOperations:
		writeError(w, scimerrors.ScimError{Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("The bulk request has %d operations; at most %d are accepted.", len(req.Operations), maxBulkOperations)})
		return
	case req.FailOnErrors < 0:
		writeError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
			Detail: "failOnErrors must be a positive integer"})
		return
	}
	created := map[string]string{} // bulkId -> id
	results := []bulkResult{}
	errs := 0
	for _, op := range req.Operations {
		if req.FailOnErrors > 0 && errs >= req.FailOnErrors {
			break
		}
		res := h.bulkOp(c, op, created)
		if code, _ := strconv.Atoi(res.Status); code >= 400 {
			errs++
		}
		results = append(results, res)
	}
	writeJSON(w, http.StatusOK, map[string]any{"schemas": []string{bulkResponseURN}, "Operations": results})
}

// bulkOp runs one operation through serve, as its own request would run.
func (h *Handler) bulkOp(c echo.Context, op bulkOp, created map[string]string) bulkResult {
	method := strings.ToUpper(op.Method)
	res := bulkResult{Method: method, BulkID: op.BulkID}
	fail := func(status int, typ scimerrors.ScimType, detail string) bulkResult {
		body, _ := json.Marshal(scimerrors.ScimError{Status: status, ScimType: typ, Detail: detail})
		res.Status, res.Response = strconv.Itoa(status), body
		return res
	}
	switch {
	case method != http.MethodPost && method != http.MethodPut && method != http.MethodPatch && method != http.MethodDelete:
		return fail(http.StatusBadRequest, scimerrors.ScimTypeInvalidValue, fmt.Sprintf("method %q is not one of POST, PUT, PATCH, DELETE", op.Method))
	case method == http.MethodPost && op.BulkID == "":
		return fail(http.StatusBadRequest, scimerrors.ScimTypeInvalidValue, "a POST operation needs a bulkId")
	}
	path, err := resolveBulkIDs(op.Path, created)
	if err != nil {
		return fail(http.StatusConflict, scimerrors.ScimTypeInvalidValue, err.Error())
	}
	endpoint, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if e := endpoints[strings.ToLower(endpoint)]; e != "Users" && e != "Groups" {
		return fail(http.StatusBadRequest, scimerrors.ScimTypeInvalidPath, fmt.Sprintf("path %q is not under /Users or /Groups", op.Path))
	}
	var body []byte
	if len(op.Data) > 0 {
		var data any
		if err := json.Unmarshal(op.Data, &data); err != nil {
			return fail(http.StatusBadRequest, scimerrors.ScimTypeInvalidSyntax, "data is not JSON")
		}
		if data, err = resolveInData(data, created); err != nil {
			return fail(http.StatusConflict, scimerrors.ScimTypeInvalidValue, err.Error())
		}
		body, _ = json.Marshal(data)
	}
	r := c.Request()
	inner := httptest.NewRequest(method, h.prefix+path, bytes.NewReader(body)).WithContext(r.Context())
	inner.RemoteAddr = r.RemoteAddr
	inner.Header.Set("Content-Type", contentType)
	if op.Version != "" {
		inner.Header.Set("If-Match", op.Version)
	}
	rec := httptest.NewRecorder()
	ic := c.Echo().NewContext(inner, rec)
	if err := h.serve(ic); err != nil {
		c.Echo().HTTPErrorHandler(err, ic)
	}
	res.Status = strconv.Itoa(rec.Code)
	res.Location = rec.Header().Get("Location")
	res.Version = rec.Header().Get("ETag")
	if rec.Code >= 400 {
		res.Response = bytes.TrimSpace(rec.Body.Bytes())
	}
	if method == http.MethodPost && rec.Code == http.StatusCreated {
		var doc struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &doc) == nil && doc.ID != "" {
			created[op.BulkID] = doc.ID
		}
	}
	return res
}

const bulkRef = "bulkId:"

// resolveBulkIDs replaces every "bulkId:x" in s by the id x created.
func resolveBulkIDs(s string, created map[string]string) (string, error) {
	for {
		i := strings.Index(s, bulkRef)
		if i < 0 {
			return s, nil
		}
		rest := s[i+len(bulkRef):]
		end := strings.IndexAny(rest, "/?\" ")
		if end < 0 {
			end = len(rest)
		}
		id, ok := created[rest[:end]]
		if !ok {
			return "", fmt.Errorf("bulkId %q is not created by an earlier operation of this request", rest[:end])
		}
		s = s[:i] + id + rest[end:]
	}
}

// resolveInData resolves bulkId references in every string of data.
func resolveInData(v any, created map[string]string) (any, error) {
	switch x := v.(type) {
	case string:
		if strings.HasPrefix(x, bulkRef) {
			return resolveBulkIDs(x, created)
		}
	case map[string]any:
		for k, e := range x {
			r, err := resolveInData(e, created)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := resolveInData(e, created)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}
