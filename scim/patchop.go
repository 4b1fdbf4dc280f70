package scim

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"

	scimerrors "github.com/elimity-com/scim/errors"

	scimlib "github.com/elimity-com/scim"
	filter "github.com/scim2/filter-parser/v2"
)

// maxOperations bounds the operations of one PATCH request.
const maxOperations = 1000

// parsePatch reads and validates a PATCH body (RFC 7644 §3.5.2) against the
// patcher's schemas, coercing values as the library's schema rules do
// ("False" strings to booleans, single values to lists for multi-valued
// attributes). It replaces the library's PATCH validation, whose path parser
// costs about 150 µs per operation.
func (p patcher) parsePatch(body []byte) ([]scimlib.PatchOperation, error) {
	var req struct {
		Schemas    []string
		Operations []struct {
			Op    string
			Path  string
			Value any
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&req); err != nil || d.More() {
		return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "the request body is not a PatchOp message")
	}
	if len(req.Schemas) > 0 && !containsFold(req.Schemas, patchURN) {
		return nil, badRequest(scimerrors.ScimTypeInvalidValue, "schemas must be [%q]", patchURN)
	}
	if len(req.Operations) == 0 || len(req.Operations) > maxOperations {
		return nil, badRequest(scimerrors.ScimTypeInvalidValue, "a PATCH needs 1 to %d Operations", maxOperations)
	}
	ops := make([]scimlib.PatchOperation, 0, len(req.Operations))
	var err error
	for _, o := range req.Operations {
		op := strings.ToLower(o.Op)
		if op != scimlib.PatchOperationAdd && op != scimlib.PatchOperationRemove && op != scimlib.PatchOperationReplace {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "unknown op %q; use add, remove or replace", o.Op)
		}
		if strings.TrimSpace(o.Path) == "" {
			if op == scimlib.PatchOperationRemove {
				return nil, badRequest(scimerrors.ScimTypeNoTarget, "remove needs a path")
			}
			values, ok := o.Value.(map[string]any)
			if !ok {
				return nil, badRequest(scimerrors.ScimTypeInvalidValue, "an operation without a path needs an object value")
			}
			// A path-less value is one operation per key (RFC 7644 §3.5.2.1).
			for k, v := range values {
				if ops, err = p.expandKey(ops, op, k, v); err != nil {
					return nil, err
				}
			}
			continue
		}
		path, err := p.parsePath(o.Path)
		if err != nil {
			return nil, err
		}
		v, err := p.validateValue(op, path, o.Value)
		if err != nil {
			return nil, err
		}
		ops = append(ops, scimlib.PatchOperation{Op: op, Path: &path, Value: v})
	}
	return ops, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ignoredKeys are read-only attributes clients echo back in path-less values
// (Okta sends the group id on every rename); they are dropped.
var ignoredKeys = map[string]bool{"id": true, "meta": true, "schemas": true, "groups": true}

// expandKey turns one key of a path-less value into operations: an
// extension URN holding an object gives one per attribute; any other key
// (userName, name.givenName, urn:...:employeeNumber) is a path.
func (p patcher) expandKey(ops []scimlib.PatchOperation, op, k string, v any) ([]scimlib.PatchOperation, error) {
	if ignoredKeys[strings.ToLower(k)] {
		return ops, nil
	}
	if ext, ok := p.ext(k); ok {
		sub, ok := v.(map[string]any)
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s must hold an object", k)
		}
		var err error
		for sk, sv := range sub {
			if ops, err = p.expandKey(ops, op, ext.urn+":"+sk, sv); err != nil {
				return nil, err
			}
		}
		return ops, nil
	}
	path, err := p.parsePath(k)
	if err != nil {
		return nil, err
	}
	val, err := p.validateValue(op, path, v)
	if err != nil {
		return nil, err
	}
	return append(ops, scimlib.PatchOperation{Op: op, Path: &path, Value: val}), nil
}

var pathCache sync.Map // path string -> filter.Path, for paths with filters
var pathCacheSize int64
var pathCacheMu sync.Mutex

// parsePath reads a PATCH path. Plain paths (attr, attr.sub, urn:...:attr)
// are split by hand; filtered ones go to the parser, cached by text.
func (p patcher) parsePath(raw string) (filter.Path, error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > maxFilterLen {
		return filter.Path{}, errPath("path too long")
	}
	var path filter.Path
	if !strings.ContainsAny(raw, `[]" `) {
		attr := raw
		if i := strings.LastIndex(raw, ":"); i >= 0 {
			uri := raw[:i]
			path.AttributePath.URIPrefix, attr = &uri, raw[i+1:]
		}
		name, sub, hasSub := strings.Cut(attr, ".")
		path.AttributePath.AttributeName = name
		if hasSub {
			path.AttributePath.SubAttribute = &sub
		}
	} else if cached, ok := pathCache.Load(raw); ok {
		path = cached.(filter.Path)
	} else {
		var err error
		if path, err = parsePathSafely(raw); err != nil {
			return filter.Path{}, errPath("%q is not a valid path", raw)
		}
		pathCacheMu.Lock()
		if pathCacheSize < 4096 {
			pathCache.Store(raw, path)
			pathCacheSize++
		}
		pathCacheMu.Unlock()
	}
	return path, p.resolve(&path)
}

func parsePathSafely(raw string) (path filter.Path, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errPath("%q is not a valid path", raw)
		}
	}()
	return filter.ParsePath([]byte(raw))
}

// resolve checks the path's schema and attribute; an extension attribute
// named without its URN (Entra's "manager") gets it.
func (p patcher) resolve(path *filter.Path) error {
	ap := &path.AttributePath
	if ap.AttributeName == "" {
		return errPath("empty attribute name")
	}
	if uri := ap.URI(); uri != "" && !strings.EqualFold(uri, p.core.urn) {
		ext, ok := p.ext(uri)
		if !ok {
			return errPath("unknown schema %q", uri)
		}
		if _, ok := ext.lookup(ap.AttributeName); !ok {
			return errPath("unknown attribute %q", ap.String())
		}
		return nil
	}
	if info, ok := p.core.lookup(ap.AttributeName); ok {
		if info.def.Mutability() == "readOnly" {
			return badRequest(scimerrors.ScimTypeMutability, "%s is read-only", info.name)
		}
		return nil
	}
	for _, ext := range p.exts {
		if _, ok := ext.lookup(ap.AttributeName); ok {
			urn := ext.urn
			ap.URIPrefix = &urn
			return nil
		}
	}
	return errPath("unknown attribute %q", ap.String())
}

func (p patcher) info(path filter.Path) attrInfo {
	set := p.core
	if uri := path.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, p.core.urn) {
		set, _ = p.ext(uri)
	}
	info, _ := set.lookup(path.AttributePath.AttributeName)
	return info
}

// validateValue checks value against the attribute the path names.
func (p patcher) validateValue(op string, path filter.Path, value any) (any, error) {
	info := p.info(path)
	def := info.def
	sub := path.AttributePath.SubAttributeName()
	if sub == "" {
		sub = path.SubAttributeName()
	}
	if sub != "" {
		d, ok := info.defs[strings.ToLower(sub)]
		if !ok {
			return nil, errPath("unknown sub-attribute %q of %s", sub, info.name)
		}
		def = d
	}
	if value == nil {
		if op == scimlib.PatchOperationAdd {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "add needs a value")
		}
		return nil, nil // replace with null clears, remove takes no value
	}
	if def.Name() == "manager" && def.AttributeType() == "complex" {
		value = managerValue(value)
	}
	one := func(v any) (any, error) {
		out, err := def.ValidateSingular(v)
		if err != nil {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s: %s", path.String(), err.Detail)
		}
		return out, nil
	}
	if !def.MultiValued() || path.ValueExpression != nil || sub != "" {
		return one(value)
	}
	list, ok := value.([]any)
	if !ok {
		list = []any{value}
	}
	out := make([]any, 0, len(list))
	for _, v := range list {
		x, err := one(v)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}
