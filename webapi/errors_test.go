package webapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
	"github.com/scimgate/scimgate/webapi"
)

// A store call that fails because the client went away (its request's
// context cancelled) is answered 500 for nobody and logged at debug, not
// as an internal error that would alert an operator.
func TestClientGoneIsNotLoggedAsAnError(t *testing.T) {
	st := bolttest.MustOpen(t)
	if _, _, err := store.Bootstrap(context.Background(), st, adminPass); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder // written by the request, served in this goroutine
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := auth.New(st, store.DefaultPolicy(), auth.NewLockout(5, time.Minute))
	defer a.Wait()
	ec := echo.New()
	webapi.New(st, a, log).Register(ec)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("GET", "/api/users/search", nil).WithContext(ctx)
	req.Header.Set("Authorization", adminAuth)
	rec := httptest.NewRecorder()
	ec.ServeHTTP(rec, req)
	out := logs.String()
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500 (for nobody)", rec.Code)
	}
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "the client went away") || strings.Contains(out, "level=ERROR") {
		t.Errorf("log, want one debug line and no error:\n%s", out)
	}
}
