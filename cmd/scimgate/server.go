package main

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/scimgate/scimgate/scim"
	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/webapi"
)

// newServer wires both APIs over one store.
func newServer(st store.Store, baseURL string, log *slog.Logger) (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	s, err := scim.New(st, scim.Options{BaseURL: baseURL + scim.Prefix, Logger: log})
	if err != nil {
		return nil, err
	}
	s.Register(e)
	webapi.New(st, log).Register(e)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	return e, nil
}
