package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// AuditEntry records one change, or one refused attempt, and who made it.
type AuditEntry struct {
	Seq      uint64
	Time     time.Time
	Actor    string // login of the caller; empty for the system
	Token    string // name of the caller's token, when it came with one (SCIM always does)
	API      string // scim, webapi, cli or system
	Op       string // the request, e.g. "PATCH /Users" or "api/users/deactivate"
	Kind     string // user, group, membership, permission, token, project, template or organization
	Action   string // created, updated, deleted, added, removed, granted, revoked, refused, unlocked
	Resource string
	Name     string // login or group name
	Before   *State
	After    *State
	Detail   string // permission, member, token name or refusal message
	// Truncated: a field was longer than its bound (maxAuditField,
	// maxAuditDetail) and was cut.
	Truncated bool
}

// Bounds of recorded fields: a refused request may carry a megabyte of
// login, and the trail keeps a year.
const (
	maxAuditField  = MaxNameLength // actor, op, resource, name
	maxAuditDetail = 1024
)

// bound cuts every field to its bound, marking the entry when it does.
func (e *AuditEntry) bound() {
	for _, f := range []*string{&e.Actor, &e.Token, &e.Op, &e.Resource, &e.Name} {
		e.Truncated = cut(f, maxAuditField) || e.Truncated
	}
	e.Truncated = cut(&e.Detail, maxAuditDetail) || e.Truncated
}

// cut shortens *s to at most n runes of valid UTF-8 without NUL (which
// PostgreSQL's text refuses; U+FFFD stands for it as for invalid bytes) and
// reports whether it shortened it.
func cut(s *string, n int) bool {
	if strings.IndexByte(*s, 0) >= 0 {
		*s = strings.ReplaceAll(*s, "\x00", "\uFFFD")
	}
	if len(*s) <= n && utf8.ValidString(*s) {
		return false
	}
	r := []rune(strings.ToValidUTF8(*s, "\uFFFD"))
	if len(r) <= n {
		*s = string(r)
		return true
	}
	*s = string(r[:n])
	return true
}

// State is what the audit trail keeps of a user before and after a change.
type State struct {
	Active  bool
	Managed bool
}

// Actor says who is acting and through which API; it travels in the context
// given to Update.
type Actor struct {
	Login string
	Token string // the name of the token the caller used, if any
	API   string
	Op    string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries (API "system" when none).
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	return Actor{API: "system"}
}

// Audited wraps s so that every Update records, in the same transaction,
// each change it makes. onCommit, when set, sees the entries of every
// committed transaction (for metrics).
func Audited(s Store, onCommit func([]AuditEntry)) Store {
	return &auditedStore{Store: s, onCommit: onCommit}
}

type auditedStore struct {
	Store
	onCommit func([]AuditEntry)
	refusals refusalLimiter
}

// BatchesWrites is the wrapped store's.
func (a *auditedStore) BatchesWrites() bool { return BatchesWrites(a.Store) }

func (a *auditedStore) Update(ctx context.Context, fn func(Tx) error) error {
	actor := ActorFrom(ctx)
	var entries []AuditEntry
	err := a.Store.Update(ctx, func(tx Tx) error {
		at := &auditTx{Tx: tx, actor: actor, now: Now()}
		if err := fn(at); err != nil {
			return err
		}
		for i := range at.entries {
			at.entries[i].bound()
			if err := tx.AppendAudit(&at.entries[i]); err != nil {
				return err
			}
		}
		entries = at.entries // assigned, not accumulated: Update may retry fn
		return nil
	})
	if err == nil && a.onCommit != nil && len(entries) > 0 {
		a.onCommit(entries)
	}
	return err
}

// RecordRefusal writes an entry for a refused attempt in its own transaction
// (the attempt's own transaction was rolled back). On an audited store
// (Audited), one caller's refusals are limited to refusalBurst a minute: the
// others are not written but counted, and the count goes into the caller's
// next recorded refusal, so a loop of refused requests cannot grow the store
// without bound.
func RecordRefusal(ctx context.Context, s Store, kind, name, msg string) error {
	if a, ok := s.(*auditedStore); ok {
		record, suppressed := a.refusals.allow(ActorFrom(ctx), Now())
		if !record {
			return nil
		}
		if suppressed > 0 {
			msg = fmt.Sprintf("%s (and %d more refusals of this caller not recorded)", msg, suppressed)
		}
	}
	return RecordEvent(ctx, s, kind, "refused", name, msg)
}

// RecordEvent writes an entry, in its own transaction, for an action that
// changes no stored record (a refusal, an unlock).
func RecordEvent(ctx context.Context, s Store, kind, action, name, detail string) error {
	actor := ActorFrom(ctx)
	e := AuditEntry{Time: Now(), Actor: actor.Login, Token: actor.Token, API: actor.API, Op: actor.Op, Kind: kind, Action: action, Name: name, Detail: detail}
	e.bound()
	return s.Update(ctx, func(tx Tx) error {
		entry := e // AppendAudit assigns Seq; Update may run this twice
		return tx.AppendAudit(&entry)
	})
}

// refusalBurst is how many refusals of one caller are recorded a minute.
const refusalBurst = 20

// maxRefusalCallers bounds the callers tracked at once; beyond it the table
// starts over (at worst a few more entries get written).
const maxRefusalCallers = 10000

// refusalLimiter counts the refusals of each caller in one-minute windows.
type refusalLimiter struct {
	mu sync.Mutex
	m  map[Actor]*refusalWindow
}

type refusalWindow struct {
	start      time.Time
	recorded   int
	suppressed int
}

// allow reports whether a refusal of actor is recorded now, and how many of
// its refusals were left out since the last one recorded.
func (l *refusalLimiter) allow(actor Actor, now time.Time) (bool, int) {
	actor.Op = "" // one caller, whatever it asks
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= maxRefusalCallers {
		l.m = map[Actor]*refusalWindow{}
	}
	w := l.m[actor]
	if w == nil {
		w = &refusalWindow{start: now}
		l.m[actor] = w
	}
	if now.Sub(w.start) >= time.Minute {
		w.start, w.recorded = now, 0
	}
	if w.recorded >= refusalBurst {
		w.suppressed++
		return false, 0
	}
	w.recorded++
	suppressed := w.suppressed
	w.suppressed = 0
	return true, suppressed
}

// auditTx records the changes made through it.
type auditTx struct {
	Tx
	actor   Actor
	now     time.Time
	entries []AuditEntry
}

func (t *auditTx) add(kind, action, id, name, detail string, before, after *State) {
	t.entries = append(t.entries, AuditEntry{Time: t.now, Actor: t.actor.Login, Token: t.actor.Token, API: t.actor.API, Op: t.actor.Op,
		Kind: kind, Action: action, Resource: id, Name: name, Before: before, After: after, Detail: detail})
}

// creator is a transaction that records a creation without looking for an
// earlier version of the record (auditTx): a record with a new id has none,
// and looking it up would read the index page that every concurrent create
// writes, which serializable transactions would see as conflicts.
type creator interface {
	createUser(u User) error
}

func (t *auditTx) createUser(u User) error {
	if err := t.Tx.PutUser(u); err != nil {
		return err
	}
	t.add("user", "created", u.ID, u.Login, "", nil, &State{u.Active, u.Managed})
	return nil
}

func (t *auditTx) PutUser(u User) error {
	old, err := t.Tx.User(u.ID)
	if IsNotFound(err) {
		return t.createUser(u)
	}
	if err != nil {
		return err
	}
	if err := t.Tx.PutUser(u); err != nil {
		return err
	}
	if onlyLastConnection(old, u) {
		return nil // a sign-in, recorded at most hourly, is no change to audit
	}
	detail := ""
	if old.Login != u.Login {
		detail = "login " + old.Login + " -> " + u.Login
	}
	t.add("user", "updated", u.ID, u.Login, detail, &State{old.Active, old.Managed}, &State{u.Active, u.Managed})
	return nil
}

func (t *auditTx) PutGroup(g Group) error {
	old, err := t.Tx.Group(g.ID)
	if err != nil && !IsNotFound(err) {
		return err
	}
	if err := t.Tx.PutGroup(g); err != nil {
		return err
	}
	switch {
	case IsNotFound(err):
		t.add("group", "created", g.ID, g.Name, "", nil, &State{true, g.Managed})
	case old.Name != g.Name:
		t.add("group", "updated", g.ID, g.Name, "renamed from "+old.Name, nil, nil)
	case old.Description != g.Description || old.ExternalID != g.ExternalID:
		t.add("group", "updated", g.ID, g.Name, "", nil, nil)
	}
	return nil
}

func (t *auditTx) DeleteGroup(id string) error {
	g, err := t.Tx.Group(id)
	if err != nil {
		return err
	}
	if err := t.Tx.DeleteGroup(id); err != nil {
		return err
	}
	t.add("group", "deleted", id, g.Name, "", &State{true, g.Managed}, nil)
	return nil
}

func (t *auditTx) member(groupID, userID, action string, change func(string, string) error) error {
	was, err := t.Tx.IsMember(groupID, userID)
	if err != nil {
		return err
	}
	if was == (action == "added") {
		return nil // no change, nothing to record
	}
	if err := change(groupID, userID); err != nil {
		return err
	}
	g, _ := t.Tx.Group(groupID)
	u, _ := t.Tx.User(userID)
	t.add("membership", action, groupID, g.Name, "user "+u.Login, nil, nil)
	return nil
}

func (t *auditTx) AddMember(groupID, userID string) error {
	return t.member(groupID, userID, "added", t.Tx.AddMember)
}

func (t *auditTx) RemoveMember(groupID, userID string) error {
	return t.member(groupID, userID, "removed", t.Tx.RemoveMember)
}

func (t *auditTx) subjectName(s Subject) string {
	if s == (UserSubject(ProjectCreator)) {
		return "project creator"
	}
	if s.IsUser() {
		u, _ := t.Tx.User(s.ID)
		return u.Login
	}
	if s.ID == AnyoneGroup {
		return AnyoneGroup
	}
	g, _ := t.Tx.Group(s.ID)
	return g.Name
}

func (t *auditTx) permission(s Subject, perm PermKey, action string, change func(Subject, PermKey) error) error {
	held, err := t.Tx.Permissions(s)
	if err != nil {
		return err
	}
	if slices.Contains(held, perm) == (action == "granted") {
		return nil
	}
	if err := change(s, perm); err != nil {
		return err
	}
	kind := "group"
	if s.IsUser() {
		kind = "user"
	}
	t.add("permission", action, s.ID, t.subjectName(s), kind+" "+DescribePerm(t.Tx, perm), nil, nil)
	return nil
}

func (t *auditTx) Grant(s Subject, perm PermKey) error {
	return t.permission(s, perm, "granted", t.Tx.Grant)
}

func (t *auditTx) Revoke(s Subject, perm PermKey) error {
	return t.permission(s, perm, "revoked", t.Tx.Revoke)
}

func (t *auditTx) PutProject(p Project) error {
	_, err := t.Tx.Project(p.ID)
	if err := t.Tx.PutProject(p); err != nil {
		return err
	}
	t.add("project", createdOrUpdated(err), p.ID, p.Key, p.Visibility(), nil, nil)
	return nil
}

func (t *auditTx) DeleteProject(id string) error {
	p, _ := t.Tx.Project(id)
	if err := t.Tx.DeleteProject(id); err != nil {
		return err
	}
	t.add("project", "deleted", id, p.Key, "", nil, nil)
	return nil
}

func (t *auditTx) PutTemplate(tpl Template) error {
	_, err := t.Tx.Template(tpl.ID)
	if err := t.Tx.PutTemplate(tpl); err != nil {
		return err
	}
	t.add("template", createdOrUpdated(err), tpl.ID, tpl.Name, "", nil, nil)
	return nil
}

func (t *auditTx) DeleteTemplate(id string) error {
	tpl, _ := t.Tx.Template(id)
	if err := t.Tx.DeleteTemplate(id); err != nil {
		return err
	}
	t.add("template", "deleted", id, tpl.Name, "", nil, nil)
	return nil
}

func (t *auditTx) PutOrganization(o Organization) error {
	_, err := t.Tx.Organization(o.Key)
	if err := t.Tx.PutOrganization(o); err != nil {
		return err
	}
	t.add("organization", createdOrUpdated(err), o.Key, o.Key, "", nil, nil)
	return nil
}

// onlyLastConnection reports whether a and b differ at most in their last
// connection time.
func onlyLastConnection(a, b User) bool {
	a.LastConnection, b.LastConnection = nil, nil
	return reflect.DeepEqual(a, b)
}

// createdOrUpdated names a Put by whether the lookup before it failed.
func createdOrUpdated(lookup error) string {
	if lookup != nil {
		return "created"
	}
	return "updated"
}

func (t *auditTx) PutToken(tok Token) error {
	_, err := t.Tx.Token(tok.Hash)
	if err := t.Tx.PutToken(tok); err != nil {
		return err
	}
	if err == nil {
		return nil // an existing token's last use: no change to audit
	}
	u, _ := t.Tx.User(tok.UserID)
	t.add("token", "created", tok.UserID, u.Login, tok.Name, nil, nil)
	return nil
}

func (t *auditTx) DeleteToken(hash string) error {
	tok, err := t.Tx.Token(hash)
	if err != nil {
		return err
	}
	if err := t.Tx.DeleteToken(hash); err != nil {
		return err
	}
	u, _ := t.Tx.User(tok.UserID)
	t.add("token", "revoked", tok.UserID, u.Login, tok.Name, nil, nil)
	return nil
}

// PruneAudit deletes audit entries older than keep, in transactions of at
// most 10,000 deletions so writers are not held up, and returns how many
// it deleted.
func PruneAudit(ctx context.Context, s Store, keep time.Duration) (int, error) {
	cutoff := Now().Add(-keep)
	total := 0
	for {
		var n int
		err := s.Update(ctx, func(tx Tx) error {
			var err error
			n, err = tx.PruneAudit(cutoff, 10000)
			return err
		})
		total += n
		if err != nil || n < 10000 {
			return total, err
		}
	}
}
