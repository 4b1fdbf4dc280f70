package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scimgate/scimgate/store"
)

// A document is a SCIM resource as a JSON object. Users are stored as the
// attributes their IdP sent; groups are built from the group and its members.

// managedKeys are user attributes kept in store.User fields or never stored.
var managedKeys = []string{"id", "userName", "externalId", "active", "password", "groups", "meta", "schemas"}

// userDoc renders a user's stored attributes with userName, externalId and
// active; the manager is returned as an object with its $ref.
func (h *Handler) userDoc(u store.User) map[string]any {
	doc := map[string]any{}
	if len(u.SCIM) > 0 {
		_ = json.Unmarshal(u.SCIM, &doc) // written by applyUserDoc: always an object
	}
	doc["userName"] = u.Login
	doc["active"] = u.Active
	if u.ExternalID != "" {
		doc["externalId"] = u.ExternalID
	}
	if ext, ok := doc[enterpriseURN].(map[string]any); ok {
		if m, ok := ext["manager"].(map[string]any); ok {
			if id, _ := m["value"].(string); id != "" {
				m["$ref"] = h.location("Users", id)
			}
		}
	}
	return doc
}

// applyUserDoc copies a SCIM document into u: userName, externalId and the
// stored attributes. Active is the caller's business (it has rules).
func applyUserDoc(u *store.User, doc map[string]any) error {
	userName, _ := doc["userName"].(string)
	if err := checkText("userName", userName, store.MaxLoginLength, true); err != nil {
		return err
	}
	extID, _ := doc["externalId"].(string)
	if err := checkText("externalId", extID, store.MaxNameLength, false); err != nil {
		return err
	}
	attrs := map[string]any{}
	for k, v := range doc {
		attrs[k] = v
	}
	for _, k := range managedKeys {
		delKey(attrs, k)
	}
	if ext, ok := attrs[enterpriseURN].(map[string]any); ok {
		if m, ok := ext["manager"].(map[string]any); ok {
			id, _ := m["value"].(string)
			if id == "" {
				delete(ext, "manager") // {"value":""} clears the manager
			} else {
				ext["manager"] = map[string]any{"value": id}
			}
		}
	}
	prune(attrs)
	normalizeMulti(attrs)
	if err := boundStrings("", attrs); err != nil {
		return err
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return err
	}
	u.Login, u.ExternalID, u.ExternalLogin, u.SCIM = userName, extID, userName, raw
	u.Name, u.Email = displayName(attrs, userName), primaryEmail(attrs)
	return nil
}

// normalizeMulti makes every multi-valued attribute (emails, phoneNumbers,
// addresses, ..., at the top level and in extensions) hold each {type,
// value} once and at most one primary value (RFC 7643 §2.4). Of several
// marked primary, the last one keeps the mark, as PATCH does; of duplicates
// the first stays, primary if any of them was.
func normalizeMulti(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			if strings.HasPrefix(strings.ToLower(k), "urn:") {
				normalizeMulti(x)
			}
		case []any:
			m[k] = normalizeList(x)
		}
	}
}

func normalizeList(list []any) []any {
	type id struct{ typ, value string }
	seen := map[id]map[string]any{}
	out := list[:0]
	for _, e := range list {
		em, ok := e.(map[string]any)
		if !ok {
			out = append(out, e)
			continue
		}
		v, _, hasValue := getKey(em, "value")
		t, _, _ := getKey(em, "type")
		if hasValue {
			k := id{strings.ToLower(fmt.Sprint(t)), fmt.Sprint(v)}
			if first, dup := seen[k]; dup {
				if em["primary"] == true {
					first["primary"] = true
				}
				continue
			}
			seen[k] = em
		}
		out = append(out, em)
	}
	last := -1
	for i, e := range out {
		if em, ok := e.(map[string]any); ok && em["primary"] == true {
			last = i
		}
	}
	for i, e := range out {
		if em, ok := e.(map[string]any); ok && i != last {
			if _, k, ok := getKey(em, "primary"); ok && em[k] == true {
				delete(em, k)
			}
		}
	}
	return out
}

// prune drops empty values (null, "", [], {}) recursively: Entra's way of
// clearing an attribute is to send one.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			prune(x)
		case []any:
			kept := x[:0]
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
				if !isEmpty(e) {
					kept = append(kept, e)
				}
			}
			m[k] = kept
		}
		if isEmpty(m[k]) {
			delete(m, k)
		}
	}
}

// Bounds of SCIM string attributes: e-mail addresses as RFC 5321 allows
// them, everything else (beside userName and externalId) maxText.
const (
	maxText  = 1024
	maxEmail = 320
)

// boundStrings refuses any string attribute, however deeply nested, longer
// than its bound, naming the attribute: long values would make every
// non-indexed filter slow for everyone.
func boundStrings(path string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" && !strings.HasPrefix(k, "urn:") {
				p = path + "." + k
			}
			if err := boundStrings(p, e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := boundStrings(path, e); err != nil {
				return err
			}
		}
	case string:
		limit := maxText
		if strings.EqualFold(path, "emails.value") {
			limit = maxEmail
		}
		if utf8.RuneCountInString(x) > limit {
			return store.Errorf(store.EInvalid, "%s is longer than %d characters", path, limit)
		}
	}
	return nil
}

// checkText refuses values a store key or a log line must not hold.
func checkText(field, v string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(v) == "":
		return store.Errorf(store.EInvalid, "%s is required", field)
	case utf8.RuneCountInString(v) > max:
		return store.Errorf(store.EInvalid, "%s is longer than %d characters", field, max)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return store.Errorf(store.EInvalid, "%s contains control characters", field)
	}
	return nil
}

func displayName(attrs map[string]any, fallback string) string {
	if s, _ := attrs["displayName"].(string); s != "" {
		return s
	}
	if name, ok := attrs["name"].(map[string]any); ok {
		if s, _ := name["formatted"].(string); s != "" {
			return s
		}
		given, _ := name["givenName"].(string)
		family, _ := name["familyName"].(string)
		if s := strings.TrimSpace(given + " " + family); s != "" {
			return s
		}
	}
	return fallback
}

// primaryEmail picks the primary email, else the work one, else the first.
func primaryEmail(attrs map[string]any) string {
	emails, _ := attrs["emails"].([]any)
	var work, first string
	for _, e := range emails {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return v
		}
		if t, _ := m["type"].(string); strings.EqualFold(t, "work") && work == "" {
			work = v
		}
		if first == "" {
			first = v
		}
	}
	if work != "" {
		return work
	}
	return first
}

// meta renders the meta attribute exactly as the SCIM library does.
func meta(resourceType, location string, created, updated time.Time, version uint64) map[string]any {
	return map[string]any{
		"resourceType": resourceType,
		"created":      created.Format(time.RFC3339),
		"lastModified": updated.Format(time.RFC3339),
		"location":     location,
		"version":      etag(version),
	}
}

func etag(version uint64) string { return `W/"` + strconv.FormatUint(version, 10) + `"` }
