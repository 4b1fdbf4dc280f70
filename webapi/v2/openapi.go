package v2

import (
	"reflect"
	"strconv"
	"strings"
)

// openAPI is the OpenAPI 3 document of the routes, built from the same
// table that routes and checks them.
func (a *API) openAPI() map[string]any {
	paths := map[string]map[string]any{}
	for _, r := range a.routes {
		path := strings.ReplaceAll(r.Path, ":id", "{id}")
		op := map[string]any{"summary": r.Summary, "operationId": operationID(r.Method, path)}
		var params []map[string]any
		if strings.Contains(r.Path, ":id") {
			params = append(params, map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
		}
		for _, p := range r.Params {
			typ := p.Type
			if typ == "" {
				typ = "string"
			}
			schema := map[string]any{"type": typ}
			if p.Default != "" {
				var def any = p.Default
				switch typ {
				case "integer":
					def, _ = strconv.Atoi(p.Default)
				case "boolean":
					def = p.Default == "true"
				}
				schema["default"] = def
			}
			if p.Max > 0 {
				schema["maximum"] = p.Max
			}
			desc := p.Desc
			if p.AdminOnly {
				desc += ". Requires Administer System permission."
			}
			params = append(params, map[string]any{"name": p.Name, "in": "query", "description": desc, "schema": schema})
		}
		if params != nil {
			op["parameters"] = params
		}
		if r.Body != nil {
			ct := "application/json"
			if r.MergePatch {
				ct = "application/merge-patch+json"
			}
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{ct: map[string]any{"schema": schemaOf(reflect.TypeOf(r.Body))}}}
		}
		desc := r.Result
		if desc == "" {
			desc = "no content"
		}
		op["responses"] = map[string]any{strconv.Itoa(r.Status): map[string]string{"description": desc}}
		switch r.Access {
		case loggedIn:
			op["x-access"] = "logged in"
		case admin:
			op["x-access"] = "Administer System"
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.1",
		"info":    map[string]string{"title": "scimgate REST API v2 (SonarQube's users, groups and memberships)", "version": "v2"},
		"components": map[string]any{"securitySchemes": map[string]any{
			"bearer": map[string]string{"type": "http", "scheme": "bearer"},
			"basic":  map[string]string{"type": "http", "scheme": "basic"},
		}},
		"security": []map[string][]string{{"bearer": {}}, {"basic": {}}},
		"paths":    paths,
	}
}

// schemaOf describes a body type from its fields and JSON names.
func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			props[name] = schemaOf(f.Type)
		}
		return map[string]any{"type": "object", "properties": props}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	}
	return map[string]any{"type": "string"}
}

// operationID names an operation after its method and path:
// GET /api/v2/users-management/users/{id} is getUsersManagementUsersById.
func operationID(method, path string) string {
	words := strings.Fields(strings.NewReplacer("/api/v2/", "", "-", " ", "/", " ", "{id}", "by id").Replace(path))
	id := strings.ToLower(method)
	for _, w := range words {
		id += strings.ToUpper(w[:1]) + w[1:]
	}
	return id
}
