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
}
