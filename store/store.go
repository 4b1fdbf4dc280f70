// Package store holds scimgate's domain types, the Store contract every
// backend implements, and the rules that must hold whichever API acts.
package store

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"time"
)

// Global permissions, as SonarQube names them.
const (
	PermAdmin        = "admin"
	PermGateAdmin    = "gateadmin"
	PermProfileAdmin = "profileadmin"
	PermProvisioning = "provisioning"
	PermScan         = "scan"
)

// GlobalPermissions lists every global permission in SonarQube's order.
// useradmin is scimgate's own (see PermUserAdmin).
var GlobalPermissions = []string{PermAdmin, PermGateAdmin, PermProfileAdmin, PermProvisioning, PermScan, PermUserAdmin}

// DefaultGroup is the group every new or reactivated user joins.
const DefaultGroup = "sonar-users"

// AnyoneGroup is the pseudo-group of every user; permissions granted to it
// are held by everyone. It has no members and is not a stored group.
const AnyoneGroup = "Anyone"

// User is one account, local or provisioned through SCIM.
type User struct {
	ID               string
	Login            string // SCIM userName for managed users
	Name             string
	Email            string
	Active           bool
	Local            bool
	Managed          bool // provisioned through SCIM: owned by the IdP
	ExternalID       string
	ExternalLogin    string
	ExternalProvider string
	SCMAccounts      []string
	PasswordHash     string
	SCIM             json.RawMessage // SCIM attributes as the IdP sent them, decoded only to render them and for the n-gram index (IndexedTexts)
	Created          time.Time
	Updated          time.Time
	LastConnection   *time.Time
	Version          uint64
	Locale           string
	PasswordChanged  time.Time
	Policy           UserPolicy // overrides of the instance policy
}

// Group is a set of users; a managed group is owned by the IdP.
type Group struct {
	ID          string
	Name        string // SCIM displayName
	Description string
	ExternalID  string
	Managed     bool
	// Organization is the key of the organisation the group belongs to:
	// only its members may join. Empty: none.
	Organization string
	Created      time.Time
	Updated      time.Time
	Version      uint64
}

// Token is a user token; only the hash of its secret is stored.
type Token struct {
	Hash           string // hex SHA-384 of the secret
	UserID         string
	Name           string
	Type           string
	Created        time.Time
	Expires        *time.Time
	LastConnection *time.Time
	// Project is the id of the project a project analysis token is for.
	Project string
}

// Session is a browser session opened by a password login; only the hash
// of its secret is stored. It lives in the store so that every replica
// sharing the store knows it, and a logout on one ends it on all.
type Session struct {
	Hash     string // HashToken of the secret
	UserID   string
	Password string // the user's password hash at login: a change ends the session
	Created  time.Time
	LastSeen time.Time // updated at most once a minute (see package auth)
}

// Failures counts the failed password logins of a login within the lockout
// window (package auth): in the store, so a lock holds on every replica.
type Failures struct {
	Count int
	Last  time.Time
}

// Subject names who holds a permission: a user or a group (UserSubject,
// GroupSubject).
type Subject struct {
	Kind byte // 'u' or 'g': the backends' encoding; use IsUser
	ID   string
}

// UserSubject is the user with id as a permission holder.
func UserSubject(id string) Subject { return Subject{'u', id} }

// GroupSubject is the group with id (or AnyoneGroup) as a permission holder.
func GroupSubject(id string) Subject { return Subject{'g', id} }

// IsUser reports whether s is a user (else a group).
func (s Subject) IsUser() bool { return s.Kind == 'u' }

// Index names an ordered index that answers prefixes (Tx.IDsByPrefix).
type Index int

const (
	// IndexUserLogin: users by lower-cased login; the prefix is lower-cased.
	IndexUserLogin Index = iota
	// IndexUserName: users by lower-cased display name, then id; the
	// prefix is lower-cased.
	IndexUserName
	// IndexUserExternalID: users with an externalId, by externalId (exact:
	// it is case-sensitive), then id.
	IndexUserExternalID
	// IndexGroupName: groups by lower-cased name; the prefix is lower-cased.
	IndexGroupName
)

// touchedKey and creatingKey are the context keys of Touching and
// Creating.
type (
	touchedKey  struct{}
	creatingKey struct{}
)

// Touching returns ctx noting that the Update it is given to reads and
// changes the user userID (a SCIM write to /Users/{id}). A backend that
// runs concurrent Updates in one transaction may then read each one's user,
// and what the access rules read about it (Tx.ReadAhead), for all of them
// at once before running the first. A hint: results never differ.
func Touching(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, touchedKey{}, userID)
}

// TouchedUser returns the user Touching noted in ctx, or "".
func TouchedUser(ctx context.Context) string {
	id, _ := ctx.Value(touchedKey{}).(string)
	return id
}

// Creating returns ctx noting that the Update it is given to creates a
// user with login: as with Touching, a backend may check the logins of
// concurrent creates for all of them at once. A hint: results never differ.
func Creating(ctx context.Context, login string) context.Context {
	return context.WithValue(ctx, creatingKey{}, login)
}

// CreatedLogin returns the login Creating noted in ctx, or "".
func CreatedLogin(ctx context.Context) string {
	login, _ := ctx.Value(creatingKey{}).(string)
	return login
}

// Store is the persistence contract. Every change runs inside Update as one
// atomic transaction; reads run inside View and see one consistent snapshot.
// Update may call fn more than once (a backend may batch writers and retry a
// failed one alone): fn must assign, not accumulate, state it leaves outside.
type Store interface {
	View(ctx context.Context, fn func(Tx) error) error
	Update(ctx context.Context, fn func(Tx) error) error
	// Backup writes a consistent copy of the whole store to w while others
	// keep reading and writing, and returns the bytes written.
	Backup(ctx context.Context, w io.Writer) (int64, error)
	// Generation increases before a committed Update returns if it changed
	// what resolving a token reads: a token, a permission, a group, or the
	// record or memberships of a user holding a token. While it is
	// unchanged, a token resolved earlier (see auth.Authenticator) resolves
	// the same way. Other writes (users and memberships of users without
	// tokens: what an IdP pushes) may leave it unchanged.
	Generation() uint64
	Close() error
}

// Tx is one transaction. Writes are visible to later reads of the same Tx and
// are discarded unless the function passed to Update returns nil. Iterators
// are valid only inside the transaction; those that decode records yield an
// error and stop when one does not decode.
type Tx interface {
	User(id string) (User, error)
	// UsersByID returns the users of ids in the order of ids, leaving out
	// the ids that name none. A backend that pays a round trip a read
	// reads them in one (see ReadUsers).
	UsersByID(ids []string) ([]User, error)
	// UserByLogin matches logins case-insensitively: logins are unique that way.
	UserByLogin(login string) (User, error)
	// UsersByExternalID returns the users whose externalId equals extID exactly.
	UsersByExternalID(extID string) ([]User, error)
	// PutUser inserts or replaces u, keeping indexes; a login taken by another
	// user is ErrConflict.
	PutUser(u User) error
	// ReadAhead tells a write transaction that the rules will read next
	// what deciding userID's access needs: its groups, the default group,
	// the permissions of the user, its groups and Anyone, and its tokens.
	// A backend that pays a round trip a read fetches them with its next
	// statement; results never differ from reading them when asked.
	ReadAhead(userID string)
	// ReadAheadPage tells a transaction that the caller reads next, for
	// each of users, its groups (GroupsOf), tokens (Tokens) and password
	// failures (Failures): a page of a user list. A backend that pays a
	// round trip a read fetches them for all the users at once; results
	// never differ from reading them when asked.
	ReadAheadPage(users []User)
	// Users yields every user in id order (creation order), starting after
	// the id given (empty: from the first).
	Users(after string) iter.Seq2[User, error]
	// UsersByLogin yields users in lower-cased login order.
	UsersByLogin() iter.Seq2[User, error]
	// IDsByPrefix yields, in index's order, the ids of the users (or
	// groups) whose indexed attribute starts with prefix, reading that index
	// only (see Index).
	IDsByPrefix(index Index, prefix string) iter.Seq[string]
	// IDsWithGrams yields, in id order, the ids of the users the n-gram
	// index keeps under every one of grams (see UserGrams, QueryGrams);
	// nothing when grams is empty.
	IDsWithGrams(grams []string) iter.Seq[string]
	// UsersWithGrams yields the users of IDsWithGrams, in its order, read
	// with their ids where the backend can (one query rather than two).
	UsersWithGrams(grams []string) iter.Seq2[User, error]
	// UsersByName yields users in lower-cased display name order, users of
	// the same name in id order.
	UsersByName() iter.Seq2[User, error]
	CountUsers() (int, error)
	// CountManagedUsers counts the users provisioned through SCIM (Managed).
	CountManagedUsers() (int, error)

	Group(id string) (Group, error)
	GroupByName(name string) (Group, error) // case-insensitive
	GroupsByExternalID(extID string) ([]Group, error)
	PutGroup(g Group) error
	DeleteGroup(id string) error // also removes memberships and permissions
	Groups(after string) iter.Seq2[Group, error]
	// GroupsByName yields groups in lower-cased name order.
	GroupsByName() iter.Seq2[Group, error]
	CountGroups() (int, error)

	// Memberships are the stored ones: the default group's members are
	// derived (the active users) and never stored; IsMember, Members,
	// CountMembers and GroupsOf of package store answer for it.
	AddMember(groupID, userID string) error
	RemoveMember(groupID, userID string) error
	IsMember(groupID, userID string) (bool, error)
	// Members yields the ids of a group's stored members.
	Members(groupID string) iter.Seq[string]
	CountMembers(groupID string) (int, error)
	// GroupsOf yields the ids of the groups a user is a stored member of.
	GroupsOf(userID string) iter.Seq[string]
	// ActiveUsers yields the ids of the active users, in id order: the
	// default group's members.
	ActiveUsers() iter.Seq[string]
	CountActiveUsers() (int, error)

	Grant(s Subject, key PermKey) error
	Revoke(s Subject, key PermKey) error
	// Permissions returns the keys granted to any of subjects, sorted,
	// each once: one lookup for a user's, its groups' and Anyone's.
	Permissions(subjects ...Subject) ([]PermKey, error)
	// Holders yields the subjects holding key.
	Holders(key PermKey) iter.Seq[Subject]

	// PutToken inserts or replaces t; a name the user already gave another
	// token is ErrConflict.
	PutToken(t Token) error
	Token(hash string) (Token, error)
	TokenByName(userID, name string) (Token, error)
	DeleteToken(hash string) error
	Tokens(userID string) ([]Token, error)

	Project(id string) (Project, error)
	// ProjectByKey matches keys case-insensitively: keys are unique that way.
	ProjectByKey(key string) (Project, error)
	// PutProject inserts or replaces p; a key taken by another project is
	// ErrConflict.
	PutProject(p Project) error
	// DeleteProject removes the record only; RemoveProject also revokes its
	// permissions.
	DeleteProject(id string) error
	// Projects yields projects in lower-cased key order.
	Projects() iter.Seq2[Project, error]

	Template(id string) (Template, error)
	TemplateByName(name string) (Template, error) // case-insensitive
	PutTemplate(t Template) error                 // a name taken by another is ErrConflict
	DeleteTemplate(id string) error               // the record only; see RemoveTemplate
	// Templates yields templates in lower-cased name order.
	Templates() iter.Seq2[Template, error]

	Organization(key string) (Organization, error)
	PutOrganization(o Organization) error
	// Organizations yields organisations in key order.
	Organizations() iter.Seq2[Organization, error]

	// Session returns the session of a secret's hash.
	Session(hash string) (Session, error)
	// PutSession inserts or replaces s.
	PutSession(s Session) error
	// DeleteSession removes a session; an unknown hash is no error.
	DeleteSession(hash string) error
	// SessionsOf returns a user's sessions, in hash order.
	SessionsOf(userID string) ([]Session, error)
	// Failures returns the failed password logins counted for login (zero
	// when none).
	Failures(login string) (Failures, error)
	// PutFailures stores login's count; a zero Count deletes it.
	PutFailures(login string, f Failures) error

	// AppendAudit stores e and assigns e.Seq (increasing) by the time the
	// transaction commits (a backend may send the write with the commit).
	AppendAudit(e *AuditEntry) error
	// Audit yields entries from the newest to the oldest.
	Audit() iter.Seq2[AuditEntry, error]
	// PruneAudit deletes up to max of the oldest entries recorded before
	// cutoff and returns how many it deleted.
	PruneAudit(cutoff time.Time, max int) (int, error)
}
