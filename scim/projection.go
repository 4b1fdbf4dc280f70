package scim

import (
	"net/url"
	"regexp"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

// projection implements the attributes and excludedAttributes parameters
// (RFC 7644 §3.4.2.5). id and schemas are always returned.
type projection struct {
	include [][2]string // container ("" or extension URN) and attribute path
	exclude [][2]string
}

func newProjection(q url.Values) (projection, error) {
	var p projection
	var err error
	if p.include, err = parseAttrList(q.Get("attributes")); err != nil {
		return p, err
	}
	p.exclude, err = parseAttrList(q.Get("excludedAttributes"))
	return p, err
}

// attrPathRe is an attribute path of RFC 7644's ABNF: an optional schema
// URN, a name, an optional sub-attribute. Well-formed names the schema does
// not know are accepted and select nothing, as the RFC allows.
var attrPathRe = regexp.MustCompile(`^(?:[uU][rR][nN]:[A-Za-z0-9:._-]+:)?[A-Za-z][\w$-]*(?:\.[A-Za-z][\w$-]*)?$`)

func parseAttrList(s string) ([][2]string, error) {
	var out [][2]string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if len(a) > 512 {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "attribute name too long")
		}
		if !attrPathRe.MatchString(a) {
			return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "%q is not an attribute path (attributes and excludedAttributes take comma-separated names such as userName, name.givenName or %s:employeeNumber)", a, enterpriseURN)
		}
		container := ""
		if strings.HasPrefix(strings.ToLower(a), "urn:") {
			i := strings.LastIndex(a, ":")
			container, a = a[:i], a[i+1:]
			if strings.EqualFold(container, userURN) || strings.EqualFold(container, groupURN) {
				container = ""
			}
		}
		out = append(out, [2]string{container, a})
	}
	return out, nil
}

// empty reports whether the projection keeps everything.
func (p projection) empty() bool { return len(p.include) == 0 && len(p.exclude) == 0 }

// onlyExcludes reports whether the projection only excludes attr, a
// top-level attribute (excludedAttributes=members).
func (p projection) onlyExcludes(attr string) bool {
	if len(p.include) > 0 || len(p.exclude) == 0 {
		return false
	}
	for _, e := range p.exclude {
		if e[0] != "" || !strings.EqualFold(e[1], attr) {
			return false
		}
	}
	return true
}

// wants reports whether a top-level attribute survives the projection.
func (p projection) wants(attr string) bool {
	for _, e := range p.exclude {
		if e[0] == "" && strings.EqualFold(e[1], attr) {
			return false
		}
	}
	if len(p.include) == 0 {
		return true
	}
	for _, i := range p.include {
		name, _, _ := strings.Cut(i[1], ".")
		if i[0] == "" && strings.EqualFold(name, attr) {
			return true
		}
	}
	return false
}

func (p projection) apply(doc map[string]any) map[string]any {
	if len(p.include) > 0 {
		out := map[string]any{"id": doc["id"], "schemas": doc["schemas"]}
		for _, i := range p.include {
			copyPath(out, doc, i)
		}
		doc = out
	}
	for _, e := range p.exclude {
		if e[0] == "" && (strings.EqualFold(e[1], "id") || strings.EqualFold(e[1], "schemas")) {
			continue
		}
		deletePath(doc, e)
	}
	return doc
}

func container(doc map[string]any, urn string, create bool) map[string]any {
	if urn == "" {
		return doc
	}
	c, _, _ := getKey(doc, urn)
	m, _ := c.(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		setKey(doc, urn, m)
	}
	return m
}

func copyPath(dst, src map[string]any, path [2]string) {
	from := container(src, path[0], false)
	if from == nil {
		return
	}
	name, sub, hasSub := strings.Cut(path[1], ".")
	v, key, ok := getKey(from, name)
	if !ok {
		return
	}
	to := container(dst, path[0], true)
	if !hasSub {
		to[key] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if sv, skey, ok := getKey(x, sub); ok {
			m, _ := to[key].(map[string]any)
			if m == nil {
				m = map[string]any{}
			}
			m[skey] = sv
			to[key] = m
		}
	case []any:
		var list []any
		for _, el := range x {
			if em, ok := el.(map[string]any); ok {
				if sv, skey, ok := getKey(em, sub); ok {
					list = append(list, map[string]any{skey: sv})
				}
			}
		}
		if list != nil {
			to[key] = list
		}
	}
}

func deletePath(doc map[string]any, path [2]string) {
	from := container(doc, path[0], false)
	if from == nil {
		return
	}
	name, sub, hasSub := strings.Cut(path[1], ".")
	if !hasSub {
		delKey(from, name)
		return
	}
	v, _, _ := getKey(from, name)
	switch x := v.(type) {
	case map[string]any:
		delKey(x, sub)
	case []any:
		for _, el := range x {
			if em, ok := el.(map[string]any); ok {
				delKey(em, sub)
			}
		}
	}
}
