package store

import (
	"context"
	"strings"
)

// The group use cases of the Web API (api/user_groups). Provisioned groups
// are the IdP's: their name and membership change through SCIM only.

// msgManagedGroup is SonarQube's refusal to delete a provisioned group.
const msgManagedGroup = "Deleting managed groups is not allowed."

// checkGroupName refuses an empty, reserved or look-alike group name.
func checkGroupName(name string) error {
	if strings.TrimSpace(name) == "" {
		return Errorf(EInvalid, "Group name cannot be empty")
	}
	_, err := CleanGroupName(name)
	return err
}

// localGroup finds the group of exactly name; notFound is the message
// (with %s for the name) when there is none.
func localGroup(tx Tx, name, notFound string) (Group, error) {
	return groupOf(tx, ByName(name), notFound)
}

// groupOf finds the group ref names; notFound (with %s for the name)
// answers an unknown name, "Group '<id>' not found" an unknown id.
func groupOf(tx Tx, ref Ref, notFound string) (Group, error) {
	if ref.ID != "" {
		g, err := tx.Group(ref.ID)
		if err != nil {
			return Group{}, Errorf(ENotFound, "Group '%s' not found", ref.ID)
		}
		return g, nil
	}
	g, err := tx.GroupByName(ref.Name)
	if err != nil || g.Name != ref.Name {
		return Group{}, Errorf(ENotFound, notFound, ref.Name)
	}
	return g, nil
}

// notDefault refuses acting on the default group, whose members are the
// active users.
func notDefault(g Group) error {
	if g.Name == DefaultGroup {
		return Errorf(EInvalid, "Default group '%s' cannot be used to perform this action", DefaultGroup)
	}
	return nil
}

// CheckOrganization refuses an organisation key that names none.
func CheckOrganization(tx Tx, org string) error {
	if org == "" {
		return nil
	}
	if _, err := tx.Organization(org); err != nil {
		return Errorf(ENotFound, "No organization found with key: %s", org)
	}
	return nil
}

// mayChangeGroup refuses a caller acting on a group granting what it lacks.
func mayChangeGroup(tx Tx, caller Caller, g Group) error {
	guard, err := NewGuard(tx, caller.User, caller.Admin)
	if err != nil {
		return err
	}
	return guard.Group(g)
}

// CreateGroup creates a local group, in an organisation if org is set.
func CreateGroup(ctx context.Context, s Store, name, description, org string) (Group, error) {
	if err := checkGroupName(name); err != nil {
		return Group{}, err
	}
	var g Group
	err := s.Update(ctx, func(tx Tx) error {
		if err := CheckOrganization(tx, org); err != nil {
			return err
		}
		var err error
		g, err = NewGroup(tx, Group{Name: name, Description: description, Organization: org})
		return err
	})
	return g, err
}

// UpdateGroup renames a local group or changes its description (nil: left
// as it is), and returns it with its member count.
func UpdateGroup(ctx context.Context, s Store, caller Caller, ref Ref, name, description *string) (Group, int, error) {
	var out Group
	var members int
	err := s.Update(ctx, func(tx Tx) error {
		g, err := groupOf(tx, ref, "Could not find a user group with name '%s'.")
		if err != nil {
			return err
		}
		if g.Managed {
			return ErrManaged
		}
		if err := notDefault(g); err != nil {
			return err
		}
		if err := mayChangeGroup(tx, caller, g); err != nil {
			return err
		}
		if name != nil {
			if err := checkGroupName(*name); err != nil {
				return err
			}
			g.Name = *name
		}
		if description != nil {
			g.Description = *description
		}
		if out, err = SaveGroup(tx, g); err != nil {
			return err
		}
		members, err = CountMembers(tx, out.ID)
		return err
	})
	return out, members, err
}

// RemoveGroup deletes a local group (not the default one), keeping an
// administrator of the instance and of every project.
func RemoveGroup(ctx context.Context, s Store, caller Caller, ref Ref) error {
	return s.Update(ctx, func(tx Tx) error {
		g, err := groupOf(tx, ref, "No group with name '%s'")
		if err != nil {
			return err
		}
		if err := notDefault(g); err != nil {
			return err
		}
		if g.Managed {
			return Errorf(EInvalid, msgManagedGroup)
		}
		if err := mayChangeGroup(tx, caller, g); err != nil {
			return err
		}
		return DeleteGroup(tx, g.ID)
	})
}

// membership resolves a local group and an active user for a membership
// change; unknown is the message for a missing user.
func membership(tx Tx, caller Caller, group, user Ref, unknown string) (Group, User, error) {
	g, err := groupOf(tx, group, "No group with name '%s'")
	if err != nil {
		return g, User{}, err
	}
	if g.Managed {
		return g, User{}, ErrManaged
	}
	if err := notDefault(g); err != nil {
		return g, User{}, err
	}
	u, err := activeUserOf(tx, user, unknown)
	if err != nil {
		return g, u, err
	}
	return g, u, mayChangeGroup(tx, caller, g)
}

// AddGroupMember adds a user to a local group (of its organisation, if the
// group has one).
func AddGroupMember(ctx context.Context, s Store, caller Caller, group, user Ref) error {
	return s.Update(ctx, func(tx Tx) error {
		g, u, err := membership(tx, caller, group, user, "Could not find a user with login '%s'")
		if err != nil {
			return err
		}
		if member, err := IsMember(tx, g.ID, u.ID); err != nil || member {
			return firstErr(err, Errorf(EInvalid, "User '%s' is already a member of group '%s'", u.Login, g.Name))
		}
		if err := CheckOrgMember(tx, g.Organization, u); err != nil {
			return err
		}
		return tx.AddMember(g.ID, u.ID)
	})
}

// RemoveGroupMember removes a user from a local group, keeping an
// administrator of the instance and of every project.
func RemoveGroupMember(ctx context.Context, s Store, caller Caller, group, user Ref) error {
	return s.Update(ctx, func(tx Tx) error {
		g, u, err := membership(tx, caller, group, user, "User with login '%s' is not found'")
		if err != nil {
			return err
		}
		if err := MayChange(tx, caller, u); err != nil {
			return err
		}
		return RemoveMembers(tx, g.ID, u.ID)
	})
}

// SetProvisionedMembers makes a provisioned group's members exactly ids, in
// the caller's transaction (so concurrent changes never lose a member). Only
// provisioned users are members of provisioned groups; removals keep an
// administrator of the instance and of every project.
func SetProvisionedMembers(tx Tx, groupID string, ids []string) error {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var drop []string // collected first: removing while iterating would skip some
	for uid := range Members(tx, groupID) {
		if !want[uid] {
			drop = append(drop, uid)
		}
	}
	return ChangeProvisionedMembers(tx, groupID, ids, drop)
}

// ChangeProvisionedMembers adds the users add to a provisioned group and
// removes the users remove, in the caller's transaction, at a cost that
// grows with the users changed, not with the group (what SCIM PATCHes of
// large groups need). Users already in (or out) are left as they are; the
// rules are SetProvisionedMembers'.
func ChangeProvisionedMembers(tx Tx, groupID string, add, remove []string) error {
	for _, uid := range add {
		if !ValidID(uid) {
			return Errorf(EInvalid, "member %q is not a provisioned user", uid)
		}
		if in, err := tx.IsMember(groupID, uid); err != nil || in {
			if err != nil {
				return err
			}
			continue
		}
		if u, err := tx.User(uid); err != nil || !u.Managed {
			return Errorf(EInvalid, "member %q is not a provisioned user", uid)
		}
		if err := tx.AddMember(groupID, uid); err != nil {
			return err
		}
	}
	var drop []string
	for _, uid := range remove {
		if in, err := tx.IsMember(groupID, uid); err != nil || !in {
			if err != nil {
				return err
			}
			continue
		}
		drop = append(drop, uid)
	}
	if len(drop) > 0 {
		return RemoveMembers(tx, groupID, drop...)
	}
	return nil
}
