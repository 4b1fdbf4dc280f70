package scim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/scimgate/scimgate/store"
)

// renderUser is the one rendering of a managed user as a SCIM resource (a
// map, for projections and filters); userJSON writes the same resource
// without decoding the stored attributes, and userResource hands it to the
// library. Groups are rendered only when asked: they cost a lookup each, and
// most filters never look at them.
func (h *Handler) renderUser(tx store.Tx, u store.User, withGroups bool) (map[string]any, error) {
	doc := h.userDoc(u)
	doc["id"] = u.ID
	doc["schemas"] = []string{userURN, enterpriseURN}
	doc["meta"] = meta("User", h.location("Users", u.ID), u.Created, u.Updated, u.Version)
	if !withGroups {
		return doc, nil
	}
	groups, err := h.userGroups(tx, u)
	if len(groups) > 0 {
		doc["groups"] = groups
	}
	return doc, err
}

// userGroups lists the managed groups of a user.
func (h *Handler) userGroups(tx store.Tx, u store.User) ([]any, error) {
	var groups []any
	for g, err := range managedGroups(tx, u) {
		if err != nil {
			return nil, err
		}
		groups = append(groups, map[string]any{"value": g.ID, "display": g.Name,
			"$ref": h.location("Groups", g.ID), "type": "direct"})
	}
	return groups, nil
}

// managedGroups yields the managed groups of a user: the groups SCIM shows.
func managedGroups(tx store.Tx, u store.User) iter.Seq2[store.Group, error] {
	return func(yield func(store.Group, error) bool) {
		for gid := range tx.GroupsOf(u.ID) { // stored memberships: the default group is never managed
			g, err := tx.Group(gid)
			if err != nil {
				yield(g, err)
				return
			}
			if g.Managed && !yield(g, nil) {
				return
			}
		}
	}
}

// userJSON renders a full user without decoding its stored attributes: the
// computed attributes (those not stored as sent) are written in front of
// the stored JSON object, byte for byte as encoding/json writes them. It
// declines (ok false) when the stored attributes need rewriting (a manager
// gets its $ref).
func (h *Handler) userJSON(tx store.Tx, u store.User) (raw json.RawMessage, ok bool, err error) {
	if bytes.Contains(u.SCIM, []byte(`"manager"`)) {
		return nil, false, nil
	}
	b := make([]byte, 0, 384+len(u.SCIM))
	b = appendJSONString(append(b, `{"id":`...), u.ID)
	b = append(b, `,"schemas":["`+userURN+`","`+enterpriseURN+`"],"userName":`...)
	b = appendJSONString(b, u.Login)
	b = strconv.AppendBool(append(b, `,"active":`...), u.Active)
	if u.ExternalID != "" {
		b = appendJSONString(append(b, `,"externalId":`...), u.ExternalID)
	}
	first := true
	for g, err := range managedGroups(tx, u) {
		if err != nil {
			return nil, false, err
		}
		if first {
			b, first = append(b, `,"groups":[`...), false
		} else {
			b = append(b, ',')
		}
		// A map's keys, as renderUser's groups are encoded: sorted.
		b = appendJSONString(append(b, `{"$ref":`...), h.location("Groups", g.ID))
		b = appendJSONString(append(b, `,"display":`...), g.Name)
		b = appendJSONString(append(b, `,"type":"direct","value":`...), g.ID)
		b = append(b, '}')
	}
	if !first {
		b = append(b, ']')
	}
	b = u.Created.AppendFormat(append(b, `,"meta":{"resourceType":"User","created":"`...), time.RFC3339)
	b = u.Updated.AppendFormat(append(b, `","lastModified":"`...), time.RFC3339)
	b = appendJSONString(append(b, `","location":`...), h.location("Users", u.ID))
	b = appendJSONString(append(b, `,"version":`...), etag(u.Version))
	b = append(b, "}}"...)
	attrs := bytes.TrimSpace(u.SCIM)
	if len(attrs) > 2 { // a non-empty object: {"k":...}
		b = append(append(b[:len(b)-1], ','), attrs[1:]...)
	}
	return b, true, nil
}

// appendJSONString appends v as a JSON string, as encoding/json writes it:
// printable ASCII that needs no escaping as is, anything else through
// json.Marshal (HTML and control characters escaped, invalid UTF-8
// replaced).
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(v)
			if err != nil { // a string always marshals
				panic(err)
			}
			return append(b, q...)
		}
	}
	return append(append(append(b, '"'), v...), '"')
}

// renderGroup returns the SCIM representation of a managed group; members
// are listed only when asked for, since they cost a lookup each.
func (h *Handler) renderGroup(tx store.Tx, g store.Group, withMembers bool) (map[string]any, error) {
	doc := map[string]any{
		"id":          g.ID,
		"schemas":     []string{groupURN},
		"displayName": g.Name,
		"meta":        meta("Group", h.location("Groups", g.ID), g.Created, g.Updated, g.Version),
	}
	if g.ExternalID != "" {
		doc["externalId"] = g.ExternalID
	}
	if !withMembers {
		return doc, nil
	}
	members := []any{}
	for uid := range store.Members(tx, g.ID) {
		u, err := tx.User(uid)
		if err != nil {
			return nil, err
		}
		members = append(members, map[string]any{"value": u.ID, "display": u.Login,
			"$ref": h.location("Users", u.ID), "type": "User"})
	}
	doc["members"] = members
	return doc, nil
}

// renderGroupHaving renders g for evaluating a filter that names its
// members only by id (memberValues): its members are those of ids that
// belong to it, each read by one membership lookup.
func (h *Handler) renderGroupHaving(tx store.Tx, g store.Group, ids []string) (map[string]any, error) {
	doc, err := h.renderGroup(tx, g, false)
	if err != nil {
		return nil, err
	}
	members := []any{}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		in, err := store.IsMember(tx, g.ID, id)
		if err != nil {
			return nil, err
		}
		if in {
			members = append(members, map[string]any{"value": id, "type": "User"})
		}
	}
	doc["members"] = members
	return doc, nil
}

// groupMember is one member as a group renders it (keys in the order
// encoding/json gives a map's: the same bytes as renderGroup's).
type groupMember struct {
	Ref     string `json:"$ref"`
	Display string `json:"display"`
	Type    string `json:"type"`
	Value   string `json:"value"`
}

// groupJSON renders g without its members, byte for byte as encoding/json
// renders renderGroup's document (keys sorted), without building it.
func (h *Handler) groupJSON(g store.Group) json.RawMessage {
	b := make([]byte, 0, 320+len(g.Name))
	b = appendJSONString(append(b, `{"displayName":`...), g.Name)
	if g.ExternalID != "" {
		b = appendJSONString(append(b, `,"externalId":`...), g.ExternalID)
	}
	b = appendJSONString(append(b, `,"id":`...), g.ID)
	b = g.Created.AppendFormat(append(b, `,"meta":{"created":"`...), time.RFC3339)
	b = g.Updated.AppendFormat(append(b, `","lastModified":"`...), time.RFC3339)
	b = appendJSONString(append(b, `","location":`...), h.location("Groups", g.ID))
	b = appendJSONString(append(b, `,"resourceType":"Group","version":`...), etag(g.Version))
	return append(b, `},"schemas":["`+groupURN+`"]}`...)
}

// streamGroup writes g, members included, as renderGroup and writeJSON
// would, but a member at a time: memory does not grow with the group. The
// status is sent before the members are read, so a member that cannot be
// read aborts the connection rather than finishing a wrong answer.
// It reports whether it began the answer.
func (h *Handler) streamGroup(w http.ResponseWriter, tx store.Tx, g store.Group) (bool, error) {
	head := h.groupJSON(g)
	// Keys are sorted: members go right before meta, whose key is the only
	// place the unescaped sequence can appear.
	at := bytes.Index(head, []byte(`,"meta":`))
	w.Header().Set("ETag", etag(g.Version))
	setContentType(w)
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.Write(head[:at])
	bw.WriteString(`,"members":[`)
	n := 0
	for uid := range store.Members(tx, g.ID) {
		u, err := tx.User(uid)
		if err != nil {
			h.log.Error("scim: a member of a group cannot be read", "group", g.ID, "user", uid, "err", err)
			panic(http.ErrAbortHandler)
		}
		raw, _ := json.Marshal(groupMember{h.location("Users", u.ID), u.Login, "User", u.ID})
		if n++; n > 1 {
			bw.WriteByte(',')
		}
		bw.Write(raw)
	}
	bw.WriteByte(']')
	bw.Write(head[at:])
	bw.WriteByte('\n')
	return true, bw.Flush()
}

// get serves GET /Users/{id} and GET /Groups/{id}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request, endpoint, id string) {
	proj, err := newProjection(r.URL.Query())
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	var doc map[string]any
	var raw json.RawMessage
	var version uint64
	streamed := false
	err = h.store.View(r.Context(), func(tx store.Tx) error {
		if endpoint == "Users" {
			u, err := tx.User(id)
			if err != nil || !u.Managed {
				return notFound(id)
			}
			version = u.Version
			if proj.empty() {
				var ok bool
				if raw, ok, err = h.userJSON(tx, u); ok || err != nil {
					return err
				}
			}
			doc, err = h.renderUser(tx, u, true)
			return err
		}
		g, err := tx.Group(id)
		if err != nil || !g.Managed {
			return notFound(id)
		}
		version = g.Version
		switch {
		case proj.empty():
			streamed, err = h.streamGroup(w, tx, g)
			return err
		case proj.onlyExcludes("members"): // as Entra ID asks
			raw = h.groupJSON(g)
			return nil
		}
		doc, err = h.renderGroup(tx, g, proj.wants("members"))
		return err
	})
	if streamed {
		return // the answer is sent; a write error means the client went away
	}
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	w.Header().Set("ETag", etag(version))
	if raw != nil {
		setContentType(w)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(raw)
		return
	}
	writeJSON(w, http.StatusOK, proj.apply(doc))
}

// listParams are the query parameters of a list request.
type listParams struct {
	expr       filter.Expression
	startIndex int
	count      int
	sort       sortSpec
	proj       projection
}

func parseListParams(q url.Values, endpoint string) (listParams, error) {
	p := listParams{startIndex: 1, count: defaultCount}
	for _, x := range []struct {
		name string
		dst  *int
	}{{"startIndex", &p.startIndex}, {"count", &p.count}} {
		if s := strings.TrimSpace(q.Get(x.name)); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				return p, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an integer", x.name)
			}
			*x.dst = n
		}
	}
	p.startIndex = max(p.startIndex, 1)
	p.count = min(max(p.count, 0), maxCount)
	if f := q.Get("filter"); strings.TrimSpace(f) != "" {
		expr, err := parseFilter(f)
		if err != nil {
			return p, badRequest(scimerrors.ScimTypeInvalidFilter, "the filter %q is not valid SCIM filter syntax", f)
		}
		attrs := userAttrs
		if endpoint == "Groups" {
			attrs = groupAttrs
		}
		if err := checkOrdering(expr, attrs); err != nil {
			return p, err
		}
		p.expr = expr
	}
	var err error
	if p.sort, err = parseSort(q.Get("sortBy"), q.Get("sortOrder"), endpoint); err != nil {
		return p, err
	}
	p.proj, err = newProjection(q)
	return p, err
}

// list serves GET /Users and GET /Groups (and POST /.search): filter, sort
// (creation order by default, stable across pages), 1-based paging, and
// itemsPerPage equal to what is returned.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, q url.Values, endpoint string) {
	p, err := parseListParams(q, endpoint)
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	resources := []any{}
	total := 0
	// Filters are evaluated on a light document (no groups or members unless
	// the filter names them); the page's resources are rendered in full.
	deep := p.expr != nil && mentions(p.expr, "groups", "members")
	// A filter that is exactly one indexed equality is answered by the index.
	evaluate := p.expr != nil
	// byIndex: an indexed equality names the candidates (eachUser).
	hi, byIndex := hint(p.expr)
	byIndex = byIndex && indexed(endpoint, hi.attr)
	if byIndex && hi.exact {
		evaluate = false
	}
	// So is one comparison of userName or of active, by its test (see
	// eachUser).
	login, active := loginTest(p.expr), activeTest(p.expr)
	if _, one := p.expr.(*filter.AttributeExpression); one && endpoint == "Users" && (login != nil || active != nil) {
		evaluate = false
	}
	// A sort that follows an index streams; any other one collects the
	// matches and sorts them (also when an indexed equality leaves few).
	streamed := p.sort.by == "" || p.sort.streamed(endpoint) && !byIndex
	// Without a filter, totalResults is the managed-user count: the walk stops
	// once the page is full.
	counted := p.expr == nil && endpoint == "Users" && streamed
	var items []sortItem
	err = h.store.View(r.Context(), func(tx store.Tx) error {
		// render(false) is for evaluating the filter, render(true) for output.
		output := func(render func(output bool) (map[string]any, error), fast func() (json.RawMessage, bool, error)) (any, error) {
			if fast != nil && (p.proj.empty() || endpoint == "Groups" && p.proj.onlyExcludes("members")) {
				raw, ok, err := fast()
				if err != nil || ok {
					return raw, err
				}
			}
			d, err := render(true)
			if err != nil {
				return nil, err
			}
			return p.proj.apply(d), nil
		}
		emit := func(render func(output bool) (map[string]any, error), fast func() (json.RawMessage, bool, error), key func(map[string]any) (string, bool), id string) (bool, error) {
			var light map[string]any
			if evaluate || !streamed {
				d, err := render(false)
				if err != nil {
					return false, err
				}
				if evaluate && !match(p.expr, d) {
					return true, nil
				}
				light = d
			}
			total++
			if !streamed {
				k, has := key(light)
				items = append(items, sortItem{key: k, has: has, id: id, render: func() (any, error) { return output(render, fast) }})
				return true, nil
			}
			if counted && len(resources) >= p.count {
				return false, nil
			}
			if total >= p.startIndex && len(resources) < p.count {
				res, err := output(render, fast)
				if err != nil {
					return false, err
				}
				resources = append(resources, res)
			}
			return true, nil
		}
		if endpoint == "Users" {
			// An indexed equality names its candidates: no walk is
			// prepared.
			var src iter.Seq2[store.User, error]
			var test func(store.User) bool
			if !byIndex {
				src, test = h.userSource(tx, p, streamed), every(login, active, emailTest(p.expr))
			}
			err := h.eachUser(tx, byIndex, hi, test, src, func(u store.User) (bool, error) {
				return emit(func(output bool) (map[string]any, error) { return h.renderUser(tx, u, output || deep) },
					func() (json.RawMessage, bool, error) { return h.userJSON(tx, u) },
					func(d map[string]any) (string, bool) { return userSortKey(u, d, p.sort.by) }, u.ID)
			})
			if err == nil && counted {
				total, err = tx.CountManagedUsers()
			}
			if err != nil || streamed {
				return err
			}
		} else {
			var src iter.Seq2[store.Group, error] // none when an indexed equality names the candidates
			switch attr, prefix, ok := prefixHint(endpoint, p.expr); {
			case byIndex:
			case ok && (!streamed || p.sort.by == "" || p.sort.by == attr):
				src = byIDs(byPrefix(tx, prefixIndexes[endpoint][attr], prefix, streamed && p.sort.by == ""), tx.Group)
			case streamed && p.sort.by == "displayname":
				src = tx.GroupsByName()
			default:
				src = tx.Groups("")
			}
			// A filter that names members only by id is evaluated on those
			// of its ids that are members, not on every member.
			ids, byID := memberValues(p.expr)
			err := h.eachGroup(tx, byIndex, hi, src, func(g store.Group) (bool, error) {
				return emit(func(output bool) (map[string]any, error) {
					if !output && deep && byID {
						return h.renderGroupHaving(tx, g, ids)
					}
					return h.renderGroup(tx, g, output && p.proj.wants("members") || !output && deep)
				}, func() (json.RawMessage, bool, error) {
					if p.proj.wants("members") {
						return nil, false, nil
					}
					return h.groupJSON(g), true, nil
				}, func(map[string]any) (string, bool) { return groupSortKey(g, p.sort.by) }, g.ID)
			})
			if err != nil || streamed {
				return err
			}
		}
		sortItems(items, p.sort.desc)
		for i := p.startIndex - 1; i < len(items) && len(resources) < p.count; i++ {
			res, err := items[i].render()
			if err != nil {
				return err
			}
			resources = append(resources, res)
		}
		return nil
	})
	if err != nil {
		writeError(w, h.asScim(err))
		return
	}
	writeList(w, resources, p.startIndex, total)
}

// userSource is what a list of users without an indexed equality walks:
// every user in the order the list wants, or the range of an ordered index
// for userName, displayName or externalId sw "x", or the users holding the
// trigrams of a text every match contains (co, ew or eq on userName or
// displayName, a comparison of an e-mail address: see containsHint), in id
// order. The filter is still evaluated on each candidate.
func (h *Handler) userSource(tx store.Tx, p listParams, streamed bool) iter.Seq2[store.User, error] {
	const endpoint = "Users"
	if attr, prefix, ok := prefixHint(endpoint, p.expr); ok && (!streamed || p.sort.by == "" || p.sort.by == attr) {
		return store.ReadUsers(tx, byPrefix(tx, prefixIndexes[endpoint][attr], prefix, streamed && p.sort.by == ""))
	}
	if grams := containsHint(endpoint, p.expr); grams != nil && (!streamed || p.sort.by == "") {
		return tx.UsersWithGrams(grams)
	}
	switch {
	case streamed && p.sort.by == "username":
		return tx.UsersByLogin()
	case streamed && p.sort.by == "displayname":
		return tx.UsersByName()
	}
	return tx.Users("")
}

// writeList writes a ListResponse; resources already rendered as JSON are
// copied as they are rather than re-encoded.
func writeList(w http.ResponseWriter, resources []any, startIndex, total int) {
	b := bytes.NewBufferString(`{"Resources":[`)
	for i, r := range resources {
		if i > 0 {
			b.WriteByte(',')
		}
		raw, ok := r.(json.RawMessage)
		if !ok {
			var err error
			if raw, err = json.Marshal(r); err != nil {
				writeError(w, scimerrors.ScimErrorInternal)
				return
			}
		}
		b.Write(raw)
	}
	out := strconv.AppendInt(append(b.Bytes(), `],"itemsPerPage":`...), int64(len(resources)), 10)
	out = strconv.AppendInt(append(out, `,"schemas":["`+listURN+`"],"startIndex":`...), int64(startIndex), 10)
	out = append(strconv.AppendInt(append(out, `,"totalResults":`...), int64(total), 10), "}\n"...)
	setContentType(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

// indexed reports whether an endpoint has an index for an attribute.
func indexed(endpoint, attr string) bool {
	switch attr {
	case "id", "externalid":
		return true
	case "username":
		return endpoint == "Users"
	case "displayname":
		return endpoint == "Groups"
	}
	return false
}

// byPrefix yields the ids of the resources whose attribute of index starts
// with prefix: in the index's order, or with byID in creation order, the
// order of an unsorted list.
func byPrefix(tx store.Tx, index store.Index, prefix string, byID bool) iter.Seq[string] {
	ids := slices.Collect(tx.IDsByPrefix(index, prefix))
	if byID {
		slices.Sort(ids)
	}
	return slices.Values(ids)
}

// byIDs yields the resources of ids, in their order.
func byIDs[T any](ids iter.Seq[string], get func(string) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for id := range ids {
			v, err := get(id)
			if !yield(v, err) || err != nil {
				return
			}
		}
	}
}

// eachUser walks the managed users a filter may match: those of hi, an
// indexed equality the filter implies, when byIndex; else src, skipping
// users that fail the comparison of userName, active or an e-mail address
// the filter implies (test, from loginTest, activeTest and emailTest; nil:
// none) before they are rendered.
func (h *Handler) eachUser(tx store.Tx, byIndex bool, hi indexHint, test func(store.User) bool, src iter.Seq2[store.User, error], fn func(store.User) (bool, error)) error {
	var candidates []store.User
	if byIndex {
		switch hi.attr {
		case "id":
			if u, err := tx.User(hi.value); err == nil {
				candidates = append(candidates, u)
			}
		case "username":
			if u, err := tx.UserByLogin(hi.value); err == nil {
				candidates = append(candidates, u)
			}
		case "externalid":
			us, err := tx.UsersByExternalID(hi.value)
			if err != nil {
				return err
			}
			candidates = us
		}
		for _, u := range candidates {
			if !u.Managed {
				continue
			}
			if more, err := fn(u); err != nil || !more {
				return err
			}
		}
		return nil
	}
	for u, err := range src {
		if err != nil {
			return err
		}
		if !u.Managed || test != nil && !test(u) {
			continue
		}
		if more, err := fn(u); err != nil || !more {
			return err
		}
	}
	return nil
}

// eachGroup is eachUser for managed groups.
func (h *Handler) eachGroup(tx store.Tx, byIndex bool, hi indexHint, src iter.Seq2[store.Group, error], fn func(store.Group) (bool, error)) error {
	if byIndex {
		var candidates []store.Group
		switch hi.attr {
		case "id":
			if g, err := tx.Group(hi.value); err == nil {
				candidates = append(candidates, g)
			}
		case "displayname":
			if g, err := tx.GroupByName(hi.value); err == nil {
				candidates = append(candidates, g)
			}
		case "externalid":
			gs, err := tx.GroupsByExternalID(hi.value)
			if err != nil {
				return err
			}
			candidates = gs
		}
		for _, g := range candidates {
			if !g.Managed {
				continue
			}
			if more, err := fn(g); err != nil || !more {
				return err
			}
		}
		return nil
	}
	for g, err := range src {
		if err != nil {
			return err
		}
		if !g.Managed {
			continue
		}
		if more, err := fn(g); err != nil || !more {
			return err
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	setContentType(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
