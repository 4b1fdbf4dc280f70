package webapi

import (
	"time"

	"github.com/scimgate/scimgate/store"
)

var userTokensController = controller{Path: "api/user_tokens", Since: "5.3", Desc: "List, create, and delete a user's access tokens. The secret is shown once, when the token is generated; only its hash is stored.", Action: []action{
	{Key: "generate", Post: true, Since: "5.3", Access: loggedIn, Handle: generateToken,
		Desc: "Generate a user access token. Administer System permission is required to generate a token for another user.",
		Params: []param{
			{Key: "login", Desc: "User login. If not set, the token is generated for the authenticated user."},
			{Key: "name", Desc: "Token name", Required: true, MaxLen: store.MaxTokenName},
			{Key: "type", Desc: "Token type", Values: store.TokenTypes, Default: store.TokenUser, Since: "9.5"},
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

// caller is the request's caller as the use cases take it.
func (cl *call) callerOf() store.Caller {
	return store.Caller{User: *cl.caller, Admin: cl.admin}
}

func generateToken(cl *call) error {
	req := store.TokenRequest{Login: cl.str("login"), Name: cl.str("name"), Type: cl.str("type"), ProjectKey: cl.str("projectKey")}
	if s := cl.str("expirationDate"); s != "" {
		d, err := time.ParseInLocation("2006-01-02", s, time.UTC)
		if err != nil {
			return invalid("Supplied date format for parameter expirationDate is wrong. Please supply date in the ISO 8601 date format (YYYY-MM-DD)")
		}
		req.Expires = &d
	}
	tok, err := store.GenerateToken(cl.c.Request().Context(), cl.api.store, cl.callerOf(), req)
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
	return cl.json(generated{tok.Owner.Login, tok.Name, tok.Secret, formatDate(&tok.Created), tok.Type, tok.Project.Key, tok.Project.Name, formatDate(tok.Expires)})
}

func revokeToken(cl *call) error {
	// A token that does not exist is no error, as in SonarQube.
	if _, err := store.RevokeToken(cl.c.Request().Context(), cl.api.store, cl.callerOf(), cl.str("login"), cl.str("name")); err != nil {
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
		if owner, err = store.TokenOwner(tx, cl.callerOf(), cl.str("login")); err != nil {
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
