package scim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

const searchURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// searchRequest is the body of POST /Users/.search and /Groups/.search
// (RFC 7644 §3.4.3).
type searchRequest struct {
	Schemas            []string `json:"schemas"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
}

// search serves POST /{endpoint}/.search: the query travels in the body, the
// answer is what GET with the same parameters answers.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, endpoint string) {
	raw, err := h.readBody(r)
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	var req searchRequest
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&req); err != nil || d.More() {
		writeError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "The request body is not a SearchRequest: " + strings.TrimPrefix(errString(err), "json: ")})
		return
	}
	if !containsFold(req.Schemas, searchURN) {
		writeError(w, scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
			Detail: "A SearchRequest must name the schema " + searchURN})
		return
	}
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("filter", req.Filter)
	set("sortBy", req.SortBy)
	set("sortOrder", req.SortOrder)
	set("attributes", strings.Join(req.Attributes, ","))
	set("excludedAttributes", strings.Join(req.ExcludedAttributes, ","))
	if req.StartIndex != nil {
		q.Set("startIndex", strconv.Itoa(*req.StartIndex))
	}
	if req.Count != nil {
		q.Set("count", strconv.Itoa(*req.Count))
	}
	h.list(w, r, q, endpoint)
}

func errString(err error) string {
	if err == nil {
		return "more than one JSON value"
	}
	return err.Error()
}
