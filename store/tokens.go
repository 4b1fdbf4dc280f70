package store

import (
	"cmp"
	"context"
	"time"
)

// The token use cases, served alike to the Web API (api/user_tokens) and the
// command line (scimgate token).

// Token types, as SonarQube names them.
const (
	TokenGlobalAnalysis  = "GLOBAL_ANALYSIS_TOKEN"
	TokenProjectAnalysis = "PROJECT_ANALYSIS_TOKEN"
)

// TokenTypes lists the token types in SonarQube's order.
var TokenTypes = []string{TokenUser, TokenGlobalAnalysis, TokenProjectAnalysis}

// MaxTokenName bounds token names.
const MaxTokenName = 100

// TokenRequest is what generating a token takes.
type TokenRequest struct {
	Login      string     // the owner; empty: the caller
	Name       string     // unique per user
	Type       string     // TokenUser (default), TokenGlobalAnalysis or TokenProjectAnalysis
	ProjectKey string     // for TokenProjectAnalysis
	Expires    *time.Time // midnight UTC of the last day; nil: never
}

// NewToken is a generated token: the stored record, its secret (shown once,
// never stored), its owner and, for a project analysis token, its project.
type NewToken struct {
	Token
	Secret  string
	Owner   User
	Project Project
}

// TokenOwner resolves whose tokens the caller acts on: its own when login is
// empty or its own; another user's for administrators, and for user
// administrators (useradmin) only when that user holds nothing they lack (a
// token acts as its user).
func TokenOwner(tx Tx, caller Caller, login string) (User, error) {
	if login == "" || login == caller.Login && caller.ID != "" {
		return caller.User, nil
	}
	if !caller.Admin {
		if ok, err := HasPermission(tx, caller.ID, PermUserAdmin); err != nil || !ok {
			return User{}, cmp.Or(err, Errorf(EForbidden, "Insufficient privileges"))
		}
	}
	u, err := tx.UserByLogin(login)
	if err != nil || u.Login != login {
		return User{}, Errorf(ENotFound, "User with login '%s' doesn't exist", login)
	}
	g, err := NewGuard(tx, caller.User, caller.Admin)
	if err != nil {
		return User{}, err
	}
	return u, g.User(u)
}

// GenerateToken creates a token in one transaction, with SonarQube's rules:
// the owner is active; analysis tokens are the caller's own and need scan
// (globally, or on the project for a project analysis token); expiry is
// tomorrow at the earliest; names are unique per user.
func GenerateToken(ctx context.Context, s Store, caller Caller, req TokenRequest) (NewToken, error) {
	req.Type = cmp.Or(req.Type, TokenUser)
	if req.Expires != nil {
		tomorrow := Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
		if req.Expires.Before(tomorrow) {
			return NewToken{}, Errorf(EInvalid, "The minimum value for parameter expirationDate is %s.", tomorrow.Format("2006-01-02"))
		}
	}
	var out NewToken
	err := s.Update(ctx, func(tx Tx) error {
		owner, err := TokenOwner(tx, caller, req.Login)
		if err != nil {
			return err
		}
		if !owner.Active { // its token would start working on reactivation
			return Errorf(ENotFound, "User with login '%s' doesn't exist", owner.Login)
		}
		secret := NewTokenSecret()
		var project Project
		switch req.Type {
		case TokenGlobalAnalysis:
			if owner.ID != caller.ID {
				return Errorf(EInvalid, "A Global Analysis Token cannot be generated for another user.")
			}
			if ok, err := HasPermission(tx, owner.ID, PermScan); err != nil || !ok {
				return cmp.Or(err, Errorf(EForbidden, "Insufficient privileges"))
			}
			secret = "sqa_" + secret[4:]
		case TokenProjectAnalysis:
			if owner.ID != caller.ID {
				return Errorf(EInvalid, "A Project Analysis Token cannot be generated for another user.")
			}
			if req.ProjectKey == "" {
				return Errorf(EInvalid, "A projectKey is needed when creating Project Analysis Token")
			}
			if project, err = tx.ProjectByKey(req.ProjectKey); err != nil || project.Key != req.ProjectKey {
				return Errorf(ENotFound, "Project key '%s' not found", req.ProjectKey)
			}
			global, err := HasPermission(tx, owner.ID, PermScan)
			if err != nil {
				return err
			}
			onProject, err := HasProjectPermission(tx, owner.ID, project, PermScan)
			if err != nil {
				return err
			}
			if !global && !onProject {
				return Errorf(EForbidden, "Insufficient privileges")
			}
			secret = "sqp_" + secret[4:]
		}
		if _, err := tx.TokenByName(owner.ID, req.Name); err == nil {
			return Errorf(EInvalid, "A user token for login '%s' and name '%s' already exists", owner.Login, req.Name)
		}
		tok := Token{Hash: HashToken(secret), UserID: owner.ID, Name: req.Name, Type: req.Type, Created: Now(), Expires: req.Expires, Project: project.ID}
		out = NewToken{Token: tok, Secret: secret, Owner: owner, Project: project}
		return tx.PutToken(tok)
	})
	return out, err
}

// RevokeToken deletes the token named name of login (empty: the caller)
// and reports whether there was one.
func RevokeToken(ctx context.Context, s Store, caller Caller, login, name string) (bool, error) {
	var revoked bool
	err := s.Update(ctx, func(tx Tx) error {
		owner, err := TokenOwner(tx, caller, login)
		if err != nil {
			return err
		}
		tok, err := tx.TokenByName(owner.ID, name)
		if IsNotFound(err) {
			revoked = false
			return nil
		}
		if err != nil {
			return err
		}
		revoked = true
		return tx.DeleteToken(tok.Hash)
	})
	return revoked, err
}
