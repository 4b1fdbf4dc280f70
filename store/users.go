package store

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The user use cases of the Web API (api/users): each runs in one Update,
// checks the caller's rights and every rule, and is audited by the store.

// Locales are the UI languages a local user may choose.
var Locales = []string{"de", "en", "en-GB", "en-US", "es", "fr", "it", "ja", "ko", "pt", "pt-BR", "ru", "zh", "zh-CN", "zh-TW"}

// Messages of the user rules, as SonarQube words them where it has them.
const (
	msgLocalOnly    = "Password settings can only be set on local users"
	msgLocaleLocked = "It is not allowed to update locale for this user"
)

// Change is a field of an update: applied when Set, to To (a zero To clears
// the setting).
type Change[T any] struct {
	Set bool
	To  T
}

// SettingsChange changes scimgate's per-user settings (UserPolicy and the
// locale). Values arrive parsed and within their bounds.
type SettingsChange struct {
	Locale                 Change[string]
	PasswordExpirationDays Change[*int] // nil: the instance's
	SessionTimeout         Change[time.Duration]
	LockoutThreshold       Change[*int] // nil: the instance's
	TrustedHosts           Change[[]string]
}

// PasswordSettings reports whether c changes a password setting.
func (c SettingsChange) PasswordSettings() bool {
	return c.PasswordExpirationDays.Set || c.SessionTimeout.Set || c.LockoutThreshold.Set
}

// apply sets the settings on u: password settings on local users only, the
// locale not on provisioned ones (the IdP's), trusted hosts on anyone.
func (c SettingsChange) apply(u *User) error {
	if c.PasswordSettings() && (u.Managed || !u.Local) {
		return Errorf(EInvalid, msgLocalOnly)
	}
	if c.Locale.Set {
		if u.Managed {
			return Errorf(EInvalid, msgLocaleLocked)
		}
		if l := c.Locale.To; l != "" && !slices.Contains(Locales, l) {
			return Errorf(EInvalid, "Locale '%s' is not supported. Supported locales: %s", l, strings.Join(Locales, ", "))
		}
		u.Locale = c.Locale.To
	}
	if c.PasswordExpirationDays.Set {
		u.Policy.PasswordExpirationDays = c.PasswordExpirationDays.To
	}
	if c.SessionTimeout.Set {
		u.Policy.SessionTimeout = c.SessionTimeout.To
	}
	if c.LockoutThreshold.Set {
		u.Policy.LockoutThreshold = c.LockoutThreshold.To
	}
	if c.TrustedHosts.Set {
		hosts, err := ParseTrustedHosts(c.TrustedHosts.To)
		if err != nil {
			return err
		}
		u.Policy.TrustedHosts = hosts
	}
	return nil
}

// NewUserRequest is what creating a user takes.
type NewUserRequest struct {
	Login, Name, Email string
	Local              bool
	Password           *string // local users only; nil: none given
	SCMAccounts        []string
	Settings           SettingsChange
}

// CreateUser creates a local (or externally authenticated) user, or
// reactivates the deactivated local one of that login, with every check
// SonarQube makes reported at once.
func CreateUser(ctx context.Context, s Store, caller Caller, policy Policy, req NewUserRequest) (User, error) {
	password := ""
	if req.Password != nil {
		password = *req.Password
	}
	switch {
	case req.Local && password == "":
		return User{}, Errorf(EInvalid, "Password is mandatory and must not be empty")
	case !req.Local && req.Password != nil:
		return User{}, Errorf(EInvalid, "Password should only be set on local user")
	}
	if req.Email != "" && !ValidEmail(req.Email) {
		return User{}, Errorf(EInvalid, "Email '%s' is not valid", req.Email)
	}
	if !req.Local && req.Settings.PasswordSettings() {
		return User{}, Errorf(EInvalid, msgLocalOnly)
	}
	if msgs := SCMAccountErrors(req.SCMAccounts, req.Login, req.Email); len(msgs) > 0 {
		return User{}, Invalid(msgs...)
	}
	var out User
	err := s.Update(ctx, func(tx Tx) error {
		existing, err := tx.UserByLogin(req.Login)
		exists := err == nil
		switch {
		case exists && existing.Active:
			return Errorf(EInvalid, "An active user with login '%s' already exists", req.Login)
		case exists && existing.Managed:
			return ErrManaged // SCIM owns this account's lifecycle
		case exists && existing.Login != req.Login:
			return Errorf(EInvalid, "A user with login '%s' already exists", req.Login)
		}
		msgs := LoginErrors(req.Login)
		if req.Name == "" {
			msgs = append(msgs, "Name can't be empty")
		}
		if req.Local {
			msgs = append(msgs, policy.PasswordErrors(req.Login, password)...)
		}
		if len(msgs) > 0 {
			return Invalid(msgs...)
		}
		u := User{Login: req.Login, Name: req.Name, Email: req.Email, Active: true, Local: req.Local,
			ExternalLogin: req.Login, ExternalProvider: "sonarqube", SCMAccounts: req.SCMAccounts}
		if err := req.Settings.apply(&u); err != nil {
			return err
		}
		if req.Local {
			if u.PasswordHash, err = HashPassword(password); err != nil {
				return err
			}
			u.PasswordChanged = Now()
		}
		if exists { // reactivation keeps the row (same id)
			u.ID, u.Created, u.Version, u.Active = existing.ID, existing.Created, existing.Version, false
			out, err = Reactivate(tx, u)
			return err
		}
		out, err = NewUser(tx, u)
		return err
	})
	return out, err
}

// UserUpdate is what updating a user takes; nil fields are left as they are.
type UserUpdate struct {
	Name, Email *string
	SCMAccounts []string // nil or empty: unchanged
	Settings    SettingsChange
}

// activeUser finds the active user of login, or msg (not found).
func activeUser(tx Tx, login, msg string) (User, error) {
	return activeUserOf(tx, ByName(login), msg)
}

// userOf finds the user ref names; msg (with %s for the login) answers an
// unknown login, "User '<id>' not found" an unknown id.
func userOf(tx Tx, ref Ref, msg string) (User, error) {
	if ref.ID != "" {
		u, err := tx.User(ref.ID)
		if err != nil {
			return User{}, Errorf(ENotFound, "User '%s' not found", ref.ID)
		}
		return u, nil
	}
	u, err := tx.UserByLogin(ref.Name)
	if err != nil || u.Login != ref.Name {
		return User{}, Errorf(ENotFound, msg, ref.Name)
	}
	return u, nil
}

// activeUserOf is userOf for active users only.
func activeUserOf(tx Tx, ref Ref, msg string) (User, error) {
	u, err := userOf(tx, ref, msg)
	if err == nil && !u.Active {
		return User{}, userOf404(ref, msg)
	}
	return u, err
}

func userOf404(ref Ref, msg string) error {
	if ref.ID != "" {
		return Errorf(ENotFound, "User '%s' not found", ref.ID)
	}
	return Errorf(ENotFound, msg, ref.Name)
}

// unmanagedUser finds the active user ref names that the IdP does not own.
func unmanagedUser(tx Tx, ref Ref) (User, error) {
	u, err := activeUserOf(tx, ref, "User '%s' doesn't exist")
	if err == nil && u.Managed {
		err = ErrManaged
	}
	return u, err
}

// MayChange refuses a caller acting on a user holding what it lacks (see
// Guard.User).
func MayChange(tx Tx, caller Caller, u User) error {
	g, err := NewGuard(tx, caller.User, caller.Admin)
	if err != nil {
		return err
	}
	return g.User(u)
}

// setNameEmail sets u's name and e-mail where given (nil: unchanged); those
// of a provisioned or externally authenticated user are not the
// application's to change.
func setNameEmail(u *User, name, email *string) error {
	external := u.Managed || !u.Local
	if name != nil {
		if external {
			return Errorf(EInvalid, "It is not allowed to update name for this user")
		}
		if u.Name = *name; u.Name == "" {
			return Errorf(EInvalid, "Name can't be empty")
		}
	}
	if email != nil {
		if external {
			return Errorf(EInvalid, "It is not allowed to update email for this user")
		}
		u.Email = *email
	}
	return nil
}

// Matches reports whether the lower-cased q is part of u's login or name,
// or, when the searcher may see it (email), of its e-mail: a hidden address
// cannot be probed by searching. An empty q matches every user.
func (u User) Matches(q string, email bool) bool {
	return q == "" || containsLower(u.Login, q) || containsLower(u.Name, q) || email && containsLower(u.Email, q)
}

// containsLower is strings.Contains(strings.ToLower(s), q) without building
// the lower-cased copy when s is ASCII, as logins, names and e-mails mostly
// are: a search over many users then allocates nothing per user.
func containsLower(s, q string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(s), q)
		}
	}
	for i := 0; i+len(q) <= len(s); i++ {
		j := 0
		for j < len(q) && lowerASCII(s[i+j]) == q[j] {
			j++
		}
		if j == len(q) {
			return true
		}
	}
	return false
}

// lowerASCII lower-cases one ASCII letter.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// UpdateUser changes a user's name, e-mail, SCM accounts and settings. The
// identity fields of provisioned users and users of an external provider
// are not the Web API's to change.
func UpdateUser(ctx context.Context, s Store, caller Caller, ref Ref, up UserUpdate) (User, error) {
	if up.Email != nil && *up.Email != "" && !ValidEmail(*up.Email) {
		return User{}, Errorf(EInvalid, "Email '%s' is not valid", *up.Email)
	}
	var out User
	err := s.Update(ctx, func(tx Tx) error {
		u, err := activeUserOf(tx, ref, "User '%s' doesn't exist")
		if err != nil {
			return err
		}
		if err := MayChange(tx, caller, u); err != nil {
			return err
		}
		if err := setNameEmail(&u, up.Name, up.Email); err != nil {
			return err
		}
		if len(up.SCMAccounts) > 0 {
			if u.Managed { // identity fields of a provisioned user are the IdP's
				return Errorf(EInvalid, "It is not allowed to update SCM accounts for this user")
			}
			if msgs := SCMAccountErrors(up.SCMAccounts, u.Login, u.Email); len(msgs) > 0 {
				return Invalid(msgs...)
			}
			u.SCMAccounts = up.SCMAccounts
		}
		if err := up.Settings.apply(&u); err != nil {
			return err
		}
		if u.Managed { // only scimgate's own settings changed: the IdP's version stays
			out = u
			return tx.PutUser(u)
		}
		out, err = SaveUser(tx, u)
		return err
	})
	return out, err
}

// RenameUser changes the login of a local or external user.
func RenameUser(ctx context.Context, s Store, caller Caller, ref Ref, newLogin string) error {
	return s.Update(ctx, func(tx Tx) error {
		u, err := unmanagedUser(tx, ref)
		if err != nil {
			return err
		}
		if err := MayChange(tx, caller, u); err != nil {
			return err
		}
		if msgs := LoginErrors(newLogin); len(msgs) > 0 {
			return Invalid(msgs...)
		}
		if other, err := tx.UserByLogin(newLogin); err == nil && other.ID != u.ID {
			return Errorf(EInvalid, "A user with login '%s' already exists", newLogin)
		}
		u.Login = newLogin
		if u.Local || u.ExternalProvider == "sonarqube" {
			u.ExternalLogin = newLogin
		}
		_, err = SaveUser(tx, u)
		return err
	})
}

// DeactivateUser deactivates a user who is not provisioned (see
// Deactivate for what deactivation removes and keeps), optionally
// anonymising it.
func DeactivateUser(ctx context.Context, s Store, caller Caller, ref Ref, anonymize bool) (User, error) {
	var out User
	err := s.Update(ctx, func(tx Tx) error {
		u, err := userOf(tx, ref, "User '%s' doesn't exist")
		if err != nil {
			return err
		}
		if u.Managed {
			return ErrManaged
		}
		if err := MayChange(tx, caller, u); err != nil {
			return err
		}
		out, err = Deactivate(tx, caller.ID, u, anonymize)
		return err
	})
	return out, err
}

// SetPassword changes the password of login. Changing one's own needs the
// previous password; another user's needs admin, or useradmin over a user
// holding nothing more. A broken password rule is EInvalid with its message.
func SetPassword(ctx context.Context, s Store, caller Caller, policy Policy, login string, previous *string, password string) error {
	own := login == caller.Login
	if !own && !caller.Admin {
		var ok bool
		err := s.View(ctx, func(tx Tx) error {
			var err error
			ok, err = HasPermission(tx, caller.ID, PermUserAdmin)
			return err
		})
		if err != nil || !ok {
			return firstErr(err, Errorf(EForbidden, "Insufficient privileges"))
		}
	}
	return s.Update(ctx, func(tx Tx) error {
		u, err := activeUser(tx, login, "User with login '%s' has not been found")
		if err != nil {
			return err
		}
		if !own {
			if err := MayChange(tx, caller, u); err != nil {
				return err
			}
		}
		switch {
		case u.Managed || !u.Local:
			return Errorf(EInvalid, "Password cannot be changed when external authentication is used")
		case own && (previous == nil || !CheckPassword(u.PasswordHash, *previous)):
			return Errorf(EInvalid, "old_password_incorrect")
		case own && *previous == password:
			return Errorf(EInvalid, "new_password_same_as_old")
		}
		if msgs := policy.PasswordErrors(u.Login, password); len(msgs) > 0 {
			return Errorf(EInvalid, "%s", msgs[0])
		}
		hash, err := HashPassword(password)
		if err != nil {
			return err
		}
		u.PasswordHash, u.PasswordChanged = hash, Now()
		_, err = SaveUser(tx, u)
		return err
	})
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// IdentityProviders are the providers a user may be moved to (with
// LDAP_{serverKey}).
var IdentityProviders = []string{"github", "gitlab", "saml", "sonarqube", "LDAP"}

// knownProvider reports whether a user may be moved to provider: one of
// IdentityProviders or an LDAP server (LDAP_{serverKey}).
func knownProvider(provider string) bool {
	return slices.Contains(IdentityProviders, provider) || strings.HasPrefix(provider, "LDAP_")
}

// SetIdentityProvider moves a user to another identity provider (and
// external identity, when given).
func SetIdentityProvider(ctx context.Context, s Store, login, provider, identity string) error {
	if login == "" {
		return Errorf(EInvalid, "Login is mandatory and must not be empty")
	}
	if !knownProvider(provider) {
		return Errorf(EInvalid, "Value of parameter 'newExternalProvider' (%s) must be one of: [github, gitlab, saml] or [LDAP, LDAP_{serverKey}]", provider)
	}
	return s.Update(ctx, func(tx Tx) error {
		u, err := unmanagedUser(tx, ByName(login))
		if err != nil {
			return err
		}
		u.ExternalProvider = provider
		if identity != "" {
			u.ExternalLogin = identity
		}
		_, err = SaveUser(tx, u)
		return err
	})
}

// AnonymizeUser anonymises a deactivated user that is not provisioned.
func AnonymizeUser(ctx context.Context, s Store, login string) error {
	return s.Update(ctx, func(tx Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil || u.Login != login {
			return Errorf(ENotFound, "User '%s' doesn't exist", login)
		}
		if u.Managed {
			return ErrManaged
		}
		_, err = Anonymize(tx, u)
		return err
	})
}

// UserPatch is a merge patch of a user (REST API v2): a nil field is left
// as it is.
type UserPatch struct {
	Login, Name, Email                          *string
	SCMAccounts                                 *[]string
	ExternalProvider, ExternalLogin, ExternalID *string
}

// PatchUser applies a merge patch to a user in one transaction, with the
// rules of UpdateUser, RenameUser and SetIdentityProvider: a provisioned
// user's identity is the IdP's.
func PatchUser(ctx context.Context, s Store, caller Caller, ref Ref, p UserPatch) (User, error) {
	if p.Email != nil && *p.Email != "" && !ValidEmail(*p.Email) {
		return User{}, Errorf(EInvalid, "Email '%s' is not valid", *p.Email)
	}
	if p.ExternalProvider != nil && !knownProvider(*p.ExternalProvider) {
		return User{}, Errorf(EInvalid, "Value of field 'externalProvider' (%s) must be one of: [github, gitlab, saml] or [LDAP, LDAP_{serverKey}]", *p.ExternalProvider)
	}
	var out User
	err := s.Update(ctx, func(tx Tx) error {
		u, err := activeUserOf(tx, ref, "User '%s' doesn't exist")
		if err != nil {
			return err
		}
		if err := MayChange(tx, caller, u); err != nil {
			return err
		}
		if u.Managed {
			return ErrManaged // every field of the patch is the IdP's
		}
		if err := setNameEmail(&u, p.Name, p.Email); err != nil {
			return err
		}
		if p.SCMAccounts != nil {
			if msgs := SCMAccountErrors(*p.SCMAccounts, u.Login, u.Email); len(msgs) > 0 {
				return Invalid(msgs...)
			}
			u.SCMAccounts = *p.SCMAccounts
		}
		if p.Login != nil && *p.Login != u.Login {
			if msgs := LoginErrors(*p.Login); len(msgs) > 0 {
				return Invalid(msgs...)
			}
			if other, err := tx.UserByLogin(*p.Login); err == nil && other.ID != u.ID {
				return Errorf(EInvalid, "A user with login '%s' already exists", *p.Login)
			}
			if u.Local || u.ExternalProvider == "sonarqube" {
				u.ExternalLogin = *p.Login
			}
			u.Login = *p.Login
		}
		if p.ExternalProvider != nil {
			u.ExternalProvider = *p.ExternalProvider
		}
		if p.ExternalLogin != nil {
			u.ExternalLogin = *p.ExternalLogin
		}
		if p.ExternalID != nil {
			u.ExternalID = *p.ExternalID
		}
		out, err = SaveUser(tx, u)
		return err
	})
	return out, err
}
