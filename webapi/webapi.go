// Package webapi serves the SonarQube-compatible Web API (/api/users,
// /api/user_groups, /api/permissions, /api/user_tokens, ...) over the store.
package webapi

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
)

// API serves the Web API.
type API struct {
	store store.Store
	log   *slog.Logger
}

// New builds the Web API over s.
func New(s store.Store, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{store: s, log: log}
}

// Register mounts every action on e.
func (a *API) Register(e *echo.Echo) {}
