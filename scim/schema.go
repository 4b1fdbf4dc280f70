package scim

import (
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Schema URNs scimgate speaks.
const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	listURN       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	errorURN      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// attrSet maps lower-cased attribute names of one schema to their canonical
// spelling and, for complex attributes, to their sub-attributes.
type attrSet struct {
	urn   string
	attrs map[string]attrInfo
}

type attrInfo struct {
	name  string
	multi bool
	subs  map[string]string // lower -> canonical
	def   schema.CoreAttribute
	defs  map[string]schema.CoreAttribute // sub-attributes by lower-cased name
}

func newAttrSet(s schema.Schema) attrSet {
	set := attrSet{urn: s.ID, attrs: map[string]attrInfo{}}
	add := func(a schema.CoreAttribute) {
		info := attrInfo{name: a.Name(), multi: a.MultiValued(), def: a}
		if a.HasSubAttributes() {
			info.subs = map[string]string{}
			info.defs = map[string]schema.CoreAttribute{}
			for _, sub := range a.SubAttributes() {
				info.subs[strings.ToLower(sub.Name())] = sub.Name()
				info.defs[strings.ToLower(sub.Name())] = sub
			}
		}
		set.attrs[strings.ToLower(a.Name())] = info
	}
	for _, a := range s.Attributes {
		add(a)
	}
	for _, a := range schema.CommonAttributes() {
		add(a)
	}
	return set
}

func (s attrSet) lookup(name string) (attrInfo, bool) {
	a, ok := s.attrs[strings.ToLower(name)]
	return a, ok
}

// sub returns the canonical spelling of a sub-attribute (or name itself).
func (a attrInfo) sub(name string) string {
	if c, ok := a.subs[strings.ToLower(name)]; ok {
		return c
	}
	return name
}

var (
	userSchema       = schema.CoreUserSchema()
	groupSchema      = schema.CoreGroupSchema()
	enterpriseSchema = schema.ExtensionEnterpriseUser()

	userAttrs       = newAttrSet(userSchema)
	groupAttrs      = newAttrSet(groupSchema)
	enterpriseAttrs = newAttrSet(enterpriseSchema)
)

// caseExact lists the attributes compared exactly in filters (RFC 7643:
// identifiers and references); every other string compares case-insensitively.
var caseExact = map[string]bool{
	"id": true, "externalid": true, "members.value": true, "groups.value": true, "manager.value": true,
}

// getKey returns m's value under name, matched case-insensitively.
func getKey(m map[string]any, name string) (any, string, bool) {
	if v, ok := m[name]; ok {
		return v, name, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, k, true
		}
	}
	return nil, "", false
}

// setKey sets m[name], replacing any key that differs only in case.
func setKey(m map[string]any, name string, v any) {
	if _, k, ok := getKey(m, name); ok && k != name {
		delete(m, k)
	}
	m[name] = v
}

func delKey(m map[string]any, name string) {
	if _, k, ok := getKey(m, name); ok {
		delete(m, k)
	}
}

// isEmpty reports whether v carries no value: null, "", [] or {}.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
