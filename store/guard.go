package store

import "slices"

// PermUserAdmin is scimgate's delegated administration permission: its
// holders manage local users, groups, tokens and permissions, but only
// within the permissions they hold themselves.
const PermUserAdmin = "useradmin"

// Guard refuses escalation: a caller acting without admin may not create,
// change or grant anything that would hold a permission the caller lacks.
// Refusals are EForbidden. For admins every check passes.
type Guard struct {
	tx     Tx
	caller User
	admin  bool
	held   []string
}

// NewGuard returns the guard of caller inside tx.
func NewGuard(tx Tx, caller User, admin bool) (*Guard, error) {
	g := &Guard{tx: tx, caller: caller, admin: admin}
	if admin {
		return g, nil
	}
	var err error
	g.held, err = UserPermissions(tx, caller.ID)
	return g, err
}

func (g *Guard) refuse(what, perm string) error {
	return Errorf(EForbidden, "No permission: cannot %s holding '%s' by user '%s'", what, perm, g.caller.Login)
}

// lacking returns the first of perms the caller does not hold.
func (g *Guard) lacking(perms []string) string {
	if g.admin {
		return ""
	}
	for _, p := range perms {
		if !slices.Contains(g.held, p) {
			return p
		}
	}
	return ""
}

// Grant checks that the caller may grant perm.
func (g *Guard) Grant(perm string) error {
	if p := g.lacking([]string{perm}); p != "" {
		return Errorf(EForbidden, "No permission: cannot grant '%s' by user '%s'", p, g.caller.Login)
	}
	return nil
}

// Revoke checks that the caller may revoke perm.
func (g *Guard) Revoke(perm string) error {
	if p := g.lacking([]string{perm}); p != "" {
		return Errorf(EForbidden, "No permission: cannot revoke '%s' by user '%s'", p, g.caller.Login)
	}
	return nil
}

// User checks that the caller may change u: u holds nothing the caller lacks.
func (g *Guard) User(u User) error {
	if g.admin {
		return nil
	}
	perms, err := UserPermissions(g.tx, u.ID)
	if err != nil {
		return err
	}
	if p := g.lacking(perms); p != "" {
		return g.refuse("change user '"+u.Login+"'", p)
	}
	return nil
}

// Group checks that the caller may change grp or its members: grp grants
// nothing the caller lacks.
func (g *Guard) Group(grp Group) error {
	if g.admin {
		return nil
	}
	perms, err := g.tx.Permissions(Subject{'g', grp.ID})
	if err != nil {
		return err
	}
	if p := g.lacking(GlobalOnly(perms)); p != "" {
		return g.refuse("change group '"+grp.Name+"'", p)
	}
	return nil
}
