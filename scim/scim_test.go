package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/scimgate/scimgate/scim"
	"github.com/scimgate/scimgate/store"
	"github.com/scimgate/scimgate/store/auth"
	"github.com/scimgate/scimgate/store/bolt"
	"github.com/scimgate/scimgate/store/bolt/bolttest"
)

// env is a running SCIM API on a real bbolt file, with an admin token.
type env struct {
	t     testing.TB
	srv   *httptest.Server
	store *bolt.Store
	token string
}

func newEnv(t testing.TB) *env { return newEnvOver(t, nil) }

// newEnvOver serves the API over wrap(store) when wrap is set.
func newEnvOver(t testing.TB, wrap func(store.Store) store.Store) *env {
	t.Helper()
	st := bolttest.MustOpen(t)
	var served store.Store = st
	if wrap != nil {
		served = wrap(st)
	}
	ctx := context.Background()
	if _, _, err := store.Bootstrap(ctx, st, "Admin-pass-123"); err != nil {
		t.Fatal(err)
	}
	token := store.NewTokenSecret()
	err := st.Update(ctx, func(tx store.Tx) error {
		admin, err := tx.UserByLogin("admin")
		if err != nil {
			return err
		}
		return tx.PutToken(store.Token{Hash: store.HashToken(token), UserID: admin.ID, Name: "scim", Type: store.TokenUser, Created: store.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	auth := auth.New(served, store.DefaultPolicy(), nil)
	t.Cleanup(auth.Wait) // background writes end before the store closes
	h, err := scim.New(served, scim.Options{BaseURL: "http://" + srv.Listener.Addr().String() + scim.Prefix, MaxBodyBytes: 64 << 10, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(e)
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, store: st, token: token}
}

// response is what do returns: status, headers and the decoded JSON body.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// do sends a request to path under the SCIM prefix with the admin token.
func (e *env) do(method, path string, body any) response {
	return e.doAuth(method, path, body, "Bearer "+e.token)
}

func (e *env) doAuth(method, path string, body any, auth string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+scim.Prefix+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json; charset=utf-8")
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %q", method, path, raw)
		}
	}
	if ct := res.Header.Get("Content-Type"); len(raw) > 0 && ct != "application/scim+json" {
		e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return r
}
