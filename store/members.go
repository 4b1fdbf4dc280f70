package store

import (
	"iter"
)

// The default group (DefaultGroup, sonar-users) is every active user: its
// membership is derived (Tx.ActiveUsers), never stored. These functions
// answer membership questions for any group, that one included; the Tx
// methods of the same names know stored memberships only.

// defaultGroupID returns the id of the default group ("" when there is none).
func defaultGroupID(tx Tx) string {
	g, err := tx.GroupByName(DefaultGroup)
	if err != nil || g.Name != DefaultGroup {
		return ""
	}
	return g.ID
}

// isDefaultGroup reports whether groupID is the default group.
func isDefaultGroup(tx Tx, groupID string) bool {
	return groupID != "" && groupID != AnyoneGroup && groupID == defaultGroupID(tx)
}

// Membership returns IsMember for one group, to ask about many users: the
// group is looked up once, and the default group's members (the active
// users) need no read at all.
func Membership(tx Tx, groupID string) func(User) (bool, error) {
	if isDefaultGroup(tx, groupID) {
		return func(u User) (bool, error) { return u.Active, nil }
	}
	return func(u User) (bool, error) { return tx.IsMember(groupID, u.ID) }
}

// IsMember reports whether a user belongs to a group.
func IsMember(tx Tx, groupID, userID string) (bool, error) {
	if isDefaultGroup(tx, groupID) {
		u, err := tx.User(userID)
		if IsNotFound(err) {
			return false, nil
		}
		return err == nil && u.Active, err
	}
	return tx.IsMember(groupID, userID)
}

// Members yields the ids of a group's members.
func Members(tx Tx, groupID string) iter.Seq[string] {
	if isDefaultGroup(tx, groupID) {
		return tx.ActiveUsers()
	}
	return tx.Members(groupID)
}

// CountMembers counts a group's members.
func CountMembers(tx Tx, groupID string) (int, error) {
	if isDefaultGroup(tx, groupID) {
		return tx.CountActiveUsers()
	}
	return tx.CountMembers(groupID)
}

// GroupsOf yields the ids of the groups a user belongs to: the default
// group first while the user is active.
func GroupsOf(tx Tx, userID string) iter.Seq[string] {
	return func(yield func(string) bool) {
		u, err := tx.User(userID)
		if err != nil {
			u = User{ID: userID} // no record: its stored memberships only
		}
		for gid := range GroupsOfUsers(tx)(u) {
			if !yield(gid) {
				return
			}
		}
	}
}

// GroupsOfUsers returns GroupsOf for users already read, to ask about
// many: the default group is looked up once, and a user's activity is
// taken from the record given.
func GroupsOfUsers(tx Tx) func(User) iter.Seq[string] {
	def := defaultGroupID(tx)
	return func(u User) iter.Seq[string] {
		return func(yield func(string) bool) {
			if def != "" && u.Active && !yield(def) {
				return
			}
			for gid := range tx.GroupsOf(u.ID) {
				if !yield(gid) {
					return
				}
			}
		}
	}
}
