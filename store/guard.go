package store

import (
	"fmt"
	"slices"
	"strings"
)

// PermUserAdmin is scimgate's delegated administration permission: its
// holders manage local users, groups, tokens and permissions, but only
// within the permissions they hold themselves.
const PermUserAdmin = "useradmin"

// Guard refuses escalation: a caller acting without admin may not create,
// change or grant anything that would hold a permission the caller lacks.
// Every scope counts: global permissions, project permissions, template
// entries and organisation memberships, held directly or through groups.
// Refusals are EForbidden. For admins every check passes.
type Guard struct {
	tx     Tx
	caller User
	admin  bool
	held   map[PermKey]bool
}

// NewGuard returns the guard of caller inside tx.
func NewGuard(tx Tx, caller User, admin bool) (*Guard, error) {
	g := &Guard{tx: tx, caller: caller, admin: admin}
	if admin {
		return g, nil
	}
	var err error
	g.held, err = HeldKeys(tx, caller.ID)
	return g, err
}

// HeldKeys returns every permission key a user holds, in every scope:
// granted to it, to one of its groups, or to Anyone.
func HeldKeys(tx Tx, userID string) (map[PermKey]bool, error) {
	subjects := []Subject{UserSubject(userID), GroupSubject(AnyoneGroup)}
	for gid := range GroupsOf(tx, userID) {
		subjects = append(subjects, GroupSubject(gid))
	}
	keys, err := tx.Permissions(subjects...)
	held := make(map[PermKey]bool, len(keys))
	for _, k := range keys {
		held[k] = true
	}
	return held, err
}

// quoted renders a permission key for a refusal: 'admin', or 'admin' on
// project 'web'.
func (g *Guard) quoted(key PermKey) string {
	scope, _, perm := ParsePerm(key)
	if scope == "" {
		return "'" + string(key) + "'"
	}
	if scope == "org" {
		return DescribePerm(g.tx, key)
	}
	d := DescribePerm(g.tx, key) // "perm on project 'k'"
	return fmt.Sprintf("'%s'%s", perm, d[len(perm):])
}

func (g *Guard) refuse(what string, key PermKey) error {
	return Errorf(EForbidden, "No permission: cannot %s holding %s by user '%s'", what, g.quoted(key), g.caller.Login)
}

// lacking returns the first of keys (in a stable order) the caller does not
// hold.
func (g *Guard) lacking(keys []PermKey) PermKey {
	if g.admin {
		return ""
	}
	keys = slices.Clone(keys)
	slices.SortFunc(keys, byScope)
	for _, k := range keys {
		if !g.held[k] {
			return k
		}
	}
	return ""
}

// Grant checks that the caller may grant key.
func (g *Guard) Grant(key PermKey) error {
	if p := g.lacking([]PermKey{key}); p != "" {
		return Errorf(EForbidden, "No permission: cannot grant %s by user '%s'", g.quoted(p), g.caller.Login)
	}
	return nil
}

// Revoke checks that the caller may revoke key.
func (g *Guard) Revoke(key PermKey) error {
	if p := g.lacking([]PermKey{key}); p != "" {
		return Errorf(EForbidden, "No permission: cannot revoke %s by user '%s'", g.quoted(p), g.caller.Login)
	}
	return nil
}

// User checks that the caller may change u, act as u (a token, a password)
// or change its memberships: u holds nothing, in any scope, the caller lacks.
func (g *Guard) User(u User) error {
	if g.admin {
		return nil
	}
	held, err := HeldKeys(g.tx, u.ID)
	if err != nil {
		return err
	}
	if p := g.lacking(keysOf(held)); p != "" {
		return g.refuse("change user '"+u.Login+"'", p)
	}
	return nil
}

// Group checks that the caller may change grp or its members: grp grants
// nothing, in any scope, the caller lacks.
func (g *Guard) Group(grp Group) error {
	if g.admin {
		return nil
	}
	perms, err := g.tx.Permissions(GroupSubject(grp.ID))
	if err != nil {
		return err
	}
	if p := g.lacking(perms); p != "" {
		return g.refuse("change group '"+grp.Name+"'", p)
	}
	return nil
}

func keysOf(m map[PermKey]bool) []PermKey {
	out := make([]PermKey, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// byScope orders global permissions first, in SonarQube's order, then
// scoped keys.
func byScope(a, b PermKey) int {
	ra, rb := slices.Index(GlobalPermissions, string(a)), slices.Index(GlobalPermissions, string(b))
	if ra < 0 {
		ra = len(GlobalPermissions)
	}
	if rb < 0 {
		rb = len(GlobalPermissions)
	}
	if ra != rb {
		return ra - rb
	}
	return strings.Compare(string(a), string(b))
}
