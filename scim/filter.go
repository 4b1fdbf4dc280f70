package scim

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"
	"github.com/scimgate/scimgate/store"
)

// maxFilterLen bounds the filters we parse.
const maxFilterLen = 4096

// subAfterFilter matches `attr[expr].sub op value`, which RFC 7644 allows but
// the parser cannot read; it is rewritten to `attr[expr and sub op value]`.
var subAfterFilter = regexp.MustCompile(`([A-Za-z][\w:.\-]*)\[([^\[\]]*)\]\.([A-Za-z]\w*)\s+(?i:(eq|ne|co|sw|ew|gt|lt|ge|le)\s+("(?:[^"\\]|\\.)*"|[^\s()\[\]]+)|(pr))`)

// simpleCompare reads `attr op "value"` and `attr.sub op "value"` for the
// string operators eq, co, sw and ew: what IdPs send on nearly every
// request, and searches. It is read without the general parser, which
// allocates over a thousand times for one such filter, and without a
// regular expression: the grammar, as one, is
// ^([A-Za-z][\w-]*)(?:\.([A-Za-z][\w-]*))?\s+(?i:(eq|co|sw|ew))\s+"((?:[^"\\]|\\.)*)"$
// (the value as written, escapes kept).
func simpleCompare(raw string) (attr, sub, op, value string, ok bool) {
	i := 0
	name := func() string { // [A-Za-z][\w-]*
		start := i
		if i < len(raw) && isLetter(raw[i]) {
			for i++; i < len(raw) && (isLetter(raw[i]) || '0' <= raw[i] && raw[i] <= '9' || raw[i] == '_' || raw[i] == '-'); i++ {
			}
		}
		return raw[start:i]
	}
	space := func() bool { // \s+
		start := i
		for i < len(raw) && strings.IndexByte("\t\n\f\r ", raw[i]) >= 0 {
			i++
		}
		return i > start
	}
	if attr = name(); attr == "" {
		return
	}
	if i < len(raw) && raw[i] == '.' {
		i++
		if sub = name(); sub == "" {
			return
		}
	}
	if !space() || i+2 > len(raw) {
		return
	}
	switch op = strings.ToLower(raw[i : i+2]); op {
	case "eq", "co", "sw", "ew":
	default:
		return
	}
	i += 2
	if !space() || i >= len(raw) || raw[i] != '"' {
		return
	}
	start := i + 1
	for i = start; i < len(raw) && raw[i] != '"'; i++ {
		if raw[i] == '\\' {
			if i++; i == len(raw) || raw[i] == '\n' { // \\. : any character but a newline
				return
			}
		}
	}
	if i != len(raw)-1 {
		return // no closing quote, or something after it
	}
	return attr, sub, op, raw[start:i], true
}

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// parseFilter parses a SCIM filter, smoothing over the parser's gaps.
func parseFilter(raw string) (expr filter.Expression, err error) {
	raw = strings.TrimSpace(raw)
	if len(raw) > maxFilterLen {
		return nil, fmt.Errorf("filter longer than %d bytes", maxFilterLen)
	}
	if attr, sub, op, value, ok := simpleCompare(raw); ok {
		e := &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: attr},
			Operator: filter.CompareOperator(op), CompareValue: value}
		if sub != "" {
			e.AttributePath.SubAttribute = &sub
		}
		return e, nil
	}
	raw = subAfterFilter.ReplaceAllStringFunc(raw, func(m string) string {
		g := subAfterFilter.FindStringSubmatch(m)
		inner := g[2]
		if strings.Contains(strings.ToLower(inner), " or ") {
			inner = "(" + inner + ")"
		}
		cond := g[3] + " pr"
		if g[6] == "" {
			cond = g[3] + " " + strings.ToLower(g[4]) + " " + g[5]
		}
		return g[1] + "[" + inner + " and " + cond + "]"
	})
	defer func() {
		if r := recover(); r != nil { // the parser must never take the server down
			expr, err = nil, fmt.Errorf("invalid filter: %v", r)
		}
	}()
	return filter.ParseFilter([]byte(raw))
}

// match reports whether doc satisfies expr. Attribute names match
// case-insensitively, and so do string values unless the attribute is an
// identifier.
func match(expr filter.Expression, doc map[string]any) bool { return matchValue("", expr, doc) }

// matchValue is match for doc, a value of the multi-valued attribute
// parent (empty: the resource itself) and expr a value filter
// (parent[expr]): its sub-attributes compare as parent's (members[value eq
// "x"] exactly, as members.value).
func matchValue(parent string, expr filter.Expression, doc map[string]any) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return matchValue(parent, e.Left, doc) && matchValue(parent, e.Right, doc)
		}
		return matchValue(parent, e.Left, doc) || matchValue(parent, e.Right, doc)
	case *filter.NotExpression:
		return !matchValue(parent, e.Expression, doc)
	case *filter.ValuePath:
		for _, el := range values(doc, e.AttributePath.URI(), e.AttributePath.AttributeName, "") {
			if m, ok := el.(map[string]any); ok && matchValue(e.AttributePath.AttributeName, e.ValueFilter, m) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		p := e.AttributePath
		sub := p.SubAttributeName()
		vals := values(doc, p.URI(), p.AttributeName, sub)
		if e.Operator == filter.PR {
			for _, v := range vals {
				if !isEmpty(v) {
					return true
				}
			}
			return false
		}
		if sub == "" && slices.ContainsFunc(vals, func(v any) bool { _, complex := v.(map[string]any); return complex }) {
			// A complex attribute compared as a whole compares its value
			// sub-attribute (RFC 7643 §2.4: its significant value):
			// members eq "id" as members.value eq "id".
			sub = "value"
			vals = values(doc, p.URI(), p.AttributeName, sub)
		}
		name := strings.TrimSuffix(p.AttributeName+"."+sub, ".")
		if parent != "" {
			name = parent + "." + p.AttributeName
		}
		exact := caseExact[strings.ToLower(name)]
		for _, v := range vals {
			if compare(v, e.Operator, e.CompareValue, exact) {
				return true
			}
		}
		return e.Operator == filter.NE && len(vals) == 0
	}
	return false
}

// memberValues returns the ids a filter compares a group's members with,
// when it names members only so: members[value eq "id"], members.value eq
// "id" or members eq "id" (in and, or, not). Whether the group has those
// members then decides the filter, without rendering every member: Entra
// ID asks `id eq "group" and members eq "user"` (is the user a member?).
func memberValues(expr filter.Expression) (ids []string, ok bool) {
	ok = true
	var walk func(e filter.Expression)
	walk = func(e filter.Expression) {
		switch e := e.(type) {
		case *filter.LogicalExpression:
			walk(e.Left)
			walk(e.Right)
		case *filter.NotExpression:
			walk(e.Expression)
		case *filter.ValuePath:
			if !isMembers(e.AttributePath) {
				return
			}
			v, is := e.ValueFilter.(*filter.AttributeExpression)
			if id, eq := memberEquality(v, "value"); is && eq && v.AttributePath.SubAttribute == nil {
				ids = append(ids, id)
			} else {
				ok = false
			}
		case *filter.AttributeExpression:
			if !isMembers(e.AttributePath) {
				return
			}
			if id, eq := memberEquality(e, "members"); eq && (e.AttributePath.SubAttribute == nil || strings.EqualFold(*e.AttributePath.SubAttribute, "value")) {
				ids = append(ids, id)
			} else {
				ok = false
			}
		}
	}
	walk(expr)
	return ids, ok
}

// isMembers reports whether p names the Group's members attribute.
func isMembers(p filter.AttributePath) bool {
	return strings.EqualFold(p.AttributeName, "members") && coreURI("Groups", p)
}

// memberEquality returns the string e compares attr with by eq, if so.
func memberEquality(e *filter.AttributeExpression, attr string) (string, bool) {
	if e == nil || !strings.EqualFold(e.AttributePath.AttributeName, attr) || e.Operator != filter.EQ {
		return "", false
	}
	s, ok := e.CompareValue.(string)
	return unescape(s), ok
}

// values returns what an attribute path names in doc, flattening
// multi-valued attributes: emails.value yields every email's value.
func values(doc map[string]any, uri, attr, sub string) []any {
	container := doc
	if uri != "" && !strings.EqualFold(uri, userURN) && !strings.EqualFold(uri, groupURN) {
		ext, _, _ := getKey(doc, uri)
		container, _ = ext.(map[string]any)
	}
	v, _, ok := getKey(container, attr)
	if !ok {
		return nil
	}
	list, multi := v.([]any)
	if !multi {
		list = []any{v}
	}
	if sub == "" {
		return list
	}
	var out []any
	for _, el := range list {
		m, _ := el.(map[string]any)
		if sv, _, ok := getKey(m, sub); ok {
			out = append(out, sv)
		}
	}
	return out
}

func compare(v any, op filter.CompareOperator, want any, exact bool) bool {
	switch w := want.(type) {
	case string:
		s, ok := v.(string)
		if !ok {
			if b, isBool := v.(bool); isBool { // "active eq "true"" from lenient clients
				s = strconv.FormatBool(b)
			} else {
				return op == filter.NE
			}
		}
		w = unescape(w)
		if !exact {
			s, w = strings.ToLower(s), strings.ToLower(w)
		}
		return compareText(s, op, w)
	case bool:
		b, ok := v.(bool)
		if !ok {
			if s, isStr := v.(string); isStr {
				b, ok = strings.EqualFold(s, "true"), strings.EqualFold(s, "true") || strings.EqualFold(s, "false")
			}
		}
		switch op {
		case filter.EQ:
			return ok && b == w
		case filter.NE:
			return !ok || b != w
		}
	case nil:
		return (op == filter.EQ) == isEmpty(v)
	default:
		wf, wok := number(w)
		f, ok := number(v)
		if !ok || !wok {
			return op == filter.NE
		}
		return ordered(f, op, wf)
	}
	return false
}

// compareText applies a string operator to s and w as they are.
func compareText(s string, op filter.CompareOperator, w string) bool {
	switch op {
	case filter.CO:
		return strings.Contains(s, w)
	case filter.SW:
		return strings.HasPrefix(s, w)
	case filter.EW:
		return strings.HasSuffix(s, w)
	}
	return ordered(s, op, w)
}

// ordered applies an equality or ordering operator (eq, ne, gt, ge, lt,
// le) to a and b; any other operator is false.
func ordered[T cmp.Ordered](a T, op filter.CompareOperator, b T) bool {
	c := cmp.Compare(a, b)
	switch op {
	case filter.EQ:
		return c == 0
	case filter.NE:
		return c != 0
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case interface{ Float64() (float64, error) }:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// unescape decodes JSON string escapes the parser leaves in place (\" and \\).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}

// indexHint is an equality on an indexed attribute that narrows a filter's
// candidates: every match of the filter satisfies it.
type indexHint struct {
	attr  string // "id", "externalid", "username" or "displayname", lower-cased
	value string
	exact bool // the expression is this equality and nothing else
}

// hint finds an indexed equality that the whole expression implies.
func hint(expr filter.Expression) (indexHint, bool) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return indexHint{}, false
		}
		h, ok := hint(e.Left)
		if !ok {
			h, ok = hint(e.Right)
		}
		h.exact = false // the other side still has to be evaluated
		return h, ok
	case *filter.AttributeExpression:
		p := e.AttributePath
		s, ok := e.CompareValue.(string)
		if e.Operator != filter.EQ || !ok || p.SubAttribute != nil {
			return indexHint{}, false
		}
		if uri := p.URI(); uri != "" && uri != userURN && uri != groupURN {
			return indexHint{}, false
		}
		switch a := strings.ToLower(p.AttributeName); a {
		case "id", "externalid", "username", "displayname":
			return indexHint{attr: a, value: unescape(s), exact: true}, true
		}
	}
	return indexHint{}, false
}

// prefixIndexes are the attributes whose sw an ordered index answers, by
// endpoint, with that index.
var prefixIndexes = map[string]map[string]store.Index{
	"Users":  {"username": store.IndexUserLogin, "displayname": store.IndexUserName, "externalid": store.IndexUserExternalID},
	"Groups": {"displayname": store.IndexGroupName},
}

// prefixHint finds an `attr sw "prefix"` that the whole expression implies,
// on an attribute an index of endpoint orders: every match of the filter
// is among the resources of that prefix.
func prefixHint(endpoint string, expr filter.Expression) (attr, prefix string, ok bool) {
	return implied(endpoint, expr, func(attr string, op filter.CompareOperator) bool {
		_, indexed := prefixIndexes[endpoint][attr]
		return indexed && op == filter.SW
	})
}

// containsHint finds a comparison that the whole expression implies and
// that the n-gram index covers, since every match contains its text: `co`
// or `ew` (or eq on displayName, userName's having its own index) on a
// user's userName or displayName, and eq, co, sw or ew on an e-mail
// address (emails.value, or value inside an emails[...] filter, as Entra
// ID's `emails[type eq "work"].value eq` matching sends; the index holds
// every address, store.IndexedTexts). It returns text's trigrams
// (store.QueryGrams), none when text is too short for the index.
func containsHint(endpoint string, expr filter.Expression) (grams []string) {
	_, text, ok := implied(endpoint, expr, func(attr string, op filter.CompareOperator) bool {
		switch {
		case endpoint != "Users":
			return false
		case attr == "username" || attr == "displayname":
			return op == filter.CO || op == filter.EW || op == filter.EQ && attr == "displayname"
		}
		return attr == "emails.value" && textOps[op]
	})
	if !ok {
		return nil
	}
	return store.QueryGrams(text)
}

// textOps are the string comparisons whose every match contains the text
// compared with.
var textOps = map[filter.CompareOperator]bool{filter.EQ: true, filter.CO: true, filter.SW: true, filter.EW: true}

// implied finds a comparison of an endpoint's core attribute with a string
// that the whole expression implies (it is the expression, a term of a
// conjunction, or a term of a value filter's conjunction) and that accept
// takes, by lower-cased attribute name: "attr", or "attr.sub" for a
// sub-attribute, named after a dot or inside attr[...].
func implied(endpoint string, expr filter.Expression, accept func(attr string, op filter.CompareOperator) bool) (attr, value string, ok bool) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return "", "", false
		}
		if attr, value, ok := implied(endpoint, e.Left, accept); ok {
			return attr, value, true
		}
		return implied(endpoint, e.Right, accept)
	case *filter.AttributeExpression:
		p := e.AttributePath
		s, ok := e.CompareValue.(string)
		attr := strings.ToLower(p.AttributeName)
		if p.SubAttribute != nil {
			attr += "." + strings.ToLower(*p.SubAttribute)
		}
		if !ok || !accept(attr, e.Operator) || !coreURI(endpoint, p) {
			return "", "", false
		}
		return attr, unescape(s), true
	case *filter.ValuePath:
		p := e.AttributePath
		if p.SubAttribute != nil || !coreURI(endpoint, p) {
			return "", "", false
		}
		prefix := strings.ToLower(p.AttributeName) + "."
		attr, value, ok := implied(endpoint, e.ValueFilter, func(attr string, op filter.CompareOperator) bool { return accept(prefix+attr, op) })
		return prefix + attr, value, ok
	}
	return "", "", false
}

// coreURI reports whether p names an attribute of endpoint's core schema
// (with its URN, or without one).
func coreURI(endpoint string, p filter.AttributePath) bool {
	return p.URI() == "" || strings.EqualFold(p.URI(), map[string]string{"Users": userURN, "Groups": groupURN}[endpoint])
}

// loginTest returns a test that every user matching expr passes: the
// comparison of userName (eq, co, sw or ew) that the whole expression
// implies, made as match makes it (case-insensitively) on the login alone,
// so that the candidates an index found are mostly refused before they are
// rendered for the whole filter. Nil when expr implies none.
func loginTest(expr filter.Expression) func(store.User) bool {
	for _, op := range []filter.CompareOperator{filter.EQ, filter.CO, filter.SW, filter.EW} {
		_, text, ok := implied("Users", expr, func(attr string, o filter.CompareOperator) bool { return attr == "username" && o == op })
		if !ok {
			continue
		}
		text = strings.ToLower(text)
		return func(u store.User) bool { return compareText(strings.ToLower(u.Login), op, text) }
	}
	return nil
}

// activeTest returns a test that every user matching expr passes: the
// comparison `active eq true` or `active eq false` (a boolean, or the
// strings "true" and "false" that compare lets lenient clients send) that
// the whole expression implies, made on the stored state alone, so that
// users of the other state are not rendered: scripts list deprovisioned
// users with `active eq false`. Nil when expr implies none.
func activeTest(expr filter.Expression) func(store.User) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return nil
		}
		if t := activeTest(e.Left); t != nil {
			return t
		}
		return activeTest(e.Right)
	case *filter.AttributeExpression:
		p := e.AttributePath
		if e.Operator != filter.EQ || p.SubAttribute != nil || !strings.EqualFold(p.AttributeName, "active") || !coreURI("Users", p) {
			return nil
		}
		var want bool
		switch v := e.CompareValue.(type) {
		case bool:
			want = v
		case string:
			switch strings.ToLower(unescape(v)) {
			case "true":
				want = true
			case "false":
			default:
				return nil
			}
		default:
			return nil
		}
		return func(u store.User) bool { return u.Active == want }
	}
	return nil
}

// emailTest returns a test that every user matching expr passes: the
// comparison of an e-mail address (see containsHint) that the whole
// expression implies needs its text, lower-cased as match compares it,
// somewhere in the user's stored attributes, where every e-mail address
// is. It spares rendering the candidates that merely hold the text's
// trigrams, and every user for a text too short for the index. The stored
// JSON is searched as written, so a text with a character JSON writes
// escaped is not tested. Nil when expr implies none.
func emailTest(expr filter.Expression) func(store.User) bool {
	_, text, ok := implied("Users", expr, func(attr string, op filter.CompareOperator) bool {
		return attr == "emails.value" && textOps[op]
	})
	if !ok || text == "" || strings.ContainsFunc(text, func(r rune) bool {
		return r < 0x20 || strings.ContainsRune("\"\\<>&\u2028\u2029\ufffd", r)
	}) {
		return nil
	}
	text = strings.ToLower(text)
	return func(u store.User) bool { return strings.Contains(strings.ToLower(string(u.SCIM)), text) }
}

// every is a test that each of tests passes (a nil one is no test; none
// at all: nil).
func every(tests ...func(store.User) bool) func(store.User) bool {
	tests = slices.DeleteFunc(tests, func(t func(store.User) bool) bool { return t == nil })
	switch len(tests) {
	case 0:
		return nil
	case 1:
		return tests[0]
	}
	return func(u store.User) bool {
		for _, t := range tests {
			if !t(u) {
				return false
			}
		}
		return true
	}
}

// mentions reports whether expr refers to any of the attributes named.
func mentions(expr filter.Expression, attrs ...string) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		return mentions(e.Left, attrs...) || mentions(e.Right, attrs...)
	case *filter.NotExpression:
		return mentions(e.Expression, attrs...)
	case *filter.ValuePath:
		return containsFold(attrs, e.AttributePath.AttributeName)
	case *filter.AttributeExpression:
		return containsFold(attrs, e.AttributePath.AttributeName)
	}
	return false
}

// checkOrdering refuses ordering comparisons (gt, ge, lt, le) on attributes
// that have no order (RFC 7644 §3.4.2.2): booleans, binary values and complex
// attributes named without a sub-attribute. Unknown attributes pass: they
// match nothing.
func checkOrdering(expr filter.Expression, attrs attrSet) error {
	var walk func(e filter.Expression, parent *attrInfo) error
	walk = func(e filter.Expression, parent *attrInfo) error {
		switch x := e.(type) {
		case *filter.LogicalExpression:
			if err := walk(x.Left, parent); err != nil {
				return err
			}
			return walk(x.Right, parent)
		case *filter.NotExpression:
			return walk(x.Expression, parent)
		case *filter.ValuePath:
			info, ok := lookupAttr(x.AttributePath.URI(), x.AttributePath.AttributeName, attrs)
			if !ok {
				return nil
			}
			return walk(x.ValueFilter, &info)
		case *filter.AttributeExpression:
			switch x.Operator {
			case filter.GT, filter.GE, filter.LT, filter.LE:
			default:
				return nil
			}
			p := x.AttributePath
			var def schema.CoreAttribute
			if parent != nil {
				d, ok := parent.defs[strings.ToLower(p.AttributeName)]
				if !ok {
					return nil
				}
				def = d
			} else {
				info, ok := lookupAttr(p.URI(), p.AttributeName, attrs)
				if !ok {
					return nil
				}
				def = info.def
				if sub := p.SubAttributeName(); sub != "" {
					if def, ok = info.defs[strings.ToLower(sub)]; !ok {
						return nil
					}
				}
			}
			switch t := def.AttributeType(); {
			case t == "boolean", t == "binary", def.HasSubAttributes():
				name := p.AttributeName
				if sub := p.SubAttributeName(); sub != "" {
					name += "." + sub
				}
				return badRequest(scimerrors.ScimTypeInvalidFilter, "%s is of type %s and has no order: %s cannot compare it", name, t, strings.ToLower(string(x.Operator)))
			}
		}
		return nil
	}
	return walk(expr, nil)
}

// lookupAttr finds an attribute of the resource's schema or, by URI, of the
// enterprise extension.
func lookupAttr(uri, name string, attrs attrSet) (attrInfo, bool) {
	if uri != "" && strings.EqualFold(uri, enterpriseURN) {
		return enterpriseAttrs.lookup(name)
	}
	return attrs.lookup(name)
}
