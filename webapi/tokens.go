package webapi

import (
	"cmp"
	"time"

	"github.com/scimgate/scimgate/store"
)

var tokenTypes = []string{store.TokenUser, "GLOBAL_ANALYSIS_TOKEN", "PROJECT_ANALYSIS_TOKEN"}

var userTokensController = controller{Path: "api/user_tokens", Since: "5.3", Desc: "List, create, and delete a user's access tokens. The secret is shown once, when the token is generated; only its hash is stored.", Action: []action{
	{Key: "generate", Post: true, Since: "5.3", Access: loggedIn, Handle: generateToken,
		Desc: "Generate a user access token. Administer System permission is required to generate a token for another user.",
		Params: []param{
			{Key: "login", Desc: "User login. If not set, the token is generated for the authenticated user."},
			{Key: "name", Desc: "Token name", Required: true, MaxLen: 100},
			{Key: "type", Desc: "Token type", Values: tokenTypes, Default: store.TokenUser, Since: "9.5"},
			{Key: "projectKey", Desc: "The key of the only project that can be analyzed by the PROJECT_ANALYSIS_TOKEN created.", Since: "9.5"},
			{Key: "expirationDate", Desc: "The expiration date of the token being generated, in ISO 8601 format (YYYY-MM-DD). If not set, the token never expires.", Since: "9.6"},
		}},
	{Key: "revoke", Post: true, Since: "5.3", Access: loggedIn, Handle: revokeToken,
		Desc: "Revoke a user access token. Administer System permission is required to revoke a token of another user.",
		Params: []param{
			{Key: "login", Desc: "User login"},
			{Key: "name", Desc: "Token name", Required: true},
		}},
	{Key: "search", Since: "5.3", Access: loggedIn, Handle: searchTokens,
		Desc:   "List the access tokens of a user. Administer System permission is required to list another user's tokens.",
		Params: []param{{Key: "login", Desc: "User login"}}},
}}

// tokenOwner resolves the login parameter: the caller by default, another
// user only for administrators.
func tokenOwner(cl *call, tx store.Tx) (store.User, error) {
	if !cl.has("login") || cl.str("login") == cl.caller.Login {
		return *cl.caller, nil
	}
	if !cl.admin {
		if ok, err := store.HasPermission(tx, cl.caller.ID, store.PermUserAdmin); err != nil || !ok {
			return store.User{}, cmp.Or(err, forbidden())
		}
	}
	login := cl.str("login")
	u, ok := userByLogin(tx, login)
	if !ok {
		return u, notFound("User with login '%s' doesn't exist", login)
	}
	return u, cl.mayChange(tx, u) // a token acts as its user: no tokens for the more privileged
}

func generateToken(cl *call) error {
	name, typ := cl.str("name"), cl.str("type")
	var expires *time.Time
	if s := cl.str("expirationDate"); s != "" {
		d, err := time.ParseInLocation("2006-01-02", s, time.UTC)
		if err != nil {
			return invalid("Supplied date format for parameter expirationDate is wrong. Please supply date in the ISO 8601 date format (YYYY-MM-DD)")
		}
		tomorrow := store.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
		if d.Before(tomorrow) {
			return invalid("The minimum value for parameter expirationDate is %s.", tomorrow.Format("2006-01-02"))
		}
		expires = &d
	}
	secret := store.NewTokenSecret()
	var tok store.Token
	var owner store.User
	var project store.Project
	err := cl.update(func(tx store.Tx) error {
		var err error
		if owner, err = tokenOwner(cl, tx); err != nil {
			return err
		}
		if !owner.Active { // its token would start working on reactivation
			return notFound("User with login '%s' doesn't exist", owner.Login)
		}
		switch typ {
		case "GLOBAL_ANALYSIS_TOKEN":
			if owner.ID != cl.caller.ID {
				return invalid("A Global Analysis Token cannot be generated for another user.")
			}
			if ok, err := store.HasPermission(tx, owner.ID, store.PermScan); err != nil || !ok {
				return forbidden()
			}
			secret = "sqa_" + secret[4:]
		case "PROJECT_ANALYSIS_TOKEN":
			if owner.ID != cl.caller.ID {
				return invalid("A Project Analysis Token cannot be generated for another user.")
			}
			key := cl.str("projectKey")
			if key == "" {
				return invalid("A projectKey is needed when creating Project Analysis Token")
			}
			if project, err = tx.ProjectByKey(key); err != nil || project.Key != key {
				return notFound("Project key '%s' not found", key)
			}
			global, err := store.HasPermission(tx, owner.ID, store.PermScan)
			if err != nil {
				return err
			}
			onProject, err := store.HasProjectPermission(tx, owner.ID, project, store.PermScan)
			if err != nil {
				return err
			}
			if !global && !onProject {
				return forbidden()
			}
			secret = "sqp_" + secret[4:]
		}
		if _, err := tx.TokenByName(owner.ID, name); err == nil {
			return invalid("A user token for login '%s' and name '%s' already exists", owner.Login, name)
		}
		tok = store.Token{Hash: store.HashToken(secret), UserID: owner.ID, Name: name, Type: typ, Created: store.Now(), Expires: expires, Project: project.ID}
		return tx.PutToken(tok)
	})
	if err != nil {
		return err
	}
	type generated struct {
		Login          string `json:"login"`
		Name           string `json:"name"`
		Token          string `json:"token"`
		CreatedAt      string `json:"createdAt"`
		Type           string `json:"type"`
		ProjectKey     string `json:"projectKey,omitempty"`
		ProjectName    string `json:"projectName,omitempty"`
		ExpirationDate string `json:"expirationDate,omitempty"`
	}
	return cl.json(generated{owner.Login, tok.Name, secret, formatDate(&tok.Created), tok.Type, project.Key, project.Name, formatDate(tok.Expires)})
}

func revokeToken(cl *call) error {
	err := cl.update(func(tx store.Tx) error {
		owner, err := tokenOwner(cl, tx)
		if err != nil {
			return err
		}
		tok, err := tx.TokenByName(owner.ID, cl.str("name"))
		if store.IsNotFound(err) {
			return nil // silent, as SonarQube
		}
		if err != nil {
			return err
		}
		return tx.DeleteToken(tok.Hash)
	})
	if err != nil {
		return err
	}
	return cl.noContent()
}

func searchTokens(cl *call) error {
	type projectRef struct {
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	type entry struct {
		Name               string      `json:"name"`
		CreatedAt          string      `json:"createdAt"`
		LastConnectionDate string      `json:"lastConnectionDate,omitempty"`
		Type               string      `json:"type"`
		Project            *projectRef `json:"project,omitempty"`
		ExpirationDate     string      `json:"expirationDate,omitempty"`
		IsExpired          *bool       `json:"isExpired,omitempty"`
	}
	var owner store.User
	tokens := []entry{}
	err := cl.view(func(tx store.Tx) error {
		var err error
		if owner, err = tokenOwner(cl, tx); err != nil {
			return err
		}
		list, err := tx.Tokens(owner.ID)
		for _, t := range list {
			e := entry{Name: t.Name, CreatedAt: formatDate(&t.Created), LastConnectionDate: formatDate(t.LastConnection),
				Type: t.Type, ExpirationDate: formatDate(t.Expires)}
			if t.Expires != nil {
				expired := !store.Now().Before(*t.Expires)
				e.IsExpired = &expired
			}
			if t.Project != "" {
				if p, err := tx.Project(t.Project); err == nil {
					e.Project = &projectRef{p.Key, p.Name}
				}
			}
			tokens = append(tokens, e)
		}
		return err
	})
	if err != nil {
		return err
	}
	return cl.json(map[string]any{"login": owner.Login, "userTokens": tokens})
}
