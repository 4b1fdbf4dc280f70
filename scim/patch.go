package scim

import (
	"reflect"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	scimlib "github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
)

// patcher applies PATCH operations (RFC 7644 §3.5.2) to a SCIM document,
// accepting the forms Okta and Entra send: path-less values whose keys are
// paths or extension URNs, filtered paths, and member removal by value list.
type patcher struct {
	core attrSet
	exts []attrSet
}

var (
	userPatcher  = patcher{core: userAttrs, exts: []attrSet{enterpriseAttrs}}
	groupPatcher = patcher{core: groupAttrs}
)

func errPath(format string, args ...any) error {
	return badRequest(scimerrors.ScimTypeInvalidPath, format, args...)
}

// apply runs validated operations (see parsePatch) against doc, in order.
func (p patcher) apply(doc map[string]any, ops []scimlib.PatchOperation) error {
	for _, op := range ops {
		if err := p.applyPath(doc, op.Op, *op.Path, op.Value); err != nil {
			return err
		}
	}
	return nil
}

func (p patcher) ext(urn string) (attrSet, bool) {
	for _, e := range p.exts {
		if strings.EqualFold(e.urn, urn) {
			return e, true
		}
	}
	return attrSet{}, false
}

func (p patcher) applyPath(doc map[string]any, op string, path filter.Path, value any) error {
	set, container := p.core, doc
	if uri := path.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, p.core.urn) {
		ext, ok := p.ext(uri)
		if !ok {
			return errPath("unknown schema %q", uri)
		}
		set = ext
		c, _, _ := getKey(doc, ext.urn)
		container, _ = c.(map[string]any)
		if container == nil {
			if op == scimlib.PatchOperationRemove {
				return nil
			}
			container = map[string]any{}
			setKey(doc, ext.urn, container)
		}
	}
	info, ok := set.lookup(path.AttributePath.AttributeName)
	if !ok {
		return errPath("unknown attribute %q", path.AttributePath.AttributeName)
	}
	name := info.name
	if path.ValueExpression != nil {
		return applyFiltered(container, op, info, path, value)
	}
	if sub := path.AttributePath.SubAttributeName(); sub != "" {
		sub = info.sub(sub)
		cur, _, _ := getKey(container, name)
		if info.multi {
			list, _ := cur.([]any)
			for _, el := range list {
				if m, ok := el.(map[string]any); ok {
					setOrDelete(m, op, sub, value)
				}
			}
			return nil
		}
		m, _ := cur.(map[string]any)
		if m == nil {
			if op == scimlib.PatchOperationRemove {
				return nil
			}
			m = map[string]any{}
			setKey(container, name, m)
		}
		setOrDelete(m, op, sub, value)
		return nil
	}
	cur, _, _ := getKey(container, name)
	switch {
	case op == scimlib.PatchOperationRemove && info.multi && value != nil:
		list, _ := cur.([]any)
		setKey(container, name, without(list, asList(value)))
	case op == scimlib.PatchOperationRemove || isEmpty(value) && op == scimlib.PatchOperationReplace:
		delKey(container, name)
	case info.multi && op == scimlib.PatchOperationAdd:
		list, _ := cur.([]any)
		setKey(container, name, appendUnique(list, asList(value)))
	case info.multi:
		setKey(container, name, appendUnique(nil, asList(value)))
	case info.subs != nil:
		m, _ := cur.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if vm, ok := value.(map[string]any); ok {
			for k, v := range vm {
				setOrDelete(m, op, info.sub(k), v)
			}
		}
		setKey(container, name, m)
	case isEmpty(value):
		delKey(container, name)
	default:
		setKey(container, name, value)
	}
	return nil
}

// applyFiltered handles attr[filter] and attr[filter].sub.
func applyFiltered(container map[string]any, op string, info attrInfo, path filter.Path, value any) error {
	cur, _, _ := getKey(container, info.name)
	list, _ := cur.([]any)
	sub := path.SubAttributeName()
	if sub != "" {
		sub = info.sub(sub)
	}
	var kept []any
	matched := 0
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok || !matchValue(info.name, path.ValueExpression, m) {
			kept = append(kept, el)
			continue
		}
		matched++
		switch {
		case op == scimlib.PatchOperationRemove && sub == "":
			continue // drop the element
		case sub != "":
			setOrDelete(m, op, sub, value)
		case op == scimlib.PatchOperationReplace:
			if vm, ok := value.(map[string]any); ok {
				m = vm
			}
		default:
			if vm, ok := value.(map[string]any); ok {
				for k, v := range vm {
					setOrDelete(m, op, info.sub(k), v)
				}
			}
		}
		kept = append(kept, m)
	}
	if matched == 0 && op != scimlib.PatchOperationRemove && !isEmpty(value) {
		// Entra replaces emails[type eq "work"].value on users that have no
		// work email yet: create the element the filter describes.
		el, ok := elementFromFilter(path.ValueExpression, info)
		if !ok {
			return badRequest(scimerrors.ScimTypeNoTarget, "no value matches %s", path.String())
		}
		if sub != "" {
			el[sub] = value
		} else if vm, ok := value.(map[string]any); ok {
			for k, v := range vm {
				el[info.sub(k)] = v
			}
		}
		kept = append(kept, el)
	}
	if len(kept) == 0 {
		delKey(container, info.name)
	} else {
		setKey(container, info.name, kept)
	}
	return nil
}

// elementFromFilter builds {a: v, b: w} from a filter of eq terms joined by and.
func elementFromFilter(expr filter.Expression, info attrInfo) (map[string]any, bool) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return nil, false
		}
		l, ok1 := elementFromFilter(e.Left, info)
		r, ok2 := elementFromFilter(e.Right, info)
		for k, v := range r {
			l[k] = v
		}
		return l, ok1 && ok2
	case *filter.AttributeExpression:
		if e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil {
			return nil, false
		}
		v := e.CompareValue
		if s, ok := v.(string); ok {
			v = unescape(s)
		}
		return map[string]any{info.sub(e.AttributePath.AttributeName): v}, true
	}
	return nil, false
}

func setOrDelete(m map[string]any, op, key string, value any) {
	if op == scimlib.PatchOperationRemove || isEmpty(value) {
		delKey(m, key)
		return
	}
	setKey(m, key, value)
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// sameElement compares multi-valued elements by their "value" when both have
// one (members, emails), else by deep equality.
func sameElement(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		av, _, aHas := getKey(am, "value")
		bv, _, bHas := getKey(bm, "value")
		if aHas && bHas {
			return reflect.DeepEqual(av, bv)
		}
	}
	return reflect.DeepEqual(a, b)
}

func appendUnique(list, add []any) []any {
	out := append([]any(nil), list...)
next:
	for _, a := range add {
		if isEmpty(a) {
			continue
		}
		for i, e := range out {
			if sameElement(e, a) {
				out[i] = a
				continue next
			}
		}
		if m, ok := a.(map[string]any); ok && m["primary"] == true {
			for _, e := range out { // at most one primary value (RFC 7643 §2.4)
				if em, ok := e.(map[string]any); ok {
					delete(em, "primary")
				}
			}
		}
		out = append(out, a)
	}
	return out
}

func without(list, remove []any) []any {
	var out []any
next:
	for _, e := range list {
		for _, r := range remove {
			if sameElement(e, r) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}
