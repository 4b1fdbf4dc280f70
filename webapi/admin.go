package webapi

import (
	"net/http"
	"time"

	"github.com/scimgate/scimgate/store"
)

// scimgateController holds scimgate's own administration actions, beside
// SonarQube's.
var scimgateController = controller{Path: "api/scimgate", Since: "1.0", Desc: "scimgate administration: audit trail, backups, account unlocking and project access checks.", Action: []action{
	{Key: "audit", Since: "1.0", Access: admin, Handle: auditTrail,
		Desc: "Audit trail, newest first: every change (who, which API, operation, resource, active/managed before and after) and every refused attempt. Requires Administer System permission.",
		Params: []param{
			{Key: "name", Desc: "Only entries about this login or group name"},
			{Key: "ps", Desc: "Number of entries, at most 1000", Default: "100", Int: true, MaxValue: 1000},
		}},
	{Key: "backup", Since: "1.0", Access: admin, Handle: backup,
		Desc: "Download a consistent copy of the store, taken while the server keeps serving. Requires Administer System permission."},
	{Key: "unlock", Post: true, Since: "1.1", Access: userAdmin, Handle: unlockUser,
		Desc:   "Lift the password lockout of a user at once (users/search shows locked users to administrators). Requires Administer System permission, or Administer Users over a user holding no more than the caller.",
		Params: []param{{Key: "login", Desc: "User login", Required: true}}},
	accessAction,
}}

func unlockUser(cl *call) error {
	return cl.changed(cl.api.auth.Unlock(cl.c.Request().Context(), cl.callerOf(), cl.str("login")))
}

// auditJSON is an audit entry as api/scimgate/audit answers it.
type auditJSON struct {
	Seq       uint64     `json:"seq"`
	Time      time.Time  `json:"time"`
	Actor     string     `json:"actor,omitempty"`
	API       string     `json:"api"`
	Op        string     `json:"op"`
	Kind      string     `json:"kind"`
	Action    string     `json:"action"`
	Resource  string     `json:"resource,omitempty"`
	Name      string     `json:"name,omitempty"`
	Before    *stateJSON `json:"before,omitempty"`
	After     *stateJSON `json:"after,omitempty"`
	Detail    string     `json:"detail,omitempty"`
	Truncated bool       `json:"truncated,omitempty"`
}

type stateJSON struct {
	Active  bool `json:"active"`
	Managed bool `json:"managed"`
}

func newAuditJSON(e store.AuditEntry) auditJSON {
	return auditJSON{e.Seq, e.Time, e.Actor, e.API, e.Op, e.Kind, e.Action, e.Resource, e.Name,
		(*stateJSON)(e.Before), (*stateJSON)(e.After), e.Detail, e.Truncated}
}

func auditTrail(cl *call) error {
	name, limit := cl.str("name"), cl.int("ps")
	entries := []auditJSON{}
	err := cl.view(func(tx store.Tx) error {
		for e, err := range tx.Audit() {
			if err != nil {
				return err
			}
			if name == "" || e.Name == name {
				entries = append(entries, newAuditJSON(e))
			}
			if len(entries) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"entries": entries})
}

func backup(cl *call) error {
	w := cl.c.Response()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="scimgate-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
	// A large store takes longer than the server's write timeout: this
	// answer alone has none (the client's disconnect still ends it).
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
		cl.api.log.Warn("backup: cannot lift the write deadline", "err", err)
	}
	w.WriteHeader(http.StatusOK)
	_, err := cl.api.store.Backup(cl.c.Request().Context(), w)
	if err != nil {
		cl.api.log.Error("backup interrupted", "err", err)
	}
	return nil // the status is sent; a broken stream is seen by the client
}
