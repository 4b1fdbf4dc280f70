// Package webapi serves the SonarQube-compatible Web API (api/users,
// api/user_groups, api/permissions, api/user_tokens, ...) over the store:
// form-encoded POSTs, SonarQube's messages and its {"errors":[...]} format.
package webapi

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
)

// API serves the Web API.
type API struct {
	// Version is the SonarQube version reported (DefaultVersion unless set).
	Version string
	// Edition is the edition api/system/info reports ("Community" unless set).
	Edition     string
	store       store.Store
	log         *slog.Logger
	auth        *auth.Authenticator
	controllers []controller
}

// New builds the Web API over s; auth checks credentials under the
// instance's account policy. Client addresses (for trusted hosts) come from
// echo's RealIP: set the Echo's IPExtractor to match the deployment.
func New(s store.Store, authn *auth.Authenticator, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	if authn == nil {
		authn = auth.New(s, store.DefaultPolicy(), nil)
	}
	return &API{Version: DefaultVersion, Edition: "Community", store: s, log: log, auth: authn, controllers: []controller{authenticationController,
		componentsController, organizationsController, permissionsController, projectBadgesController, projectTagsController,
		projectsController, serverController, systemController, userGroupsController, userTokensController, usersController,
		webservicesController, scimgateController}}
}

// Register mounts every action on e, and answers unknown api/ paths the
// way SonarQube does.
func (a *API) Register(e *echo.Echo) {
	for _, ctl := range a.controllers {
		a.register(e, ctl)
	}
	e.Any("/api/*", func(c echo.Context) error {
		return writeErrors(c, 404, "Unknown url : "+c.Request().URL.Path)
	})
}
