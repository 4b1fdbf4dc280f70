package webapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
)

// messages is a 400 carrying several messages, as SonarQube's UserUpdater
// reports every failed check at once.
type messages []string

func (m messages) Error() string { return m[0] }

func invalid(format string, args ...any) error {
	return store.Errorf(store.EInvalid, format, args...)
}

func notFound(format string, args ...any) error {
	return store.Errorf(store.ENotFound, format, args...)
}

func forbidden() error { return store.Errorf(store.EForbidden, "Insufficient privileges") }

// Messages SonarQube uses for edits of externally managed users and groups.
const (
	msgExternalPasswd = "Password cannot be changed when external authentication is used"
	msgInternal       = "An error has occurred. Please contact your administrator"
)

// RetryAfter is the Retry-After, in seconds, of an answer saying the store
// cannot write now.
const RetryAfter = "5"

type errorBody struct {
	Errors []errorMsg `json:"errors"`
}

type errorMsg struct {
	Msg string `json:"msg"`
}

// refusalKey is where an answer's refusal message waits, in the request's
// echo context, for serve to audit it.
const refusalKey = "scimgate.refusal"

func writeErrors(c echo.Context, status int, msgs ...string) error {
	if status >= 400 && status < 500 && len(msgs) > 0 {
		c.Set(refusalKey, msgs[0])
	}
	body := errorBody{Errors: make([]errorMsg, len(msgs))}
	for i, m := range msgs {
		body.Errors[i].Msg = m
	}
	return c.JSON(status, body)
}

// fail maps an action's error to SonarQube's status and body, in one place.
func (a *API) fail(c echo.Context, err error) error {
	if err == nil {
		return nil
	}
	var many messages
	if errors.As(err, &many) {
		return writeErrors(c, http.StatusBadRequest, many...)
	}
	var se *store.Error
	if errors.As(err, &se) && len(se.All) > 1 {
		return writeErrors(c, http.StatusBadRequest, se.All...)
	}
	msg := store.ErrorMessage(err)
	switch store.ErrorCode(err) {
	case store.EInvalid, store.EConflict, store.EManaged:
		return writeErrors(c, http.StatusBadRequest, msg)
	case store.ENotFound:
		return writeErrors(c, http.StatusNotFound, msg)
	case store.EForbidden:
		return writeErrors(c, http.StatusForbidden, msg)
	case store.EUnauthenticated:
		return writeErrors(c, http.StatusUnauthorized, msg)
	case store.EUnavailable:
		c.Response().Header().Set("Retry-After", RetryAfter)
		return writeErrors(c, http.StatusServiceUnavailable, msg)
	}
	if errors.Is(err, context.Canceled) {
		a.log.Debug("webapi: the client went away", "path", c.Path(), "err", err) // nobody reads the answer
	} else {
		a.log.Error("webapi: internal error", "path", c.Path(), "err", err)
	}
	return writeErrors(c, http.StatusInternalServerError, msgInternal)
}
