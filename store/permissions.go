package store

import (
	"context"
	"slices"
	"strings"
)

// The permission use cases of the Web API (api/permissions add/remove, user
// and group, global or on a project).

// PermissionChange names a grant or a revocation: Permission to a user
// (Login) or a group (Group; "anyone", any case, is Anyone), globally or on
// the project of ProjectID or ProjectKey.
type PermissionChange struct {
	Login, Group          string
	Permission            string
	ProjectID, ProjectKey string
}

// PermissionTarget resolves the project of id or key (nil: the instance)
// and checks that the caller may manage its permissions: the instance's
// need admin or useradmin, a project's need admin or the project's admin.
func PermissionTarget(tx Tx, caller Caller, id, key string) (*Project, error) {
	if id != "" && key != "" {
		return nil, Errorf(EInvalid, "Project id or project key can be provided, not both.")
	}
	var p *Project
	if id != "" || key != "" {
		var found Project
		var err error
		if id != "" {
			found, err = tx.Project(id)
		} else if found, err = tx.ProjectByKey(key); err == nil && found.Key != key {
			err = ErrNotFound
		}
		if err != nil {
			return nil, Errorf(ENotFound, "Entity not found")
		}
		p = &found
	}
	if caller.Admin {
		return p, nil
	}
	var ok bool
	var err error
	if p == nil {
		ok, err = HasPermission(tx, caller.ID, PermUserAdmin)
	} else {
		ok, err = HasProjectPermission(tx, caller.ID, *p, PermAdmin)
	}
	if err == nil && !ok {
		err = Errorf(EForbidden, "Insufficient privileges")
	}
	return p, err
}

// CheckPermissionName refuses a permission that does not exist on the
// target (p nil: global), with SonarQube's messages.
func CheckPermissionName(p *Project, perm string) error {
	if p == nil && !slices.Contains(GlobalPermissions, perm) {
		return Errorf(EInvalid, "Invalid global permission '%s'. Valid values are [%s]", perm, strings.Join(GlobalPermissions, ", "))
	}
	if p != nil && !slices.Contains(ProjectPermissions, perm) {
		return Errorf(EInvalid, "Invalid project permission '%s'. Valid values are [%s]", perm, strings.Join(ProjectPermissions, ", "))
	}
	return nil
}

// permKey is the stored key of perm on the target.
func permKey(p *Project, perm string) PermKey {
	if p == nil {
		return Global(perm)
	}
	return OnProject(p.ID, perm)
}

// implied reports whether everyone holds perm on the target: Browse and See
// Source Code on a public project.
func implied(p *Project, perm string) bool {
	return p != nil && !p.Private && slices.Contains(PublicPermissions, perm)
}

// subjectOf resolves the user or group of a change.
func subjectOf(tx Tx, c PermissionChange) (Subject, User, error) {
	if c.Login != "" || c.Group == "" {
		u, err := activeUser(tx, c.Login, "User with login '%s' is not found'")
		return UserSubject(u.ID), u, err
	}
	if strings.EqualFold(c.Group, AnyoneGroup) {
		return GroupSubject(AnyoneGroup), User{}, nil
	}
	g, err := localGroup(tx, c.Group, "No group with name '%s'")
	return GroupSubject(g.ID), User{}, err
}

// resolveChange resolves a change's target (checking the caller may manage
// its permissions), its subject and its permission name, in SonarQube's
// order: a user's permission is checked before the user is looked up, a
// group's after.
func resolveChange(tx Tx, caller Caller, c PermissionChange) (p *Project, sub Subject, u User, isUser bool, err error) {
	if p, err = PermissionTarget(tx, caller, c.ProjectID, c.ProjectKey); err != nil {
		return
	}
	isUser = c.Login != "" || c.Group == ""
	if isUser {
		if err = CheckPermissionName(p, c.Permission); err != nil {
			return
		}
	}
	if sub, u, err = subjectOf(tx, c); err != nil || isUser {
		return
	}
	err = CheckPermissionName(p, c.Permission)
	return
}

// GrantPermission grants a permission. Granting what everyone holds on a
// public project changes nothing; Anyone never administers, nor holds
// anything on a private project; a delegated administrator grants only
// what it holds; organisation projects take members only.
func GrantPermission(ctx context.Context, s Store, caller Caller, c PermissionChange) error {
	return s.Update(ctx, func(tx Tx) error {
		p, sub, u, isUser, err := resolveChange(tx, caller, c)
		if err != nil {
			return err
		}
		perm := c.Permission
		switch {
		case sub.ID == AnyoneGroup && perm == PermAdmin:
			return Errorf(EInvalid, "It is not possible to add the 'admin' permission to group 'Anyone'.")
		case sub.ID == AnyoneGroup && p != nil && p.Private:
			return Errorf(EInvalid, "No permission can be granted to Anyone on a private component")
		case implied(p, perm):
			return nil
		case p == nil:
			g, err := NewGuard(tx, caller.User, caller.Admin)
			if err != nil {
				return err
			}
			if err := g.Grant(Global(perm)); err != nil {
				return err
			}
		case isUser:
			if err := CheckOrgMember(tx, p.Organization, u); err != nil {
				return err
			}
		}
		return tx.Grant(sub, permKey(p, perm))
	})
}

// RevokePermission revokes a permission, keeping an administrator of the
// instance and of the project; nobody drops their own admin, nor (but an
// administrator) their own Browse of a private project.
func RevokePermission(ctx context.Context, s Store, caller Caller, c PermissionChange) error {
	return s.Update(ctx, func(tx Tx) error {
		p, sub, u, isUser, err := resolveChange(tx, caller, c)
		if err != nil {
			return err
		}
		perm := c.Permission
		if p != nil {
			if implied(p, perm) {
				return Errorf(EInvalid, "Permission %s can't be removed from a public component", perm)
			}
			if isUser && p.Private && perm == PermBrowse && u.ID == caller.ID && !caller.Admin {
				return Errorf(EInvalid, "Permission 'Browse' cannot be removed from a private project for a project administrator.")
			}
			return revokeProjectPerm(tx, *p, sub, perm)
		}
		if isUser && perm == PermAdmin && u.ID == caller.ID {
			return Errorf(EInvalid, "As an admin, you can't remove your own admin right")
		}
		g, err := NewGuard(tx, caller.User, caller.Admin)
		if err != nil {
			return err
		}
		if err := g.Revoke(Global(perm)); err != nil {
			return err
		}
		msg := "Last group with permission 'admin'. Permission cannot be removed."
		if isUser {
			if err := g.User(u); err != nil {
				return err
			}
			msg = "Last user with permission 'admin'. Permission cannot be removed."
		} else if sub.ID != AnyoneGroup {
			grp, err := tx.Group(sub.ID)
			if err != nil {
				return err
			}
			if err := g.Group(grp); err != nil {
				return err
			}
		}
		if err := tx.Revoke(sub, Global(perm)); err != nil {
			return err
		}
		return EnsureAdmin(tx, msg)
	})
}

// revokeProjectPerm revokes perm on p from s; the last administrator of a
// project keeps its admin permission.
func revokeProjectPerm(tx Tx, p Project, s Subject, perm string) error {
	held, err := tx.Permissions(s)
	if err != nil || !slices.Contains(held, OnProject(p.ID, perm)) {
		return err
	}
	if err := tx.Revoke(s, OnProject(p.ID, perm)); err != nil || perm != PermAdmin {
		return err
	}
	return EnsureProjectAdmin(tx, p, "Last user with permission 'admin' on project '"+p.Key+"'. Permission cannot be removed.")
}
