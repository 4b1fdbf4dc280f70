package scim

import (
	"net/http"

	scimlib "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/scimgate/scimgate/store"
)

// users is the library's ResourceHandler for /Users. Reads are served by
// Handler.get and Handler.list; these methods back the writes.
type users struct{ h *Handler }

func (h *Handler) userResource(tx store.Tx, u store.User) (scimlib.Resource, error) {
	return h.userResourceWith(tx, u, true)
}

// userResourceWith renders u, with its groups or (a user just created,
// which belongs to none) without reading them.
func (h *Handler) userResourceWith(tx store.Tx, u store.User, withGroups bool) (scimlib.Resource, error) {
	doc, err := h.renderUser(tx, u, withGroups)
	if err != nil {
		return scimlib.Resource{}, err
	}
	return scimlib.Resource{ID: u.ID, Attributes: doc,
		Meta: scimlib.Meta{Created: &u.Created, LastModified: &u.Updated, Version: etag(u.Version)}}, nil
}

// write runs fn in one transaction and renders what it returns (see
// updateThenRender). Errors are mapped for the library.
func write[T any](h *Handler, r *http.Request, fn func(store.Tx) (T, error), render func(store.Tx, T) (scimlib.Resource, error)) (scimlib.Resource, error) {
	var v T
	var res scimlib.Resource
	err := h.updateThenRender(r, func(tx store.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	}, func(tx store.Tx) error {
		var err error
		res, err = render(tx, v)
		return err
	})
	if err != nil {
		return scimlib.Resource{}, h.fail(r, err)
	}
	return res, nil
}

// updateThenRender runs fn in one transaction, then render if fn succeeded.
// On a store that batches writes (group commit) render reads a fresh
// snapshot, so rendering stays out of the serialised write path; on others
// it runs in fn's transaction, which saves one.
func (h *Handler) updateThenRender(r *http.Request, fn, render func(store.Tx) error) error {
	apart := store.BatchesWrites(h.store)
	err := h.store.Update(r.Context(), func(tx store.Tx) error {
		if err := fn(tx); err != nil || apart {
			return err
		}
		return render(tx)
	})
	if err == nil && apart {
		err = h.store.View(r.Context(), render)
	}
	return err
}

func (h *Handler) writeUser(r *http.Request, created bool, fn func(tx store.Tx) (store.User, error)) (scimlib.Resource, error) {
	return write(h, r, fn, func(tx store.Tx, u store.User) (scimlib.Resource, error) {
		if fresh, err := tx.User(u.ID); err == nil {
			u = fresh
		}
		return h.userResourceWith(tx, u, !created)
	})
}

// loadUser finds a managed user and checks If-Match against its version.
// The write that follows may change the user's access, and renders the
// user with its groups: the store reads those ahead, with the user.
func loadUser(tx store.Tx, r *http.Request, id string) (store.User, error) {
	tx.ReadAhead(id)
	u, err := tx.User(id)
	if err != nil || !u.Managed {
		return store.User{}, notFound(id)
	}
	return u, checkIfMatch(r, u.Version)
}

func checkIfMatch(r *http.Request, version uint64) error {
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != etag(version) {
		return store.Errorf(store.EPrecondition, "The resource has changed: its version is %s", etag(version))
	}
	return nil
}

func (s users) Create(r *http.Request, attrs scimlib.ResourceAttributes) (scimlib.Resource, error) {
	u := store.User{Active: true, Managed: true, ExternalProvider: "scim"}
	if err := applyUserDoc(&u, attrs); err != nil {
		return scimlib.Resource{}, s.h.fail(r, err)
	}
	r = r.WithContext(store.Creating(r.Context(), u.Login))
	return s.h.writeUser(r, true, func(tx store.Tx) (store.User, error) {
		u, err := store.NewUser(tx, u)
		if err != nil {
			return u, err
		}
		if active, ok := attrs["active"].(bool); ok && !active {
			return store.Deactivate(tx, caller(r).ID, u, false)
		}
		return u, nil
	})
}

func (s users) Replace(r *http.Request, id string, attrs scimlib.ResourceAttributes) (scimlib.Resource, error) {
	r = r.WithContext(store.Touching(r.Context(), id))
	return s.h.writeUser(r, false, func(tx store.Tx) (store.User, error) {
		u, err := loadUser(tx, r, id)
		if err != nil {
			return u, err
		}
		if err := applyUserDoc(&u, attrs); err != nil {
			return u, err
		}
		active, ok := attrs["active"].(bool)
		if !ok {
			active = u.Active
		}
		return store.SetActive(tx, caller(r).ID, u, active)
	})
}

// Patch is never reached (Handler.patchUser).
func (users) Patch(*http.Request, string, []scimlib.PatchOperation) (scimlib.Resource, error) {
	return scimlib.Resource{}, errUnreached
}

// patchUser applies PATCH operations and renders the user as stored. On a
// store that batches writes the operations are applied to the version read
// first, outside the write, and the result is rendered after it: writers
// share one transaction (group commit) and run one after another in it, so
// JSON work done outside Update is work the batch does not wait for. The
// write applies them again if the user changed meanwhile. On other stores
// all of it is one transaction.
func (s users) patchUser(r *http.Request, id string, ops []scimlib.PatchOperation, render func(store.Tx, store.User) error) error {
	var read, next store.User
	var active bool
	var patchErr error
	apart := store.BatchesWrites(s.h.store) // else read, write and render in one transaction
	if apart {
		err := s.h.store.View(r.Context(), func(tx store.Tx) error {
			var err error
			if read, err = loadUser(tx, r, id); err == nil {
				next, active, patchErr = s.patched(read, ops)
			}
			return err
		})
		if err != nil {
			return s.h.fail(r, err)
		}
	}
	var out store.User
	r = r.WithContext(store.Touching(r.Context(), id))
	err := s.h.updateThenRender(r, func(tx store.Tx) error {
		u, err := loadUser(tx, r, id)
		if err != nil {
			return err
		}
		next, active, err := next, active, patchErr
		if !apart || u.Version != read.Version {
			next, active, err = s.patched(u, ops)
		}
		if err != nil {
			return err
		}
		out, err = store.SetActive(tx, caller(r).ID, next, active)
		return err
	}, func(tx store.Tx) error { return render(tx, out) })
	return s.h.fail(r, err)
}

// patched returns u with the operations applied, and the active state
// they ask for.
func (s users) patched(u store.User, ops []scimlib.PatchOperation) (store.User, bool, error) {
	doc := s.h.userDoc(u)
	if err := userPatcher.apply(doc, ops); err != nil {
		return u, false, err
	}
	if err := applyUserDoc(&u, doc); err != nil {
		return u, false, err
	}
	active, ok := doc["active"].(bool)
	if !ok {
		active = u.Active
	}
	return u, active, nil
}

// errUnreached answers the ResourceHandler methods the library never calls:
// Handler.route answers those requests before it (GET of resources and
// lists, PATCH /Users, DELETE /Users).
var errUnreached = scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "Internal server error"}

// Get is never reached (Handler.get).
func (users) Get(*http.Request, string) (scimlib.Resource, error) {
	return scimlib.Resource{}, errUnreached
}

// GetAll is never reached (Handler.list).
func (users) GetAll(*http.Request, scimlib.ListRequestParams) (scimlib.Page, error) {
	return scimlib.Page{}, errUnreached
}

// Delete is never reached: DELETE /Users/{id} is answered 405 before the
// library. Deprovisioning is PATCH active=false.
func (users) Delete(*http.Request, string) error { return errUnreached }
