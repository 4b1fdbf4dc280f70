package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The rules in this file hold whichever API acts: both adapters call them
// inside one Update, so a refused change leaves nothing half-written.

// Now is scimgate's one clock: rules, the audit trail, authentication,
// sessions and lockouts all read it; tests replace it (and restore it).
var Now = func() time.Time { return time.Now().UTC().Truncate(time.Second) }

// NewUser fills in id, timestamps and version, stores u, and adds it to the
// default group. The login is normalised and checked (CleanLogin).
func NewUser(tx Tx, u User) (User, error) {
	var err error
	if u.Login, err = CleanLogin(u.Login); err != nil {
		return User{}, err
	}
	fresh := u.ID == ""
	if fresh {
		u.ID = NewID()
	}
	now := Now()
	u.Created, u.Updated, u.Version = now, now, 1
	// The default group follows: its members are the active users.
	if c, ok := tx.(creator); ok && fresh {
		return u, c.createUser(u)
	}
	return u, tx.PutUser(u)
}

// SaveUser stores a changed user, bumping its version and modification time.
// A changed login is normalised and checked (CleanLogin).
func SaveUser(tx Tx, u User) (User, error) {
	old, err := tx.User(u.ID)
	if err != nil && !IsNotFound(err) {
		return User{}, err
	}
	if old.Login != u.Login {
		if u.Login, err = CleanLogin(u.Login); err != nil {
			return User{}, err
		}
	}
	u.Updated = Now()
	u.Version++
	return u, tx.PutUser(u)
}

// NewGroup fills in id, timestamps and version and stores g. The name is
// normalised and checked (CleanGroupName).
func NewGroup(tx Tx, g Group) (Group, error) {
	var err error
	if g.Name, err = CleanGroupName(g.Name); err != nil {
		return Group{}, err
	}
	if g.ID == "" {
		g.ID = NewID()
	}
	now := Now()
	g.Created, g.Updated, g.Version = now, now, 1
	return g, tx.PutGroup(g)
}

// SaveGroup stores a changed group, bumping its version. A changed name is
// normalised and checked (CleanGroupName).
func SaveGroup(tx Tx, g Group) (Group, error) {
	old, err := tx.Group(g.ID)
	if err != nil && !IsNotFound(err) {
		return Group{}, err
	}
	if old.Name != g.Name {
		if g.Name, err = CleanGroupName(g.Name); err != nil {
			return Group{}, err
		}
	}
	g.Updated = Now()
	g.Version++
	return g, tx.PutGroup(g)
}

// HasPermission reports whether an active user holds a global permission,
// directly or through one of its groups.
func HasPermission(tx Tx, userID, perm string) (bool, error) {
	for s := range tx.Holders(Global(perm)) {
		switch {
		case s.IsUser() && s.ID == userID, !s.IsUser() && s.ID == AnyoneGroup:
			return true, nil
		case !s.IsUser():
			if ok, err := IsMember(tx, s.ID, userID); err != nil || ok {
				return ok, err
			}
		}
	}
	return false, nil
}

// UserPermissions returns the global permissions a user holds, directly or
// through groups, in SonarQube's order.
func UserPermissions(tx Tx, userID string) ([]string, error) {
	var out []string
	for _, p := range GlobalPermissions {
		ok, err := HasPermission(tx, userID, p)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// EnsureAdmin fails with msg when no active user holds admin any more. Call it
// after a change inside the same transaction; the error rolls the change back.
func EnsureAdmin(tx Tx, msg string) error {
	active := func(id string) (bool, error) {
		u, err := tx.User(id)
		if IsNotFound(err) {
			return false, nil
		}
		return err == nil && u.Active, err
	}
	for s := range tx.Holders(PermAdmin) {
		if s.IsUser() {
			if ok, err := active(s.ID); err != nil || ok {
				return err
			}
			continue
		}
		for uid := range Members(tx, s.ID) {
			if ok, err := active(uid); err != nil || ok {
				return err
			}
		}
	}
	return Errorf(EInvalid, "%s", msg)
}

// Deactivate turns a user off: its tokens and global permissions go, and so do
// its memberships of local groups (memberships of managed groups belong to the
// IdP and stay). The caller cannot deactivate itself, nor the last admin of
// the instance or of a project (the user would keep a grant nobody can use).
func Deactivate(tx Tx, callerID string, u User, anonymize bool) (User, error) {
	if u.ID == callerID {
		return User{}, Errorf(EInvalid, "Self-deactivation is not possible")
	}
	tx.ReadAhead(u.ID) // what follows reads, in as few round trips as the store can
	held, err := HeldKeys(tx, u.ID)
	if err != nil {
		return User{}, err
	}
	tokens, err := tx.Tokens(u.ID)
	if err != nil {
		return User{}, err
	}
	for _, t := range tokens {
		if err := tx.DeleteToken(t.Hash); err != nil {
			return User{}, err
		}
	}
	perms, err := tx.Permissions(UserSubject(u.ID))
	if err != nil {
		return User{}, err
	}
	for _, p := range perms {
		if err := tx.Revoke(UserSubject(u.ID), p); err != nil {
			return User{}, err
		}
	}
	var local []string // collected first: removing while iterating would skip some
	for gid := range GroupsOf(tx, u.ID) {
		g, err := tx.Group(gid)
		if err != nil {
			return User{}, err
		}
		if !g.Managed && g.Name != DefaultGroup { // the default group's members are the active users
			local = append(local, gid)
		}
	}
	for _, gid := range local {
		if err := tx.RemoveMember(gid, u.ID); err != nil {
			return User{}, err
		}
	}
	u.Active = false
	if !u.Managed {
		u.Email = "" // SonarQube nulls the email and password of deactivated local users
		u.PasswordHash = ""
	}
	if anonymize {
		u = anonymized(u)
	}
	u, err = SaveUser(tx, u)
	if err != nil {
		return u, err
	}
	return u, EnsureAdmins(tx, held, "User is last administrator, and cannot be deactivated",
		"User is last administrator of project '%s', and cannot be deactivated")
}

// SetActive saves a changed user, running the deactivation or reactivation
// rules when its active state changes (deprovisioning and reprovisioning).
func SetActive(tx Tx, callerID string, u User, active bool) (User, error) {
	switch {
	case u.Active && !active:
		return Deactivate(tx, callerID, u, false)
	case !u.Active && active:
		return Reactivate(tx, u)
	}
	return SaveUser(tx, u)
}

// Reactivate turns a user back on and returns it to the default group.
func Reactivate(tx Tx, u User) (User, error) {
	u.Active = true
	return SaveUser(tx, u) // back in the default group: its members are the active users
}

// anonymized is u with its identity replaced by a random sq-removed-XXXXXX,
// as SonarQube anonymises deactivated users.
func anonymized(u User) User {
	anon := "sq-removed-" + randomAlnum(6)
	u.Login, u.Name, u.ExternalLogin, u.ExternalID = anon, anon, anon, ""
	u.ExternalProvider, u.Local, u.Managed, u.SCIM, u.Email = "sonarqube", true, false, nil, ""
	return u
}

// Anonymize replaces the identity of a deactivated user (login, name,
// external identity) by a random sq-removed-XXXXXX.
func Anonymize(tx Tx, u User) (User, error) {
	if u.Active {
		return User{}, Errorf(EInvalid, "User '%s' is not deactivated", u.Login)
	}
	return SaveUser(tx, anonymized(u))
}

func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Bootstrap prepares an empty store as SonarQube's first start does: the
// groups sonar-users (scan, provisioning) and sonar-administrators (admin,
// gateadmin, profileadmin, provisioning), the user admin, member of
// sonar-administrators and holding admin itself, and the default permission
// template. It returns the
// admin password it set (password, or a random one when empty) and whether it
// did anything.
func Bootstrap(ctx context.Context, s Store, password string) (string, bool, error) {
	created := false
	err := s.Update(ctx, func(tx Tx) error {
		created = false // fn may run again: another replica may have bootstrapped meanwhile
		n, err := tx.CountUsers()
		if err != nil || n > 0 {
			return err
		}
		created = true
		if password == "" {
			password = RandomPassword(0)
		}
		hash, err := HashPassword(password)
		if err != nil {
			return err
		}
		users, err := NewGroup(tx, Group{Name: DefaultGroup, Description: "Every authenticated user automatically belongs to this group"})
		if err != nil {
			return err
		}
		admins, err := NewGroup(tx, Group{Name: "sonar-administrators", Description: "System administrators"})
		if err != nil {
			return err
		}
		admin, err := NewUser(tx, User{Login: "admin", Name: "Administrator", Active: true, Local: true,
			ExternalLogin: "admin", ExternalProvider: "sonarqube", PasswordHash: hash})
		if err != nil {
			return err
		}
		if err := tx.AddMember(admins.ID, admin.ID); err != nil {
			return err
		}
		for gid, perms := range map[string][]string{
			admins.ID: {PermAdmin, PermGateAdmin, PermProfileAdmin, PermProvisioning},
			users.ID:  {PermProvisioning, PermScan},
		} {
			for _, perm := range perms {
				if err := tx.Grant(GroupSubject(gid), Global(perm)); err != nil {
					return err
				}
			}
		}
		if err := bootstrapTemplate(tx, admins.ID); err != nil {
			return err
		}
		return tx.Grant(UserSubject(admin.ID), PermAdmin)
	})
	return password, created, err
}

// bootstrapTemplate creates SonarQube's "Default template": administrators
// administer new projects; sonar-users browse them, see their source and
// administer their issues and security hotspots.
func bootstrapTemplate(tx Tx, adminsID string) error {
	def, err := tx.GroupByName(DefaultGroup)
	if err != nil {
		return err
	}
	now := Now()
	t := Template{ID: NewID(), Name: "Default template", Description: "This permission template will be used as default when no other permission configuration is available",
		Default: true, Created: now, Updated: now}
	if err := tx.PutTemplate(t); err != nil {
		return err
	}
	entries := map[string][]string{
		adminsID: {PermAdmin},
		def.ID:   {PermBrowse, PermCodeViewer, "issueadmin", "securityhotspotadmin"},
	}
	for gid, perms := range entries {
		for _, perm := range perms {
			if err := tx.Grant(GroupSubject(gid), InTemplate(t.ID, perm)); err != nil {
				return err
			}
		}
	}
	return nil
}

// FoldLogin is the key under which logins and group names are unique.
func FoldLogin(s string) string { return strings.ToLower(s) }

// EnsureAdmins fails when a change took away the last active administrator
// of the instance or of a project. held are the permission keys that the
// users or groups losing something held before the change (HeldKeys,
// GroupKeys): only what they held is checked. globalMsg refuses for the
// instance; projectMsg, with %s for the project key, for a project.
func EnsureAdmins(tx Tx, held map[PermKey]bool, globalMsg, projectMsg string) error {
	if held[PermAdmin] {
		if err := EnsureAdmin(tx, globalMsg); err != nil {
			return err
		}
	}
	keys := keysOf(held)
	slices.Sort(keys)
	for _, k := range keys {
		scope, id, perm := ParsePerm(k)
		if scope != "project" || perm != PermAdmin {
			continue
		}
		p, err := tx.Project(id)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if err := EnsureProjectAdmin(tx, p, fmt.Sprintf(projectMsg, p.Key)); err != nil {
			return err
		}
	}
	return nil
}

// GroupKeys returns the permission keys granted to a group, as a set.
func GroupKeys(tx Tx, groupID string) (map[PermKey]bool, error) {
	keys, err := tx.Permissions(GroupSubject(groupID))
	held := make(map[PermKey]bool, len(keys))
	for _, k := range keys {
		held[k] = true
	}
	return held, err
}

// RemoveMembers removes users from a group. The instance and every project
// keep an active administrator, or nothing is removed.
func RemoveMembers(tx Tx, groupID string, userIDs ...string) error {
	held, err := GroupKeys(tx, groupID)
	if err != nil {
		return err
	}
	for _, uid := range userIDs {
		if err := tx.RemoveMember(groupID, uid); err != nil {
			return err
		}
	}
	return EnsureAdmins(tx, held, "The last administrator user cannot be removed", "The last administrator of project '%s' cannot be removed")
}

// DeleteGroup deletes a group with its memberships and permissions. The
// instance and every project keep an active administrator, or nothing is
// deleted.
func DeleteGroup(tx Tx, groupID string) error {
	held, err := GroupKeys(tx, groupID)
	if err != nil {
		return err
	}
	if err := tx.DeleteGroup(groupID); err != nil {
		return err
	}
	return EnsureAdmins(tx, held, "The last system admin group cannot be deleted", "The last administrator group of project '%s' cannot be deleted")
}
