package webapi

import (
	"context"
	"net/http"
	"time"

	"github.com/scimgate/scimgate/store"
)

// DefaultVersion is the SonarQube version whose Web API scimgate implements:
// what api/server/version, api/system/status and api/system/info report
// unless configured otherwise (clients such as the Terraform provider pick
// their requests by it).
const DefaultVersion = "10.7.0.96327"

var systemController = controller{Path: "api/system", Since: "5.1", Desc: "Get system details: version, status, health.", Action: []action{
	{Key: "info", Since: "5.1", Access: admin, Handle: systemInfo,
		Desc: "Get system information: health, and the System section with the server id, version and edition. Requires Administer System permission."},
	{Key: "status", Since: "5.2", Access: anyone, Handle: systemStatus,
		Desc: "Get the state of the server: STARTING, UP or DOWN (the store does not answer). The id and version are returned to logged-in callers only."},
	{Key: "health", Since: "6.6", Access: admin, Handle: systemHealth,
		Desc: "Get the health of the server: GREEN, or RED with causes when the store does not answer. Requires Administer System permission."},
	{Key: "ping", Since: "6.3", Access: anyone, Handle: func(cl *call) error { return cl.c.String(http.StatusOK, "pong") },
		Desc: "Answers pong (text/plain)."},
}}

var serverController = controller{Path: "api/server", Since: "2.10", Desc: "Get the server version.", Action: []action{
	{Key: "version", Since: "2.10", Access: anyone, Handle: func(cl *call) error { return cl.c.String(http.StatusOK, cl.api.Version) },
		Desc: "Version of the SonarQube Web API implemented (text/plain)."},
}}

// serverID is the stable id of this store: its default group's id, created
// on first start.
func (cl *call) serverID() (string, error) {
	var id string
	err := cl.view(func(tx store.Tx) error {
		g, err := tx.GroupByName(store.DefaultGroup)
		id = g.ID
		return err
	})
	return id, err
}

// storeUp reports whether the store answers within a second.
func (cl *call) storeUp() bool {
	ctx, cancel := context.WithTimeout(cl.c.Request().Context(), time.Second)
	defer cancel()
	return cl.api.store.View(ctx, func(tx store.Tx) error { _, err := tx.CountUsers(); return err }) == nil
}

func systemInfo(cl *call) error {
	id, err := cl.serverID()
	if err != nil {
		return err
	}
	health, causes := "GREEN", []string{}
	if !cl.storeUp() {
		health, causes = "RED", []string{"The store does not answer"}
	}
	return cl.json(map[string]any{"Health": health, "Health Causes": causes, "System": map[string]any{
		"Server ID": id, "Version": cl.api.Version, "Edition": cl.api.Edition,
		"High Availability": false, "Force authentication": true,
		"External Users and Groups Provisioning": "SCIM",
	}})
}

func systemStatus(cl *call) error {
	status := "UP"
	if !cl.storeUp() {
		return cl.json(map[string]string{"status": "DOWN"})
	}
	if cl.caller == nil {
		return cl.json(map[string]string{"status": status})
	}
	id, err := cl.serverID()
	if err != nil {
		return err
	}
	return cl.json(map[string]string{"id": id, "version": cl.api.Version, "status": status})
}

func systemHealth(cl *call) error {
	type cause struct {
		Message string `json:"message"`
	}
	if !cl.storeUp() {
		return cl.json(map[string]any{"health": "RED", "causes": []cause{{"The store does not answer"}}})
	}
	return cl.json(map[string]any{"health": "GREEN", "causes": []cause{}})
}
