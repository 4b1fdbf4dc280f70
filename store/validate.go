package store

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

var (
	loginFirst = regexp.MustCompile(`^\w`)
	loginChars = regexp.MustCompile(`^[\w.\-@]+$`)
)

// LoginErrors checks a local login as SonarQube does, reporting every
// broken rule.
func LoginErrors(login string) []string {
	if login == "" {
		return []string{"Login can't be empty"}
	}
	var out []string
	if !loginFirst.MatchString(login) {
		out = append(out, "Login should start with _ or alphanumeric.")
	}
	if !loginChars.MatchString(login) {
		out = append(out, "Login should contain only letters, numbers, and .-_@")
	}
	switch n := utf8.RuneCountInString(login); {
	case n < 2:
		out = append(out, "Login is too short (minimum is 2 characters)")
	case n > MaxLoginLength:
		out = append(out, "Login is too long (maximum is 255 characters)")
	}
	return out
}

// ValidEmail accepts a bare address (no display name), as InternetAddress does.
func ValidEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	return err == nil && a.Address == e && a.Name == ""
}

// SCMAccountErrors checks SCM accounts the way SonarQube's UserUpdater does.
func SCMAccountErrors(accounts []string, login, email string) []string {
	var out []string
	seen := map[string]bool{}
	for _, a := range accounts {
		switch {
		case strings.TrimSpace(a) != a:
			out = append(out, "SCM account cannot start or end with whitespace: '"+a+"'")
		case seen[a]:
			out = append(out, "Duplicate SCM account: '"+a+"'")
		case a == login || email != "" && a == email:
			out = append(out, "Login and email are automatically considered as SCM accounts")
		}
		seen[a] = true
	}
	return out
}
