package store

// Caller is an authenticated user, whether it holds global admin, and how it
// proved who it is.
type Caller struct {
	User
	Admin bool
	Via   string // "token", "password" or "session"
	// TokenType is the type of the token used (TokenUser, or an analysis
	// token, which serves only to analyse: no API action accepts it).
	TokenType string
	// TokenName is the name of that token.
	TokenName string
}

// Ref names a user or a group: by id (REST API v2, SCIM) or by login or
// name (Web API v1).
type Ref struct{ ID, Name string }

// ByID is the reference of the user or group with id.
func ByID(id string) Ref { return Ref{ID: id} }

// ByName is the reference of the user of login, or the group of name.
func ByName(name string) Ref { return Ref{Name: name} }
