package scim

import (
	"strings"

	"github.com/elimity-com/scim/optional"
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
	groupSchema      = coreGroupSchema()
	enterpriseSchema = schema.ExtensionEnterpriseUser()

	userAttrs       = newAttrSet(userSchema)
	groupAttrs      = newAttrSet(groupSchema)
	enterpriseAttrs = newAttrSet(enterpriseSchema)
)

// coreGroupSchema is RFC 7643's Group schema as scimgate serves it: only
// users can be members, so members.type and $ref name User alone.
func coreGroupSchema() schema.Schema {
	return schema.Schema{
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Description: optional.NewString("A human-readable name for the Group. REQUIRED."),
				Name:        "displayName",
				Required:    true,
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Description: optional.NewString("A list of members of the Group: users only."),
				MultiValued: true,
				Name:        "members",
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{
						Description: optional.NewString("Identifier of the member of this Group."),
						Mutability:  schema.AttributeMutabilityImmutable(),
						Name:        "value",
					}),
					schema.SimpleReferenceParams(schema.ReferenceParams{
						Description:    optional.NewString("The URI corresponding to the User that is a member of this Group."),
						Mutability:     schema.AttributeMutabilityImmutable(),
						Name:           "$ref",
						ReferenceTypes: []schema.AttributeReferenceType{"User"},
					}),
					schema.SimpleStringParams(schema.StringParams{
						CanonicalValues: []string{"User"},
						Description:     optional.NewString("The type of the member: always 'User'."),
						Mutability:      schema.AttributeMutabilityImmutable(),
						Name:            "type",
					}),
					schema.SimpleStringParams(schema.StringParams{
						Description: optional.NewString("A human-readable name for the group member, primarily used for display purposes."),
						Mutability:  schema.AttributeMutabilityImmutable(),
						Name:        "display",
					}),
				},
			}),
		},
		Description: optional.NewString("Group"),
		ID:          groupURN,
		Name:        optional.NewString("Group"),
	}
}

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
