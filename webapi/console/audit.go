package console

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/scimgate/scimgate/store"
)

type auditView struct {
	Name, API, Action, From, To string
	APIs, Actions               []string
	Entries                     []store.AuditEntry
	Pager                       pager
	Error                       string
}

// day reads a YYYY-MM-DD filter bound ("" for none).
func day(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// auditPage lists the trail newest first: by name (contained, any case),
// API, action (refused included) and a range of days (UTC, both included).
func auditPage(r *request) error {
	v := auditView{Name: r.QueryParam("name"), API: r.QueryParam("api"), Action: r.QueryParam("action"),
		From: r.QueryParam("from"), To: r.QueryParam("to"),
		APIs:    []string{"scim", "webapi", "console", "cli", "system"},
		Actions: []string{"created", "updated", "deleted", "added", "removed", "granted", "revoked", "refused", "unlocked"}}
	from, ok1 := day(v.From)
	to, ok2 := day(v.To)
	if !ok1 || !ok2 {
		v.Error = "Dates are YYYY-MM-DD."
		return r.render(http.StatusBadRequest, "audit", "Audit trail", "audit", v)
	}
	name := strings.ToLower(v.Name)
	w := window{page: r.pageNumber()}
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			if !to.IsZero() && !e.Time.Before(to.AddDate(0, 0, 1)) {
				continue
			}
			if !from.IsZero() && e.Time.Before(from) || w.past() {
				break // newest first: the rest is older still; or the page is full and a next one exists
			}
			if name != "" && !strings.Contains(strings.ToLower(e.Name), name) || v.API != "" && e.API != v.API ||
				v.Action != "" && e.Action != v.Action || !w.take() {
				continue
			}
			v.Entries = append(v.Entries, e)
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	v.Pager = w.pager(url.Values{"name": {v.Name}, "api": {v.API}, "action": {v.Action}, "from": {v.From}, "to": {v.To}}, -1)
	return r.render(http.StatusOK, "audit", "Audit trail", "audit", v)
}

// provisioning is what one SCIM token did in the last 24 hours.
type provisioning struct {
	Login, Token                              string
	LastChange                                time.Time
	LastUsed                                  *time.Time // the token's last connection (written at most hourly)
	Creates, Updates, Deactivations, Refusals int
	UserID                                    string
}

// provisioningPage answers "the IdP says it pushed but nothing changed":
// per token that provisioned through SCIM in the last 24 hours, when it
// last changed something and how many creates, updates, deactivations and
// refusals it made; and, for every administrator's token, when it was last
// used.
func provisioningPage(r *request) error {
	since := store.Now().Add(-24 * time.Hour)
	byToken := map[[2]string]*provisioning{}
	var idle []provisioning
	err := r.con.store.View(r.ctx(), func(tx store.Tx) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			if e.Time.Before(since) {
				break
			}
			if e.API != "scim" {
				continue
			}
			k := [2]string{e.Actor, e.Token}
			p := byToken[k]
			if p == nil {
				p = &provisioning{Login: e.Actor, Token: e.Token, LastChange: e.Time}
				byToken[k] = p
			}
			switch {
			case e.Action == "refused":
				p.Refusals++
			case e.Action == "created":
				p.Creates++
			case e.Kind == "user" && e.Before != nil && e.After != nil && e.Before.Active && !e.After.Active:
				p.Deactivations++
			default:
				p.Updates++
			}
		}
		// Every administrator's tokens: an IdP's token that did nothing in
		// 24 hours shows here with its last use.
		admins := map[string]bool{}
		for s := range tx.Holders(store.Global(store.PermAdmin)) {
			switch {
			case s.IsUser():
				admins[s.ID] = true
			case s.ID != store.AnyoneGroup:
				for id := range store.Members(tx, s.ID) {
					admins[id] = true
				}
			}
		}
		for u, err := range store.ReadUsers(tx, slices.Values(slices.Sorted(maps.Keys(admins)))) {
			if err != nil {
				return err
			}
			tokens, err := tx.Tokens(u.ID)
			if err != nil {
				return err
			}
			for _, t := range tokens {
				if t.Type != store.TokenUser && t.Type != "" {
					continue
				}
				if p := byToken[[2]string{u.Login, t.Name}]; p != nil {
					p.LastUsed, p.UserID = t.LastConnection, u.ID
					continue
				}
				idle = append(idle, provisioning{Login: u.Login, Token: t.Name, LastUsed: t.LastConnection, UserID: u.ID})
			}
		}
		return nil
	})
	if err != nil {
		return r.fail(err)
	}
	var active []provisioning
	for _, p := range byToken {
		active = append(active, *p)
	}
	slices.SortFunc(active, func(a, b provisioning) int { return b.LastChange.Compare(a.LastChange) })
	return r.render(http.StatusOK, "provisioning", "Provisioning status", "provisioning", struct {
		Active, Idle []provisioning
		Since        time.Time
	}{active, idle, since})
}
